"""Weight sampling to {-1, +1} or {-1, 0, +1} (``docs/datapath.md`` section 3).

Golden twin: ``fewmul.golden.sampler.sample_signs``. One sampler sits in every processing
element: the draw ``r = u[j] XOR v[i]`` and one ``B``-bit compare, no adder on the weight.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent

__all__ = ["Sampler"]


class Sampler(ConfigComponent):
    """Combinational sign sampler of one weight.

    Parameters
    ----------
    cfg : fewmul.config.Config
        ``weights`` (binary / ternary), ``sampling`` (stochastic / deterministic),
        ``weight_bits`` and ``rand_bits`` are used.

    Ports
    -----
    weight : In(signed(weight_bits))
        Hidden weight, ``weight_bits - 1`` fraction bits.
    rand : In(rand_bits)
        The PE's draw ``r[i, j]``; ignored in deterministic sampling.
    deterministic : In(1)
        Force deterministic signs (inference) when ``cfg.sampling`` is stochastic.
    nonzero : Out(1)
        ``s != 0`` (always 1 for binary weights).
    negative : Out(1)
        ``s == -1``.

    The sign is ``s = 0 if not nonzero else (-1 if negative else +1)``.

    Binary stochastic: ``s = +1 iff r < tB``, ``tB`` = the top ``B`` bits of the offset-binary
    weight (the sign bit inverted: no adder). Ternary stochastic: ``s = sign(w) iff r < mB``,
    ``mB = align(|w|, Wf, B)``. For ``w < 0``, ``|w| = ~w + 1``, so ``mB = (~w >> k) + c`` with
    ``k = Wf - B`` and ``c`` = "the low ``k`` bits of ``w`` are zero": the compare takes ``c`` as
    a carry instead of negating the weight.

    Latency 0 (combinational); one sample per cycle.
    """

    latency = 0

    def members(self, cfg):
        return {
            "weight": In(signed(cfg.weight_bits)),
            "rand": In(cfg.rand_bits),
            "deterministic": In(1),
            "nonzero": Out(1),
            "negative": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        w, r = self.weight, self.rand
        wb, wf, bits = cfg.weight_bits, cfg.weight_frac, cfg.rand_bits
        sign = w[-1]
        stochastic = Signal()
        if cfg.sampling == "stochastic":
            m.d.comb += stochastic.eq(~self.deterministic)

        if cfg.weights == "binary":
            # tB = align(w + 2^Wf, weight_bits, B): the offset-binary weight's top B bits.
            offset = Cat(w[:-1], ~sign)                              # w + 2^Wf, unsigned
            if wb >= bits:
                t_b = offset[wb - bits:]
            else:
                t_b = Cat(Const(0, bits - wb), offset)
            take_plus = Mux(stochastic, r < t_b, ~sign)
            m.d.comb += [self.nonzero.eq(1), self.negative.eq(~take_plus)]
            return m

        # Ternary: m = |w| in [0, 2^Wf]; mB = align(m, Wf, B).
        if wf >= bits:
            k = wf - bits
            ones = Signal(wf - k)                                    # B bits of w above k
            m.d.comb += ones.eq(w[k:wf])
            low_zero = (w[:k] == 0) if k else 1
            # w >= 0: mB = w >> k (the sign bit is 0, w[wf] is the sign, so mB < 2^B).
            # w <  0: mB = (~w >> k) + low_zero, up to 2^B (w = -2^Wf).
            flipped = Signal(bits)
            m.d.comb += flipped.eq(Mux(sign, ~ones, ones))
            carry = Signal()
            m.d.comb += carry.eq(sign & low_zero)
            keep_stochastic = Cat(r, 0) < (flipped + carry)
        else:
            magnitude = Signal(wf + 1)
            m.d.comb += magnitude.eq(Mux(sign, -w, w))
            keep_stochastic = r < (magnitude << (bits - wf))
        half = 1 << (wf - 1) if wf >= 1 else 0
        # Deterministic: 2|w| >= 2^Wf, i.e. w >= 2^(Wf-1) or w <= -2^(Wf-1).
        keep_nearest = (w >= half) | (w <= -half) if wf >= 1 else (w != 0)
        keep = Mux(stochastic, keep_stochastic, keep_nearest)
        m.d.comb += [self.nonzero.eq(keep), self.negative.eq(sign & keep)]
        return m
