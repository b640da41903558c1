"""The streaming engine's sequencer: one training step (or prediction) as layer passes of tiles.

``Sequencer(cfg)`` walks ``docs/datapath.md`` section 9 over the
:class:`~fewmul.hw.tile_pipeline.TilePipeline`, one ``K x K`` tile per cycle
(``docs/engine.md``):

1. FORWARD, layers ``0 .. L-1``, row tiles outer, column tiles inner: the tile, the layer input's
   column word ``x``, and the draws ``u``, ``v`` are read in one cycle, held in the read
   register the next (a register beside the block RAMs: their slow clock-to-out and the long
   wires to the pipeline are then two paths, not one), and enter the pipeline the cycle after;
   row sums are accumulated over the column tiles, and each finished row group goes
   through :class:`~fewmul.hw.post_forward.PostForward` (``K`` outputs at once) into the next
   layer's input word and mask word, or, for the output layer, the scores, the errors and the
   output biases (trained steps).
2. TRAIN, layers ``L-1 .. 0``, column tiles outer, row tiles inner: each tile with its ``x``,
   ``δ`` and draws goes through the pipeline's fused backward + update; the updated tile is
   written back to its word (a pipelined read-modify-write: each tile is touched once per pass,
   so there is no hazard); column sums are accumulated over row tiles and each finished group
   goes through :class:`~fewmul.hw.post_backward.PostBackward` into the errors and biases of the
   layer below (layers ``l >= 1``).
3. The class: the first maximum of the scores, one score per cycle, scanned beside the TRAIN
   passes (they do not touch the scores; a prediction waits for it).

Between passes the sequencer waits for the pipeline and the post-processing to drain
(:attr:`Sequencer.drain_cycles`), the layer dependency of the algorithm. Draws come from the
:class:`~fewmul.hw.draw_unit.DrawUnit` (a TRAIN takes the step drawn ahead), weights and biases
from the :class:`~fewmul.hw.parameter_store.ParameterStore`. The sequencer owns the vector
memories (one word = ``K`` lanes, boundary ``k`` of the network at ``vec_base[k]``): layer inputs
``x`` (boundary 0 is the sample), activation masks, errors ``δ`` (layer ``l``'s at boundary
``l + 1``), and the output scores. Cycles per step: :attr:`Sequencer.step_cycles`.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent, refusable
from .const_table import const_table
from .draw_unit import draw_ports
from .engine_plan import EnginePlan
from .parameter_store import parameter_ports
from .post_backward import PostBackward
from .post_forward import PostForward
from .tile_pipeline import TileOp, TilePipeline, pipeline_latencies

__all__ = ["Sequencer", "drain_cycles", "scan_cycles", "step_cycles"]


def _last_mask(size, lanes):
    """Lanes of the last group of ``size`` values that are values."""
    rest = size % lanes
    return (1 << lanes) - 1 if rest == 0 else (1 << rest) - 1


def drain_cycles(cfg):
    """Cycles from a pass's last tile entering the read register to its last memory write
    (the read register, pipeline sums, accumulator, post-processing): what the next pass waits.
    Saturation counts land later (they carry their layer), which no pass reads."""
    sums, _, _ = pipeline_latencies(cfg)
    return 1 + 1 + sums + 1 + PostForward.latency


def step_cycles(cfg):
    """Cycles of a TRAIN step once started (draws ready): taking the draws, the forward passes
    (every tile and a drain per pass), the train passes (the same) with the class scan
    (``classes + 2`` cycles) beside them, and the answer hand-over."""
    plan = EnginePlan(cfg)
    passes = plan.tiles + cfg.n_layers * (1 + drain_cycles(cfg))
    return 1 + passes + max(passes, scan_cycles(cfg)) + 1


def scan_cycles(cfg):
    """Cycles of the class scan: one score a cycle and the read's latency."""
    return cfg.layers[-1] + 2


