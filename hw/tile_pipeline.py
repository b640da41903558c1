"""The streaming tile pipeline: one ``R x C`` weight tile in per cycle, sums and updates out.

``TilePipeline(cfg, tag_bits=...)`` is the arithmetic of the streaming engine
(``docs/engine.md``): it holds no weights. Every cycle the engine may present one tile of a
layer (``R = cfg.array_rows`` outputs ``i`` by ``C = cfg.array_cols`` inputs ``j``), read from its
weight banks, with the lane vectors of that tile (``x``, ``u``, ``q``, ``u'`` per column; ``δ``,
``v``, ``v'`` per row). Two operations (:class:`TileOp`):

- ``FORWARD``: ``acc[i] = sum_j s[i,j] x[j]`` (``docs/datapath.md`` sections 3, 5);
- ``TRAIN``: backward and update fused, from the same signs: the column sums
  ``grad[j] = sum_i s[i,j] δ[i]`` (section 7) and the updated tile
  ``w[i,j] = sat(w[i,j] + round(δ[i] Q(x[j]) 2^-(lr_shift + lr_offset)))`` (sections 4, 8),
  plus how many of its weights saturated. The signs come from the weights as presented (the
  engine presents the pre-update weights), so the backward uses the forward's signs when the
  draws are the forward's.

Golden twin: :func:`fewmul.golden.tile.tile_pass`. Ports (all in ``sync``; every stream is
``always_ready``: a fixed-latency pipeline that never stalls, so the consumer must take each
result in the cycle it is valid):

    cmd     : In(stream(tile_command_layout(cfg, tag_bits)))   one tile per cycle
    sums    : Out(stream({op, acc[R], grad[C], tag}))          every command, sum_latency later
    updated : Out(stream({weights[R*C], tag}))                 TRAIN only, update_latency later
    clips   : Out(stream({count, tag}))                        TRAIN only, clips_latency later

``tag`` (``tag_bits``, opaque) travels with each command to each of its results: the engine
puts the write-back address and the tile's position there. ``acc`` is ``acc_width(cfg)`` bits,
``grad`` ``grad_width(cfg)`` bits (``fewmul.hw.array``): exact.

Organisation: an input register stage, the ``R x C`` :class:`~fewmul.hw.tile_pe.TilePE` grid, a
quantizer per column (``Q(x[j])`` once per column, not per PE), registered adder trees along rows
and columns, a popcount tree of the saturation flags. Lane values that a row or a column shares
are delayed once per lane.
"""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, enum, stream
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent, refusable
from .adder_tree import adder_tree, delay, tree_depth
from .array import acc_width, grad_width
from .quantizer import Quantizer
from .tile_pe import TilePE

__all__ = ["TileOp", "TilePipeline", "tile_command_layout", "pipeline_latencies"]


class TileOp(enum.Enum, shape=1):
    """Operations of :class:`TilePipeline` (``cmd.payload.op``)."""

    FORWARD = 0
    TRAIN = 1


def tile_command_layout(cfg, tag_bits):
    """``data.StructLayout`` of ``cmd.payload``: ``weights[r * C + c]`` is ``w[r, c]``."""
    rows, cols, bits = cfg.array_rows, cfg.array_cols, cfg.rand_bits
    return data.StructLayout({
        "op": TileOp,
        "deterministic": 1,
        "lr_offset": range(cfg.lr_range + 1),
        "weights": data.ArrayLayout(signed(cfg.weight_bits), rows * cols),
        "x": data.ArrayLayout(signed(cfg.act_bits), cols),
        "u": data.ArrayLayout(bits, cols),
        "q": data.ArrayLayout(bits, cols),
        "u2": data.ArrayLayout(bits, cols),
        "delta": data.ArrayLayout(signed(cfg.err_bits), rows),
        "v": data.ArrayLayout(bits, rows),
        "v2": data.ArrayLayout(bits, rows),
        "tag": tag_bits,
    })


