"""One processing element of the streaming tile pipeline: sample, sign-flip, update.

``docs/datapath.md`` sections 3, 5, 7, 8. Unlike the weight-stationary :class:`fewmul.hw.pe.PE`
it stores no weight: the weight ``w[i, j]`` arrives with every tile from the engine's weight
banks, and the PE returns its products and, four cycles later, the updated weight, which the
engine writes back (a pipelined read-modify-write). Per PE: the :class:`~fewmul.hw.sampler.Sampler`
(one XOR, one compare), two sign-flip multiplexers (forward ``s x``, backward ``s δ``, from the
same sign), and its own update unit (:class:`~fewmul.hw.update.UpdateShift` barrel shift,
:class:`~fewmul.hw.update.UpdateRound`, saturating add), so a whole tile is updated per cycle.

Stages (each ends in a register; the caller provides the per-stage inputs, which are shared by
a row or a column and delayed there, once per lane rather than once per PE):

====== =========================================================== ==========================
stage  work                                                        inputs used
====== =========================================================== ==========================
1      sample ``s`` from ``weight`` and ``u XOR v``; products       ``weight``, ``u``, ``v``,
       ``s x``, ``s δ``                                             ``x``/``x_neg``, ``δ``/``-δ``
2      sign flip by ``Q(x)``'s sign, barrel shift                  ``update_*`` (stage-2 lane
                                                                    values)
3      round against ``ρ = u' XOR v'``                             ``u2``, ``v2``, ``is_zero``
4      ``sat(w + step)`` and the saturation flag                   (the weight, delayed)
====== =========================================================== ==========================

Latency: products 1 (:attr:`TilePE.product_latency`), updated weight 4
(:attr:`TilePE.update_latency`); one tile element per cycle.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .adder_tree import delay
from .sampler import Sampler
from .update import UpdateRound, UpdateShift, saturating_add

__all__ = ["TilePE"]


class TilePE(ConfigComponent):
    """Streaming multiplier-free processing element (see the module docstring).

    Ports
    -----
    weight : In(signed(weight_bits))
        ``w[i, j]`` of the tile entering stage 1.
    u, v : In(rand_bits)
        Sampling draws ``u[j]``, ``v[i]`` (stage 1).
    deterministic : In(1)
        Deterministic signs (inference; stage 1).
    x : In(signed(act_bits)), x_neg : In(signed(act_bits + 1))
        ``x[j]`` and ``-x[j]`` (stage 1).
    delta : In(signed(err_bits)), delta_neg : In(signed(err_bits + 1))
        ``δ[i]`` and ``-δ[i]`` (stage 1).
    forward : Out(signed(act_bits + 1)), backward : Out(signed(err_bits + 1))
        ``s x`` and ``s δ`` (after stage 1).
    update_negative, update_shift : In
        ``Q(x[j])``'s sign and shift (stage 2).
    update_delta, update_delta_neg : In
        ``δ[i]`` and ``-δ[i]`` (stage 2).
    lr_offset : In(range(lr_range + 1))
        Run-time learning-rate offset (stage 2).
    update_rand : In(rand_bits), update_zero : In(1)
        ``ρ[i, j] = u'[j] XOR v'[i]`` and ``Q(x[j])`` is zero (stage 3).
    updated : Out(signed(weight_bits)), clipped : Out(1)
        ``sat(w + step)`` and whether the exact sum saturated (after stage 4).
    """

    product_latency = 1
    update_latency = 4

    def members(self, cfg):
        bits = cfg.rand_bits
        return {
            "weight": In(signed(cfg.weight_bits)),
            "u": In(bits),
            "v": In(bits),
            "deterministic": In(1),
            "x": In(signed(cfg.act_bits)),
            "x_neg": In(signed(cfg.act_bits + 1)),
            "delta": In(signed(cfg.err_bits)),
            "delta_neg": In(signed(cfg.err_bits + 1)),
            "forward": Out(signed(cfg.act_bits + 1)),
            "backward": Out(signed(cfg.err_bits + 1)),
            "update_negative": In(1),
            "update_shift": In(range(cfg.max_shift + 1)),
            "update_delta": In(signed(cfg.err_bits)),
            "update_delta_neg": In(signed(cfg.err_bits + 1)),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "update_rand": In(bits),
            "update_zero": In(1),
            "updated": Out(signed(cfg.weight_bits)),
            "clipped": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()

        # stage 1: sample, products
        m.submodules.sampler = sampler = Sampler(cfg)
        m.d.comb += [
            sampler.weight.eq(self.weight),
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

        # stage 2: sign flip by Q(x)'s sign and barrel shift
        m.submodules.shift = shift = UpdateShift(cfg)
        m.d.comb += [
            shift.value.eq(Mux(self.update_negative, self.update_delta_neg, self.update_delta)),
            shift.shift.eq(self.update_shift),
            shift.lr_offset.eq(self.lr_offset),
        ]
        whole = Signal.like(shift.whole, reset_less=True)
        fraction = Signal.like(shift.fraction, reset_less=True)
        carry = Signal(reset_less=True)
        m.d.sync += [whole.eq(shift.whole), fraction.eq(shift.fraction), carry.eq(shift.carry)]

        # stage 3: rounding
        m.submodules.round = round_ = UpdateRound(cfg)
        m.d.comb += [
            round_.whole.eq(whole), round_.fraction.eq(fraction), round_.carry.eq(carry),
            round_.rand.eq(self.update_rand), round_.is_zero.eq(self.update_zero),
        ]
        step = Signal.like(round_.step, reset_less=True)
        m.d.sync += step.eq(round_.step)

        # stage 4: saturating add to the weight, delayed alongside stages 1-3
        weight = delay(m, self.weight, 3, "weight")
        total, clip = saturating_add(m, weight, step, cfg.weight_bits)
        updated = Signal.like(self.updated, reset_less=True)
        clipped = Signal(reset_less=True)
        m.d.sync += [updated.eq(total), clipped.eq(clip)]
        m.d.comb += [self.updated.eq(updated), self.clipped.eq(clipped)]
        return m
