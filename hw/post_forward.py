"""Forward post-processing of the streaming engine: one row group of ``K`` outputs per cycle.

``docs/datapath.md`` sections 5 and 7. For the outputs ``i = tr K + k`` of layer ``l`` (lanes
``k``), from their exact sums ``acc`` over the whole fan-in and their biases:

    z = rshr(acc, S_l) + align(b)                            stage 1
    hidden layer: y = clamp(z, lo, 2^F - 1), mask = lo < z < 2^F        stage 2
    last layer:   y = clamp(z, -2^(F+2), 2^(F+2) - 1) (the scores),
                  δ = sat(t max(0, 2^F - t y) << (E - F + 1))          stage 2
                  b = sat(b + round(δ >> update_base_shift))   (training)  stages 3-4

Lanes beyond the layer (``lane_valid`` low, ``i >= M_l``) give ``y = 0``, ``mask = 0``,
``δ = 0`` and keep their bias, so padded inputs of the next layer add nothing. Everything leaves
together after :attr:`PostForward.latency` cycles, with the ``tag`` given at the input.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .adder_tree import delay
from .update import BiasUpdate

__all__ = ["PostForward", "rshr", "clamp"]


def rshr(value, shift):
    """``(v + 2^(s-1)) >> s`` for a constant ``s`` (``v`` for ``s == 0``): ``docs/datapath.md``
    section 2."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def clamp(value, lo, hi):
    """``value`` clamped to the constants ``[lo, hi]``."""
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


