"""Barrel shifter: arithmetic right shift by a variable amount, keeping the shifted-out bits.

The weight update of fewmul is ``δ · Q(x)`` with ``Q(x)`` a signed power of two, so the multiply
becomes this shift (``docs/datapath.md`` section 8). Golden twin: ``fewmul.golden.shifter``.
"""

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._checks import refusable

__all__ = ["Shifter"]


class Shifter(wiring.Component):
    """Combinational arithmetic right shift with ``frac_bits`` of the shifted-out bits kept.

    Parameters
    ----------
    width : int
        Width of the signed input ``value`` and output ``whole``.
    max_shift : int
        Largest shift; ``shift`` inputs above it (possible when ``max_shift + 1`` is not a power
        of two) are clamped to it.
    frac_bits : int
        Width of ``fraction``: the top bits of what was shifted out (0: no ``fraction`` port).

    Ports
    -----
    value : In(signed(width))
    shift : In(range(max_shift + 1))
    whole : Out(signed(width))
        ``floor(value / 2^shift)``.
    fraction : Out(frac_bits)
        ``floor((value mod 2^shift) · 2^frac_bits / 2^shift)``, for stochastic rounding.

    Latency 0 (combinational); one result per cycle.
    """

    latency = 0

    @refusable
    def __init__(self, *, width, max_shift, frac_bits=0):
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= 64:
            raise ValueError(f"width must be an integer in [1, 64], not {width!r}")
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative integer, not {max_shift!r}")
        if isinstance(frac_bits, bool) or not isinstance(frac_bits, int) or frac_bits < 0:
            raise ValueError(f"frac_bits must be a non-negative integer, not {frac_bits!r}")
        self._width = width
        self._max_shift = max_shift
        self._frac_bits = frac_bits
        members = {
            "value": In(signed(width)),
            "shift": In(range(max_shift + 1)),
            "whole": Out(signed(width)),
        }
        if frac_bits:
            members["fraction"] = Out(frac_bits)
        super().__init__(members)

    @property
    def width(self):
        return self._width

    @property
    def max_shift(self):
        return self._max_shift

    @property
    def frac_bits(self):
        return self._frac_bits

    def elaborate(self, platform):
        m = Module()
        amount = Mux(self.shift > self._max_shift, self._max_shift, self.shift)
        wide = (self.value << self._frac_bits) >> amount        # arithmetic: value is signed
        m.d.comb += self.whole.eq(wide[self._frac_bits:])
        if self._frac_bits:
            m.d.comb += self.fraction.eq(wide[:self._frac_bits])
        return m
