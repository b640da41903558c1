"""Power-of-two quantizer of the layer input (``docs/datapath.md`` section 4).

Golden twin: ``fewmul.golden.quantizer.quantize``. One quantizer per array column turns ``x[j]``
into ``Q(x[j]) = (-1)^negative 2^-shift`` (or an explicit zero) for the weight update.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent

__all__ = ["Quantizer"]


class Quantizer(ConfigComponent):
    """Combinational power-of-two quantizer, stochastic or deterministic (``cfg.quantizer``).

    Parameters
    ----------
    cfg : fewmul.config.Config
        ``act_bits``, ``rand_bits``, ``shift_bits`` and ``quantizer`` are used.

    Ports
    -----
    x : In(signed(act_bits))
        Layer input, ``F = act_bits - 1`` fraction bits.
    rand : In(rand_bits)
        The input's QUANT draw ``q``; ignored by the deterministic quantizer.
    negative : Out(1)
        ``x < 0``.
    shift : Out(range(max_shift + 1))
        ``min(F - (e + up), max_shift)``, ``e`` the leading-one position of ``|x|``; 0 for zero.
    is_zero : Out(1)
        ``x == 0``: the input contributes nothing to the update.

    The ``B`` bits below the leading one, ``align(frac, e, B)``, are the normalised magnitude's
    bits ``F-1 .. F-B``: one constant slice per leading-one position, selected by a priority
    chain, so no variable shifter is needed.

    Latency 0 (combinational); one input per cycle.
    """

    latency = 0

    def members(self, cfg):
        return {
            "x": In(signed(cfg.act_bits)),
            "rand": In(cfg.rand_bits),
            "negative": Out(1),
            "shift": Out(range(cfg.max_shift + 1)),
            "is_zero": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        frac_bits, bits = cfg.act_frac, cfg.rand_bits
        magnitude = Signal(frac_bits + 1)                 # |x| in [0, 2^F]
        m.d.comb += magnitude.eq(Mux(self.x < 0, -self.x, self.x))
        leading = Signal(range(frac_bits + 1))            # e
        below = Signal(bits)                              # align(frac, e, B)
        half_bit = Signal()                               # bit e-1 of |x| (0 for e = 0)
        for e in range(frac_bits + 1):                    # the last true If wins: priority
            with m.If(magnitude[e]):
                frac = magnitude[:e]                      # the e bits below the leading one
                if e >= bits:
                    aligned = frac[e - bits:]
                else:
                    aligned = frac << (bits - e) if e else 0
                m.d.comb += [leading.eq(e), below.eq(aligned),
                             half_bit.eq(magnitude[e - 1] if e else 0)]
        up = Signal()
        if cfg.quantizer == "stochastic":
            m.d.comb += up.eq(self.rand < below)
        else:
            m.d.comb += up.eq(half_bit)
        exponent = Signal(range(frac_bits + 2))
        m.d.comb += exponent.eq(leading + up)
        raw_shift = Signal(range(frac_bits + 1))
        m.d.comb += raw_shift.eq(frac_bits - exponent)    # e + up <= F always
        is_zero = magnitude == 0
        m.d.comb += [
            self.negative.eq(self.x < 0),
            self.is_zero.eq(is_zero),
            self.shift.eq(Mux(is_zero, 0, Mux(raw_shift > cfg.max_shift, cfg.max_shift,
                                               raw_shift))),
        ]
        return m
