"""Per-layer constant tables: a Python list indexed by a signal (a ROM of ``Const``)."""

from amaranth.hdl import Array, Const

__all__ = ["const_table"]


def const_table(values, width=None):
    """``Array`` of ``Const`` over ``values`` (non-negative), ``width`` bits each (default: the
    largest value's bit length, at least 1); index it with a signal."""
    values = list(values)
    width = width or max(1, max(values).bit_length())
    return Array(Const(v, width) for v in values)