class PostForward(ConfigComponent):
    """``K``-lane forward post-processing (see the module docstring).

    Parameters
    ----------
    cfg : fewmul.config.Config
    lanes : int
        ``K``.
    acc_bits : int
        Width of the sums ``acc``.
    tag_bits : int
        Width of the opaque ``tag``.

    Ports
    -----
    valid, tag, layer, last, training, lr_offset, lane_valid, label_lane : In
        The group: its layer (selects ``S_l``), whether it is the output layer, whether the
        step trains (bias update), the run-time learning rate, which lanes are outputs, and the
        lane of the label (``K`` if the label is not in this group).
    acc, bias, rand : In(K lanes)
        Sums, the pre-update biases, and the bias-rounding draws ``v'[i]``.
    out_valid, out_tag : Out
        The same group, :attr:`latency` cycles later.
    y, mask, delta, bias_updated : Out(K lanes)
        ``y`` is ``out_bits`` wide (activations of hidden layers fit ``act_bits``); ``delta``
        and ``bias_updated`` are meaningful for the last layer (``bias_updated`` equals ``bias``
        unless training).
    clips : Out(range(K + 1))
        Saturated bias updates of the group.
    """

    latency = 4

    def __init__(self, cfg, *, lanes, acc_bits, tag_bits):
        self._lanes, self._acc_bits, self._tag_bits = lanes, acc_bits, tag_bits
        super().__init__(cfg)

    def members(self, cfg):
        lanes = self._lanes
        return {
            "valid": In(1),
            "tag": In(self._tag_bits),
            "layer": In(range(cfg.n_layers)),
            "last": In(1),
            "training": In(1),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "lane_valid": In(lanes),
            "label_lane": In(range(lanes + 1)),
            "acc": In(data.ArrayLayout(signed(self._acc_bits), lanes)),
            "bias": In(data.ArrayLayout(signed(cfg.weight_bits), lanes)),
            "rand": In(data.ArrayLayout(cfg.rand_bits, lanes)),
            "out_valid": Out(1),
            "out_tag": Out(self._tag_bits),
            "y": Out(data.ArrayLayout(signed(cfg.out_bits), lanes)),
            "mask": Out(lanes),
            "delta": Out(data.ArrayLayout(signed(cfg.err_bits), lanes)),
            "bias_updated": Out(data.ArrayLayout(signed(cfg.weight_bits), lanes)),
            "clips": Out(range(lanes + 1)),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        lanes = self._lanes
        F, Wf, E, eb = cfg.act_frac, cfg.weight_frac, cfg.err_frac, cfg.err_bits
        lo = 0 if cfg.activation == "relu" else -(1 << F)
        emax = (1 << (eb - 1)) - 1

        m.d.comb += [self.out_valid.eq(delay(m, self.valid, 4, "valid")),
                     self.out_tag.eq(delay(m, self.tag, 4, "tag"))]
        last1 = delay(m, self.last, 1, "last")
        train3 = delay(m, self.training & self.last, 3, "train")
        lr2 = delay(m, self.lr_offset, 2, "lr_offset")
        clipped = []
        for k in range(lanes):
            # stage 1: z
            bias = self.bias[k]
            bias_a = rshr(bias, Wf - F) if Wf >= F else bias << (F - Wf)
            z = Signal(signed(max(self._acc_bits, cfg.weight_bits + 1) + 2), name=f"z_{k}",
                       reset_less=True)
            with m.Switch(self.layer):
                for layer, scale in enumerate(cfg.scales):
                    with m.Case(layer):
                        m.d.sync += z.eq(rshr(self.acc[k], scale) + bias_a)
            valid1 = delay(m, self.lane_valid[k], 1, f"lane_valid_{k}")
            label1 = delay(m, self.label_lane == k, 1, f"is_label_{k}")

            # stage 2: activation and mask, or scores and the L2-SVM error
            y2 = Signal(signed(cfg.out_bits), name=f"y_{k}", reset_less=True)
            mask2 = Signal(name=f"mask_{k}", reset_less=True)
            delta2 = Signal(signed(eb), name=f"delta_{k}", reset_less=True)
            score = clamp(z, -(1 << (F + 2)), (1 << (F + 2)) - 1)
            margin = Signal(signed(F + 5), name=f"margin_{k}")
            m.d.comb += margin.eq(Mux(label1, (1 << F) - score, (1 << F) + score))
            hinge = Mux(margin < 0, 0, margin)
            error = Signal(signed(F + 7 + E), name=f"error_{k}")
            m.d.comb += error.eq(Mux(label1, hinge, -hinge) << (E - F + 1))
            with m.If(~valid1):
                m.d.sync += [y2.eq(0), mask2.eq(0), delta2.eq(0)]
            with m.Elif(last1):
                m.d.sync += [y2.eq(score), mask2.eq(1), delta2.eq(clamp(error, -emax - 1, emax))]
            with m.Else():
                m.d.sync += [y2.eq(clamp(z, lo, (1 << F) - 1)), mask2.eq((z > lo) & (z < (1 << F))),
                             delta2.eq(0)]

            # stages 3-4: the output layer's bias update (other layers: the bias unchanged),
            # registered in the middle (BiasUpdate(registered=True))
            bias2 = delay(m, bias, 2, f"bias_{k}")
            update = BiasUpdate(cfg, registered=True)
            m.submodules[f"bias_update_{k}"] = update
            m.d.comb += [update.bias.eq(bias2), update.delta.eq(delta2),
                         update.rand.eq(delay(m, self.rand[k], 2, f"rand_{k}")),
                         update.lr_offset.eq(lr2)]
            write = train3 & delay(m, valid1, 2, f"lane_valid3_{k}")
            bias3 = delay(m, bias2, 1, f"bias3_{k}")
            bias4 = Signal(signed(cfg.weight_bits), name=f"bias_updated_{k}", reset_less=True)
            clip4 = Signal(name=f"bias_clipped_{k}", reset_less=True)
            m.d.sync += [bias4.eq(Mux(write, update.updated, bias3)),
                         clip4.eq(write & update.clipped)]
            m.d.comb += [
                self.y[k].eq(delay(m, y2, 2, f"y_{k}")),
                self.mask[k].eq(delay(m, mask2, 2, f"mask_{k}")),
                self.delta[k].eq(delay(m, delta2, 2, f"delta_{k}")),
                self.bias_updated[k].eq(bias4),
            ]
            clipped.append(clip4)
        m.d.comb += self.clips.eq(sum(clipped))
        return m
