"""One processing element of the array: a stored weight, its sampler and two sign-flip muxes.

``docs/datapath.md`` sections 3, 5, 7. The weight is one stage of its column's shift chain (load,
read-back and update rotate the column through the column unit of ``hw/array.py``), so the PE
itself holds no adder: the forward and backward products ``s x`` and ``s δ`` are multiplexers
choosing among ``x``, ``-x`` (negated once per column) and 0, and ``δ``, ``-δ`` (once per row)
and 0, registered into the row and column adder trees.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .sampler import Sampler

__all__ = ["PE"]


class PE(ConfigComponent):
    """Weight-stationary multiplier-free processing element ``(i, j)``.

    Parameters
    ----------
    cfg : fewmul.config.Config

    Ports
    -----
    weight_in : In(signed(weight_bits))
        The weight of the next PE up the column chain (row ``i + 1``), or the column unit's.
    rotate : In(1)
        Shift the column chain: ``weight <= weight_in``.
    weight : Out(signed(weight_bits))
        The stored weight ``w[i, j]`` (reset-less; 0 at power-up).
    u, v : In(rand_bits)
        Column draw ``u[j]`` and row draw ``v[i]``; the PE's draw is ``u XOR v``.
    deterministic : In(1)
        Deterministic signs (inference).
    x : In(signed(act_bits)), x_neg : In(signed(act_bits + 1))
        ``x[j]`` and ``-x[j]`` (shared by the column).
    delta : In(signed(err_bits)), delta_neg : In(signed(err_bits + 1))
        ``δ[i]`` and ``-δ[i]`` (shared by the row).
    forward : Out(signed(act_bits + 1))
        ``s[i, j] x[j]``, registered.
    backward : Out(signed(err_bits + 1))
        ``s[i, j] δ[i]``, registered, with the same ``s``.

    Latency 1 (the products are registered); one product pair per cycle.
    """

    latency = 1

    def members(self, cfg):
        bits = cfg.rand_bits
        return {
            "weight_in": In(signed(cfg.weight_bits)),
            "rotate": In(1),
            "weight": Out(signed(cfg.weight_bits)),
            "u": In(bits),
            "v": In(bits),
            "deterministic": In(1),
            "x": In(signed(cfg.act_bits)),
            "x_neg": In(signed(cfg.act_bits + 1)),
            "delta": In(signed(cfg.err_bits)),
            "delta_neg": In(signed(cfg.err_bits + 1)),
            "forward": Out(signed(cfg.act_bits + 1)),
            "backward": Out(signed(cfg.err_bits + 1)),
        }

    def elaborate(self, platform):
        m = Module()
        weight = Signal(signed(self._cfg.weight_bits), reset_less=True)
        with m.If(self.rotate):
            m.d.sync += weight.eq(self.weight_in)
        m.d.comb += self.weight.eq(weight)

        m.submodules.sampler = sampler = Sampler(self._cfg)
        m.d.comb += [
            sampler.weight.eq(weight),
            sampler.rand.eq(self.u ^ self.v),
            sampler.deterministic.eq(self.deterministic),
        ]
        forward = Signal.like(self.forward, reset_less=True)
        backward = Signal.like(self.backward, reset_less=True)
        m.d.sync += [
            forward.eq(Mux(sampler.nonzero, Mux(sampler.negative, self.x_neg, self.x), 0)),
            backward.eq(Mux(sampler.nonzero,
                            Mux(sampler.negative, self.delta_neg, self.delta), 0)),
        ]
        m.d.comb += [self.forward.eq(forward), self.backward.eq(backward)]
        return m
