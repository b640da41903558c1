"""Backward post-processing of the streaming engine: ``K`` errors of the layer below per cycle.

``docs/datapath.md`` sections 7 and 8. For the inputs ``j = tc K + k`` of layer ``l >= 1``
(lanes ``k``), from their exact column sums ``g`` over the whole fan-out:

    e     = sat(rshr(g, S_l), err_bits)                           stage 1
    δ_low = e if mask_low else 0     (mask of layer l-1's output j)   stage 2
    b_low = sat(b_low + round(δ_low >> update_base_shift))          stage 3

the error of layer ``l - 1`` and the update of its bias with the draw ``v'[j]`` of layer
``l - 1``. Lanes beyond the layer (``lane_valid`` low) give ``δ_low = 0`` and keep their bias.
Everything leaves together after :attr:`PostBackward.latency` cycles with the input's ``tag``.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .adder_tree import delay
from .post_forward import clamp, rshr
from .update import BiasUpdate

__all__ = ["PostBackward"]


class PostBackward(ConfigComponent):
    """``K``-lane backward post-processing (see the module docstring).

    Parameters
    ----------
    cfg : fewmul.config.Config
    lanes : int
        ``K``.
    grad_bits : int
        Width of the sums ``grad``.
    tag_bits : int
        Width of the opaque ``tag``.

    Ports
    -----
    valid, tag, layer, lr_offset, lane_valid : In
        The group: its layer ``l`` (selects ``S_l``), the run-time learning rate, which lanes
        are inputs of layer ``l``.
    grad, mask, bias, rand : In(K lanes)
        Column sums, the masks, biases and ``v'`` draws of layer ``l - 1``'s outputs ``j``.
    out_valid, out_tag : Out
        The same group, :attr:`latency` cycles later.
    delta, bias_updated : Out(K lanes)
        ``δ_low`` and the updated biases of layer ``l - 1``.
    clips : Out(range(K + 1))
        Saturated bias updates of the group.
    """

    latency = 3

    def __init__(self, cfg, *, lanes, grad_bits, tag_bits):
        self._lanes, self._grad_bits, self._tag_bits = lanes, grad_bits, tag_bits
        super().__init__(cfg)

    def members(self, cfg):
        lanes = self._lanes
        return {
            "valid": In(1),
            "tag": In(self._tag_bits),
            "layer": In(range(cfg.n_layers)),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "lane_valid": In(lanes),
            "grad": In(data.ArrayLayout(signed(self._grad_bits), lanes)),
            "mask": In(lanes),
            "bias": In(data.ArrayLayout(signed(cfg.weight_bits), lanes)),
            "rand": In(data.ArrayLayout(cfg.rand_bits, lanes)),
            "out_valid": Out(1),
            "out_tag": Out(self._tag_bits),
            "delta": Out(data.ArrayLayout(signed(cfg.err_bits), lanes)),
            "bias_updated": Out(data.ArrayLayout(signed(cfg.weight_bits), lanes)),
            "clips": Out(range(lanes + 1)),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        eb = cfg.err_bits
        emax = (1 << (eb - 1)) - 1
        m.d.comb += [self.out_valid.eq(delay(m, self.valid, 3, "valid")),
                     self.out_tag.eq(delay(m, self.tag, 3, "tag"))]
        lr2 = delay(m, self.lr_offset, 2, "lr_offset")
        clipped = []
        for k in range(self._lanes):
            # stage 1: scale and saturate
            e1 = Signal(signed(eb), name=f"e_{k}", reset_less=True)
            with m.Switch(self.layer):
                for layer, scale in enumerate(cfg.scales):
                    with m.Case(layer):
                        m.d.sync += e1.eq(clamp(rshr(self.grad[k], scale), -emax - 1, emax))
            keep1 = delay(m, self.mask[k] & self.lane_valid[k], 1, f"keep_{k}")
            # stage 2: the mask of the layer below
            delta2 = Signal(signed(eb), name=f"delta_low_{k}", reset_less=True)
            m.d.sync += delta2.eq(Mux(keep1, e1, 0))
            # stage 3: that layer's bias update
            bias2 = delay(m, self.bias[k], 2, f"bias_{k}")
            valid2 = delay(m, self.lane_valid[k], 2, f"lane_valid_{k}")
            update = BiasUpdate(cfg)
            m.submodules[f"bias_update_{k}"] = update
            m.d.comb += [update.bias.eq(bias2), update.delta.eq(delta2),
                         update.rand.eq(delay(m, self.rand[k], 2, f"rand_{k}")),
                         update.lr_offset.eq(lr2)]
            bias3 = Signal(signed(cfg.weight_bits), name=f"bias_updated_{k}", reset_less=True)
            clip3 = Signal(name=f"bias_clipped_{k}", reset_less=True)
            m.d.sync += [bias3.eq(Mux(valid2, update.updated, bias2)),
                         clip3.eq(valid2 & update.clipped)]
            m.d.comb += [self.delta[k].eq(delay(m, delta2, 1, f"delta_low_{k}")),
                         self.bias_updated[k].eq(bias3)]
            clipped.append(clip3)
        m.d.comb += self.clips.eq(sum(clipped))
        return m