class Sequencer(ConfigComponent):
    """Layer passes of one step over the tile pipeline (see the module docstring).

    Ports
    -----
    start : In(1), predict : In(1), label : In(8), lr_offset : In, settle : In(1)
        Start a step (``predict``: deterministic signs, no update, no draws) while idle.
        ``settle``: a training step with deterministic signs (its draws are still taken, so
        the streams advance as in any step; ``docs/datapath.md`` section 9).
    busy : Out(1), done : Out(1), answer : Out(8)
        ``done`` pulses when the step ends; ``answer`` is then its class.
    sample_slot : In ; data_addr : Out ; data_word : In
        The step's sample: the network's inputs (boundary 0) are read from the data store's
        slot ``sample_slot`` (``data_stride`` words a slot), not from the vector memory.
    score_index : In(range(M)), score : Out(signed(out_bits))
        The output scores of the last step (a combinational read).
    params : Out(ParameterStore's engine side), draws : Out(DrawUnit's ports)
    clips : Out(32).array(L), clear_clips : In(1)
        Saturated weight and bias updates per layer (``fewmul.golden.mlp.train_step``'s twin).
    """

    @refusable
    def __init__(self, cfg, *, data_slots, data_stride):
        self._plan = EnginePlan(cfg)
        self._plan.lanes                                  # noqa: B018 -- square tiles or raise
        self._data_slots, self._data_stride = data_slots, data_stride
        super().__init__(cfg)

    def members(self, cfg):
        plan = self._plan
        engine_side = {name: member.flip()
                       for name, member in parameter_ports(cfg, plan).items()}
        draw_side = {name: member.flip() for name, member in draw_ports(cfg, plan).items()}
        return {
            "start": In(1),
            "predict": In(1),
            "label": In(8),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "settle": In(1),
            "busy": Out(1),
            "done": Out(1),
            "answer": Out(8),
            "sample_slot": In(range(max(self._data_slots, 2))),
            "data_addr": Out(range(max(self._data_slots * self._data_stride, 2))),
            "data_word": In(data.ArrayLayout(signed(cfg.act_bits), plan.lanes)),
            "score_index": In(range(max(cfg.layers[-1], 2))),
            "score": Out(signed(cfg.out_bits)),
            **{f"params_{name}": member for name, member in engine_side.items()},
            **{f"draws_{name}": member for name, member in draw_side.items()},
            "clips": Out(32).array(cfg.n_layers),
            "clear_clips": In(1),
        }

    @property
    def plan(self):
        return self._plan

    @property
    def drain_cycles(self):
        return drain_cycles(self._cfg)

    @property
    def step_cycles(self):
        return step_cycles(self._cfg)

    def elaborate(self, platform):
        cfg, plan = self._cfg, self._plan
        m = Module()
        K, L = plan.lanes, cfg.n_layers
        k_log = K.bit_length() - 1
        tag = data.StructLayout({"tile": range(max(plan.tiles, 2)),
                                 "group": range(max(max(plan.tr), max(plan.tc)) + 1),
                                 "layer": range(max(L, 2)), "first": 1, "last": 1})
        m.submodules.pipeline = pipe = TilePipeline(cfg, tag_bits=tag.size)
        acc_bits, grad_bits = plan.acc_bits, plan.grad_bits
        m.submodules.post_forward = post_f = PostForward(cfg, lanes=K, acc_bits=acc_bits,
                                                         tag_bits=16)
        m.submodules.post_backward = post_b = PostBackward(cfg, lanes=K, grad_bits=grad_bits,
                                                           tag_bits=16)

        # -- vector memories ------------------------------------------------------------------
        def vector_memory(name, shape, depth):
            mem = memory.Memory(shape=shape, depth=max(depth, 2), init=[])
            m.submodules[name] = mem
            return mem

        acts = vector_memory("inputs", data.ArrayLayout(signed(cfg.act_bits), K), plan.vec_depth)
        masks = vector_memory("masks", K, plan.vec_depth)
        deltas = vector_memory("errors", data.ArrayLayout(signed(cfg.err_bits), K),
                               plan.vec_depth)
        scores = vector_memory("scores", data.ArrayLayout(signed(cfg.out_bits), K),
                               plan.vec_words[-1])
        acts_rd, acts_wr = acts.read_port(), acts.write_port()
        masks_rd, masks_wr = masks.read_port(), masks.write_port()
        deltas_rd, deltas_wr = deltas.read_port(), deltas.write_port()
        scores_rd, scores_wr = scores.read_port(), scores.write_port()
        t_rd, t_wr = self.params_tile_read, self.params_tile_write
        b_rd, b_wr = self.params_bias_read, self.params_bias_write

        # -- per-layer tables -------------------------------------------------------------------
        t_tr, t_tc = const_table(plan.tr), const_table(plan.tc)
        t_tile_base = const_table(plan.tile_base + (plan.tiles,))
        t_vec_base = const_table(plan.vec_base)
        t_out_mask = const_table((_last_mask(n, K) for n in plan.m), K)
        t_in_mask = const_table((_last_mask(n, K) for n in plan.n), K)

        # -- step state ----------------------------------------------------------------------------
        training = Signal()
        layer = Signal(range(L + 1))
        backward = Signal()                                 # the TRAIN passes
        outer = Signal(range(max(max(plan.tr), max(plan.tc)) + 1))
        inner = Signal.like(outer)
        tile_addr = Signal(range(plan.tiles + 1))
        drain = Signal(range(self.drain_cycles + 2))
        label = Signal(8)
        lr_offset = Signal.like(self.lr_offset)
        settle = Signal()
        outer_count = Mux(backward, t_tc[layer], t_tr[layer])
        inner_count = Mux(backward, t_tr[layer], t_tc[layer])
        tr = Mux(backward, inner, outer)
        tc = Mux(backward, outer, inner)
        col_word = Signal(range(plan.vec_depth + 1))
        row_word = Signal(range(plan.vec_depth + 1))
        m.d.comb += [col_word.eq(t_vec_base[layer] + tc), row_word.eq(t_vec_base[layer + 1] + tr)]

        # -- issue: addresses in cycle t, the read register in t + 1, the pipeline in t + 2 --
        issue = Signal()
        sample_slot = Signal.like(self.sample_slot)
        s_log = self._data_stride.bit_length() - 1
        m.d.comb += [
            t_rd.addr.eq(tile_addr), t_rd.en.eq(1),
            acts_rd.addr.eq(col_word), deltas_rd.addr.eq(row_word),
            self.data_addr.eq((sample_slot << s_log) + tc),
            self.draws_col_addr.eq(col_word), self.draws_row_addr.eq(row_word),
        ]
        issued = Signal()
        issued_tag = Signal(tag)
        from_data = Signal()                                # layer 0: x from the data store
        m.d.sync += from_data.eq(layer == 0)
        m.d.sync += [issued.eq(issue), issued_tag.tile.eq(tile_addr), issued_tag.group.eq(outer),
                     issued_tag.layer.eq(layer),
                     issued_tag.first.eq(inner == 0), issued_tag.last.eq(inner == inner_count - 1)]
        # the read register: what the memories read in the issue cycle, one cycle later
        cmd = Signal(pipe.cmd.payload.shape())
        m.d.sync += [pipe.cmd.valid.eq(issued), pipe.cmd.payload.eq(cmd)]
        m.d.comb += [
            cmd.op.eq(Mux(backward, TileOp.TRAIN, TileOp.FORWARD)),
            cmd.deterministic.eq(~training | settle),
            cmd.lr_offset.eq(lr_offset),
            cmd.weights.eq(t_rd.data),
            cmd.x.eq(Mux(from_data, self.data_word, acts_rd.data)),
            cmd.u.eq(self.draws_col.u), cmd.q.eq(self.draws_col.q), cmd.u2.eq(self.draws_col.u2),
            cmd.delta.eq(deltas_rd.data),
            cmd.v.eq(self.draws_row.v), cmd.v2.eq(self.draws_row.v2),
            cmd.tag.eq(issued_tag),
        ]

        # -- results: accumulate the sums of a group; write back updated tiles ---------------------
        sums_tag = Signal(tag)
        m.d.comb += sums_tag.eq(pipe.sums.payload.tag)
        sums = [Signal(signed(max(acc_bits, grad_bits)), name=f"sum_{k}") for k in range(K)]
        totals = [Signal.like(sums[k], name=f"total_{k}") for k in range(K)]
        for k in range(K):
            part = Mux(backward, pipe.sums.payload.grad[k], pipe.sums.payload.acc[k])
            m.d.comb += totals[k].eq(Mux(sums_tag.first, part, sums[k] + part))
            with m.If(pipe.sums.valid):
                m.d.sync += sums[k].eq(totals[k])
        post_valid = Signal()
        post_group = Signal.like(sums_tag.group)
        m.d.sync += [post_valid.eq(pipe.sums.valid & sums_tag.last & (~backward | (layer != 0))),
                     post_group.eq(sums_tag.group)]
        boundary = Signal(range(L + 1))                      # of the outputs a post writes
        m.d.comb += boundary.eq(Mux(backward, layer, layer + 1))
        post_word = Signal(range(plan.vec_depth + 1))
        m.d.comb += post_word.eq(t_vec_base[boundary] + sums_tag.group)
        m.d.comb += [b_rd.addr.eq(post_word), b_rd.en.eq(1), masks_rd.addr.eq(post_word),
                     self.draws_post_addr.eq(post_word)]
        updated_tag = Signal(tag)
        m.d.comb += [updated_tag.eq(pipe.updated.payload.tag), t_wr.addr.eq(updated_tag.tile),
                     t_wr.data.eq(pipe.updated.payload.weights), t_wr.en.eq(pipe.updated.valid)]

        # -- post-processing --
        last_layer = layer == L - 1
        group_in = post_group                                # the group entering the posts
        label_lane = Mux((label >> k_log) == group_in, label[:k_log] if k_log else 0, K)
        for post in (post_f, post_b):
            m.d.comb += [post.tag.eq(group_in), post.layer.eq(layer), post.lr_offset.eq(lr_offset),
                         post.bias.eq(b_rd.data), post.rand.eq(self.draws_post_v2)]
            for k in range(K):
                m.d.comb += (post.acc if post is post_f else post.grad)[k].eq(sums[k])
        m.d.comb += [
            post_f.valid.eq(post_valid & ~backward), post_b.valid.eq(post_valid & backward),
            post_f.last.eq(last_layer), post_f.training.eq(training),
            post_f.label_lane.eq(label_lane), post_b.mask.eq(masks_rd.data),
            post_f.lane_valid.eq(Mux(group_in == t_tr[layer] - 1, t_out_mask[layer], (1 << K) - 1)),
            post_b.lane_valid.eq(Mux(group_in == t_tc[layer] - 1, t_in_mask[layer], (1 << K) - 1)),
        ]
        out_word = Signal(range(plan.vec_depth + 1))
        out_group = Mux(backward, post_b.out_tag, post_f.out_tag)
        m.d.comb += out_word.eq(t_vec_base[boundary] + out_group)
        m.d.comb += [acts_wr.addr.eq(out_word),
                     acts_wr.data.eq(Cat(*(post_f.y[k][:cfg.act_bits] for k in range(K)))),
                     acts_wr.en.eq((post_f.out_valid & ~last_layer).replicate(K))]
        m.d.comb += [
            masks_wr.addr.eq(out_word), masks_wr.data.eq(post_f.mask),
            masks_wr.en.eq(post_f.out_valid & ~last_layer),
            scores_wr.addr.eq(post_f.out_tag), scores_wr.data.eq(post_f.y),
            scores_wr.en.eq(post_f.out_valid & last_layer),
            deltas_wr.addr.eq(out_word),
            deltas_wr.data.eq(Mux(backward, post_b.delta, post_f.delta)),
            deltas_wr.en.eq(post_b.out_valid | (post_f.out_valid & last_layer & training)),
            b_wr.addr.eq(out_word),
            b_wr.data.eq(Mux(backward, post_b.bias_updated, post_f.bias_updated)),
            b_wr.en.eq(post_b.out_valid | (post_f.out_valid & last_layer & training)),
        ]

        # -- saturation counters --
        post_clips = Mux(post_b.out_valid, post_b.clips, Mux(post_f.out_valid, post_f.clips, 0))
        post_clip_layer = Mux(backward, layer - 1, layer)
        for index, counter in enumerate(self.clips):
            weight_events = Mux(pipe.clips.valid & (tag(pipe.clips.payload.tag).layer == index),
                                pipe.clips.payload.count, 0)
            bias_events = Mux(post_clip_layer == index, post_clips, 0)
            with m.If(self.clear_clips):
                m.d.sync += counter.eq(0)
            with m.Else():
                m.d.sync += counter.eq(counter + weight_events + bias_events)

        # -- scores: the class scan (beside the TRAIN passes), and the host's read --
        scan_start = Signal()
        scanning = Signal()
        scan_index = Signal(range(cfg.layers[-1] + 2))
        scan_valid = Signal()
        scan_lane = Signal(range(K))
        best = Signal(signed(cfg.out_bits))
        best_index = Signal(8)
        scan_last = scanning & (scan_index == scan_cycles(cfg) - 1)  # best is final next cycle
        with m.If(scan_start):
            m.d.sync += [scanning.eq(1), scan_index.eq(0), scan_valid.eq(0)]
        with m.Elif(scanning):
            m.d.comb += scores_rd.addr.eq(scan_index >> k_log)
            m.d.sync += [scan_lane.eq(scan_index[:k_log] if k_log else 0),
                         scan_valid.eq(scan_index < cfg.layers[-1]),
                         scan_index.eq(scan_index + 1)]
            value = scores_rd.data.as_value().word_select(scan_lane, cfg.out_bits).as_signed()
            with m.If(scan_valid & ((scan_index == 1) | (value > best))):
                m.d.sync += [best.eq(value), best_index.eq(scan_index - 1)]
            with m.If(scan_last):
                m.d.sync += scanning.eq(0)
        scores_host = scores.read_port(domain="comb")
        m.d.comb += [scores_host.addr.eq(self.score_index >> k_log),
                     self.score.eq(scores_host.data.as_value().word_select(
                         self.score_index[:k_log] if k_log else 0, cfg.out_bits))]

        # -- the passes --
        m.d.comb += self.answer.eq(best_index)

        def start_pass(new_layer, train_pass):
            m.d.sync += [layer.eq(new_layer), backward.eq(train_pass), outer.eq(0), inner.eq(0),
                         tile_addr.eq(t_tile_base[new_layer])]

        with m.FSM(name="sequencer") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [training.eq(~self.predict), label.eq(self.label),
                                 lr_offset.eq(self.lr_offset), settle.eq(self.settle),
                                 sample_slot.eq(self.sample_slot)]
                    start_pass(0, 0)
                    with m.If(self.predict):
                        m.next = "ISSUE"
                    with m.Else():
                        m.next = "DRAWS"
            with m.State("DRAWS"):                    # the step drawn ahead
                with m.If(self.draws_ready):
                    m.d.comb += self.draws_take.eq(1)
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += issue.eq(1)
                m.d.sync += inner.eq(inner + 1)
                with m.If(backward):
                    m.d.sync += tile_addr.eq(tile_addr + t_tc[layer])
                with m.Else():
                    m.d.sync += tile_addr.eq(tile_addr + 1)
                with m.If(inner == inner_count - 1):
                    m.d.sync += [inner.eq(0), outer.eq(outer + 1)]
                    with m.If(backward):
                        m.d.sync += tile_addr.eq(t_tile_base[layer] + outer + 1)
                    with m.If(outer == outer_count - 1):
                        m.d.sync += drain.eq(self.drain_cycles)
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    with m.If(~backward & (layer != L - 1)):
                        start_pass(layer + 1, 0)
                        m.next = "ISSUE"
                    with m.Elif(~backward):                 # the scores are written
                        m.d.comb += scan_start.eq(1)
                        with m.If(training):
                            start_pass(L - 1, 1)
                            m.next = "ISSUE"
                        with m.Else():
                            m.next = "SCAN"
                    with m.Elif(layer != 0):
                        start_pass(layer - 1, 1)
                        m.next = "ISSUE"
                    with m.Elif(scanning & ~scan_last):
                        m.next = "SCAN"
                    with m.Else():
                        m.next = "DONE"
            with m.State("SCAN"):                     # waiting for the class scan
                with m.If(scan_last):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m
