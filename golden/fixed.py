"""Fixed-point helpers shared by every golden operation (``docs/datapath.md`` section 2)."""

import numpy as np

__all__ = ["sat", "rshr", "align", "sat_range"]


def sat_range(bits):
    """(lowest, highest) value of a signed ``bits``-wide integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def sat(value, bits):
    """Clamp to a signed ``bits``-wide integer: saturate, never wrap."""
    lo, hi = sat_range(bits)
    return np.minimum(np.maximum(np.asarray(value, dtype=np.int64), lo), hi)   # (np.clip is slow)


def rshr(value, shift):
    """Right shift rounding half up: ``(v + 2^(s-1)) >> s`` (``v`` for ``s == 0``)."""
    value = np.asarray(value, dtype=np.int64)
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def align(value, frm, to):
    """Move a ``frm``-bit field to ``to`` bits, truncating or padding low bits.

    ``frm`` may be an array (the quantizer aligns each input by its own leading-one position).
    """
    value = np.asarray(value, dtype=np.int64)
    frm = np.asarray(frm, dtype=np.int64)
    down = np.maximum(frm - to, 0)
    up = np.maximum(to - frm, 0)
    return (value >> down) << up