def pipeline_latencies(cfg):
    """``(sum_latency, update_latency, clips_latency)`` of ``TilePipeline(cfg)`` (see its
    properties), without building one."""
    rows, cols = cfg.array_rows, cfg.array_cols
    update = 1 + TilePE.update_latency
    return 2 + max(tree_depth(cols), tree_depth(rows)), update, update + tree_depth(rows * cols)


class TilePipeline(ConfigComponent):
    """Stateless ``R x C`` streaming datapath (see the module docstring).

    Parameters
    ----------
    cfg : fewmul.config.Config
    tag_bits : int
        Width of the opaque ``tag`` carried from each command to its results (>= 1).
    """

    @refusable
    def __init__(self, cfg, *, tag_bits=1):
        if not isinstance(tag_bits, int) or isinstance(tag_bits, bool) or tag_bits < 1:
            raise ValueError(f"tag_bits must be a positive integer, not {tag_bits!r}")
        self._tag_bits = tag_bits
        super().__init__(cfg)

    def members(self, cfg):
        rows, cols, tag = cfg.array_rows, cfg.array_cols, self._tag_bits
        return {
            "cmd": In(stream.Signature(tile_command_layout(cfg, tag), always_ready=True)),
            "sums": Out(stream.Signature(data.StructLayout({
                "op": TileOp,
                "acc": data.ArrayLayout(signed(acc_width(cfg)), rows),
                "grad": data.ArrayLayout(signed(grad_width(cfg)), cols),
                "tag": tag,
            }), always_ready=True)),
            "updated": Out(stream.Signature(data.StructLayout({
                "weights": data.ArrayLayout(signed(cfg.weight_bits), rows * cols),
                "tag": tag,
            }), always_ready=True)),
            "clips": Out(stream.Signature(data.StructLayout({
                "count": range(rows * cols + 1),
                "tag": tag,
            }), always_ready=True)),
        }

    @property
    def tag_bits(self):
        return self._tag_bits

    @property
    def tree_depth(self):
        """Levels of the deeper of the row and column adder trees."""
        return max(tree_depth(self._cfg.array_cols), tree_depth(self._cfg.array_rows))

    @property
    def sum_latency(self):
        """Cycles from a command's handshake to its ``sums``: input register, product
        register, ``tree_depth`` tree levels."""
        return pipeline_latencies(self._cfg)[0]

    @property
    def update_latency(self):
        """Cycles from a TRAIN's handshake to its ``updated`` tile: input register and the
        four stages of :class:`~fewmul.hw.tile_pe.TilePE`."""
        return pipeline_latencies(self._cfg)[1]

    @property
    def clips_latency(self):
        """Cycles from a TRAIN's handshake to its ``clips`` count: the updated tile's, then a
        popcount tree over the ``R C`` saturation flags."""
        return pipeline_latencies(self._cfg)[2]

    @property
    def throughput(self):
        """Tiles per cycle."""
        return 1

    def elaborate(self, platform):
        cfg = self._cfg
        rows, cols = cfg.array_rows, cfg.array_cols
        m = Module()

        # -- input register (stage 0): every field, every cycle (valid travels separately) ----
        cmd = Signal(tile_command_layout(cfg, self._tag_bits), reset_less=True)
        valid = Signal()
        m.d.sync += [cmd.eq(self.cmd.payload), valid.eq(self.cmd.valid)]
        is_train = valid & (cmd.op == TileOp.TRAIN)

        # -- lane values: negations once per lane, delays once per lane -----------------------
        x_neg = [Signal(signed(cfg.act_bits + 1), name=f"x_neg_{j}") for j in range(cols)]
        d_neg = [Signal(signed(cfg.err_bits + 1), name=f"delta_neg_{i}") for i in range(rows)]
        m.d.comb += [x_neg[j].eq(-cmd.x[j]) for j in range(cols)]
        m.d.comb += [d_neg[i].eq(-cmd.delta[i]) for i in range(rows)]
        # stage 2 inputs: Q(x[j]) per column, δ[i] and -δ[i] per row, the learning rate
        quant = []
        for j in range(cols):
            quantizer = Quantizer(cfg)
            m.submodules[f"quantizer_{j}"] = quantizer
            m.d.comb += [quantizer.x.eq(cmd.x[j]), quantizer.rand.eq(cmd.q[j])]
            negative = delay(m, quantizer.negative, 1, f"q_negative_{j}")
            shift = delay(m, quantizer.shift, 1, f"q_shift_{j}")
            is_zero = delay(m, quantizer.is_zero, 2, f"q_zero_{j}")       # used in stage 3
            quant.append((negative, shift, is_zero))
        delta2 = [delay(m, cmd.delta[i], 1, f"upd_delta_{i}") for i in range(rows)]
        delta2_neg = [delay(m, d_neg[i], 1, f"upd_delta_neg_{i}") for i in range(rows)]
        lr2 = delay(m, cmd.lr_offset, 1, "upd_lr_offset")
        # stage 3 inputs: ρ = u'[j] XOR v'[i]
        u2_3 = [delay(m, cmd.u2[j], 2, f"u2_{j}") for j in range(cols)]
        v2_3 = [delay(m, cmd.v2[i], 2, f"v2_{i}") for i in range(rows)]

        # -- the PE grid ----------------------------------------------------------------------
        pes = [[TilePE(cfg) for _ in range(cols)] for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                pe = pes[i][j]
                m.submodules[f"pe_{i}_{j}"] = pe
                negative, shift, is_zero = quant[j]
                m.d.comb += [
                    pe.weight.eq(cmd.weights[i * cols + j]),
                    pe.u.eq(cmd.u[j]), pe.v.eq(cmd.v[i]),
                    pe.deterministic.eq(cmd.deterministic),
                    pe.x.eq(cmd.x[j]), pe.x_neg.eq(x_neg[j]),
                    pe.delta.eq(cmd.delta[i]), pe.delta_neg.eq(d_neg[i]),
                    pe.update_negative.eq(negative), pe.update_shift.eq(shift),
                    pe.update_delta.eq(delta2[i]), pe.update_delta_neg.eq(delta2_neg[i]),
                    pe.lr_offset.eq(lr2),
                    pe.update_rand.eq(u2_3[j] ^ v2_3[i]), pe.update_zero.eq(is_zero),
                ]

        # -- sums: row and column trees, equalised to the same depth -------------------------
        depth = self.tree_depth
        for i in range(rows):
            total, levels = adder_tree(m, [pes[i][j].forward for j in range(cols)], f"acc{i}")
            m.d.comb += self.sums.payload.acc[i].eq(delay(m, total, depth - levels, f"acc{i}"))
        for j in range(cols):
            total, levels = adder_tree(m, [pes[i][j].backward for i in range(rows)], f"grad{j}")
            m.d.comb += self.sums.payload.grad[j].eq(delay(m, total, depth - levels, f"grad{j}"))
        after_input = self.sum_latency - 1
        m.d.comb += [
            self.sums.valid.eq(delay(m, valid, after_input, "sums_valid")),
            self.sums.payload.op.eq(delay(m, cmd.op, after_input, "sums_op")),
            self.sums.payload.tag.eq(delay(m, cmd.tag, after_input, "sums_tag")),
        ]

        # -- updated tile and its saturation count ---------------------------------------------
        after_input = self.update_latency - 1
        updated_valid = delay(m, is_train, after_input, "updated_valid")
        updated_tag = delay(m, cmd.tag, after_input, "updated_tag")
        m.d.comb += [
            self.updated.valid.eq(updated_valid),
            self.updated.payload.tag.eq(updated_tag),
        ]
        m.d.comb += [self.updated.payload.weights[i * cols + j].eq(pes[i][j].updated)
                     for i in range(rows) for j in range(cols)]
        flags = [pes[i][j].clipped for i in range(rows) for j in range(cols)]
        count, levels = adder_tree(m, [Cat(flag, 0) for flag in flags], "clips")
        m.d.comb += [
            self.clips.payload.count.eq(count),
            self.clips.valid.eq(delay(m, updated_valid, levels, "clips_valid")),
            self.clips.payload.tag.eq(delay(m, updated_tag, levels, "clips_tag")),
        ]
        return m
