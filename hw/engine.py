"""The training engine: a whole MLP trained one sample at a time on one PE array.

``Engine(cfg)`` serves the host link's two target ports (:mod:`fewmul.hw.link`): the engine
command port (RESET, SEED, TRAIN, PREDICT, COUNTERS, LR; ``docs/protocol.md``) and the word memory
port (LOAD / READ of weights and biases, regions of ``fewmul.protocol.memory_map``). Inside:

- memories (``lib.memory``, layouts in :mod:`fewmul.hw.engine_plan`): weights, biases, layer
  inputs, activation masks, errors, and one per random stream (the step's draws);
- the five xorshift32 streams (:class:`fewmul.hw.rng.Xorshift32`), loaded by SEED;
- one :class:`fewmul.hw.array.PEArray` and a sequencer that tiles every layer over it.

One TRAIN is ``docs/datapath.md`` section 9, bit for bit with ``fewmul.golden.mlp.train_step``:

1. receive the label and the sample (into layer 0's input memory);
2. DRAW: every stream's draws of the step, layer by layer, into the draw memories
   (``max(N_l, M_l)`` cycles per layer, the five streams in parallel);
3. FORWARD, per layer and row tile: LOAD each column tile's ``R`` rows, FORWARD it; the row
   sums are accumulated over column tiles; then a serial pass (one row per cycle) computes
   ``z = rshr(acc, S_l) + bias``, the activation and its mask, and for the output layer the
   L2-SVM error, the bias update and the argmax (answered to the host);
4. BACKWARD + UPDATE fused, per layer from the last, column tile outer and row tile inner:
   LOAD the tile, BACKWARD (pre-update weights, the forward's draws), UPDATE, READ the rows
   back into the weight memory; the column sums are accumulated over row tiles, then a serial
   pass computes the error of the layer below (``rshr``, saturation, mask) and updates its
   biases.

PREDICT runs step 3 with deterministic signs and no draws, no update. Cycle counts: see
``docs/engine.md`` and the ``cycles`` counter of COUNTERS.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from fewmul.protocol import SEED_STREAMS, ErrorCode, Opcode, memory_map

from .array import Op, PEArray
from .engine_plan import EnginePlan
from .link import EnginePortSignature, Link, MemoryPortSignature
from .rng import Xorshift32
from .update import UpdateStep, saturating_add

__all__ = ["Engine", "EngineSystem", "EngineUartSystem", "COUNTER_NAMES", "counter_names"]

#: Words of a COUNTERS answer (LE32 each), in order; then one ``clips`` word per layer
#: (:func:`counter_names`).
COUNTER_NAMES = ("steps", "predictions", "cycles")


def counter_names(cfg):
    """Every word of the engine's COUNTERS answer for ``cfg``, in order."""
    return COUNTER_NAMES + tuple(f"clips{layer}" for layer in range(cfg.n_layers))


def _rshr(value, shift):
    """``(v + 2^(s-1)) >> s`` for a constant ``s`` (``v`` for ``s == 0``)."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def _clamp(m, value, lo, hi, width, name):
    out = Signal(signed(width), name=name)
    m.d.comb += out.eq(Mux(value < lo, lo, Mux(value > hi, hi, value)))
    return out


def _table(values, width=None):
    values = list(values)
    width = width or max(1, max(values).bit_length())
    return Array(Const(v, width) for v in values)


class Engine(wiring.Component):
    """Training engine of the MLP ``cfg.layers`` on a ``cfg.array_rows x cfg.array_cols`` array.

    Ports
    -----
    engine : In(fewmul.hw.link.EnginePortSignature())
        Commands from the link (the engine is the target).
    mem : In(fewmul.hw.link.MemoryPortSignature(word_bits=weight_bits, n_regions=2 * n_layers))
        Word access to weights (region ``2l``, ``w[i, j]`` at ``i * N_l + j``) and biases
        (region ``2l + 1``). Served only while no command runs (the link is stop-and-wait).
    busy : Out(1)
        A command is executing.
    """

    def __init__(self, cfg):
        self._plan = EnginePlan(cfg)
        self._cfg = cfg
        super().__init__({
            "engine": In(EnginePortSignature()),
            "mem": In(MemoryPortSignature(word_bits=cfg.weight_bits, n_regions=2 * cfg.n_layers)),
            "busy": Out(1),
        })

    @property
    def cfg(self):
        return self._cfg

    @property
    def depths(self):
        """Region depths of the memory port (``fewmul.protocol.memory_map``)."""
        return tuple(r.depth for r in memory_map(self._cfg))

    @property
    def sample_bytes(self):
        return self._cfg.layers[0]

    def elaborate(self, platform):
        cfg, plan = self._cfg, self._plan
        m = Module()
        R, C, L = plan.rows, plan.cols, plan.n_layers
        r_log, c_log = R.bit_length() - 1, C.bit_length() - 1
        ab, wb, eb, B = cfg.act_bits, cfg.weight_bits, cfg.err_bits, cfg.rand_bits
        F, Wf, E = cfg.act_frac, cfg.weight_frac, cfg.err_frac

        m.submodules.array = array = PEArray(cfg)
        cmd = array.cmd.payload
        lr_offset = Signal(range(cfg.lr_range + 1))        # run-time lr_shift - cfg.lr_shift (LR)
        m.d.comb += array.lr_offset.eq(lr_offset)

        # -- memories -------------------------------------------------------------------------
        def mem(name, shape, depth):
            mm = memory.Memory(shape=shape, depth=max(depth, 1), init=[])
            m.submodules[name] = mm
            return mm

        w_mem = mem("weights", C * wb, plan.w_depth)
        b_mem = mem("biases", wb, plan.b_depth)
        x_mem = mem("inputs", C * ab, plan.tc_depth)
        mask_mem = mem("masks", 1, plan.b_depth)
        d_mem = mem("errors", R * eb, plan.tr_depth)
        u_mem = mem("draws_u", C * B, plan.tc_depth)
        q_mem = mem("draws_q", C * B, plan.tc_depth)
        u2_mem = mem("draws_u2", C * B, plan.tc_depth)
        v_mem = mem("draws_v", R * B, plan.tr_depth)
        v2_mem = mem("draws_v2", R * B, plan.tr_depth)

        w_rd, w_wr = w_mem.read_port(), w_mem.write_port(granularity=wb)
        b_rd, b_wr = b_mem.read_port(), b_mem.write_port()
        x_rd, x_wr = x_mem.read_port(), x_mem.write_port(granularity=ab)
        mask_rd, mask_wr = mask_mem.read_port(), mask_mem.write_port()
        d_rd, d_wr = d_mem.read_port(), d_mem.write_port(granularity=eb)
        u_rd, u_wr = u_mem.read_port(), u_mem.write_port(granularity=B)
        q_rd, q_wr = q_mem.read_port(), q_mem.write_port(granularity=B)
        u2_rd, u2_wr = u2_mem.read_port(), u2_mem.write_port(granularity=B)
        v_rd, v_wr = v_mem.read_port(), v_mem.write_port(granularity=B)
        v2_rd, v2_wr = v2_mem.read_port(), v2_mem.write_port(granularity=B)
        v2_post = v2_mem.read_port()
        scores_mem = mem("scores", 16, cfg.layers[-1])           # PREDICT's answer
        scores_wr, scores_rd = scores_mem.write_port(), scores_mem.read_port(domain="comb")

        def lane_write(port, lanes, lane, value):
            m.d.comb += [port.data.eq(Cat(*([value] * lanes))),
                         port.en.eq((Const(1, lanes) << lane)[:lanes])]

        # -- per-layer constant tables --------------------------------------------------------
        t_n, t_m = _table(plan.n), _table(plan.m)
        t_tc, t_tr = _table(plan.tc), _table(plan.tr)
        t_w_base = _table(plan.w_base + (plan.w_depth,))
        t_b_base = _table(plan.b_base + (plan.b_depth,))
        t_tc_base = _table(plan.tc_base + (plan.tc_depth,))
        t_tr_base = _table(plan.tr_base + (plan.tr_depth,))
        t_tile_step = _table(R * tc for tc in plan.tc)          # R rows of weights
        t_draws = _table(max(n, mm) for n, mm in zip(plan.n, plan.m, strict=True))

        # -- random streams -------------------------------------------------------------------
        streams = []
        for k in range(SEED_STREAMS):
            s = Xorshift32(bits=B)
            m.submodules[f"stream{k}"] = s
            streams.append(s)
        col_streams = [(streams[0], u_wr), (streams[2], q_wr), (streams[3], u2_wr)]
        row_streams = [(streams[1], v_wr), (streams[4], v2_wr)]

        # -- engine state ----------------------------------------------------------------------
        opcode = Signal(8)
        length = Signal(16)
        index = Signal(16)
        label = Signal(8)
        seed_bits = Signal(32 * SEED_STREAMS)
        seeded = Signal()
        training = Signal()
        status = Signal(8)
        answer = Signal(8)
        answer_length = Signal(16)
        steps = Signal(32)
        predictions = Signal(32)
        cycles = Signal(32)
        clips = [Signal(32, name=f"clips_{layer}") for layer in range(L)]
        counting = Signal()

        layer = Signal(range(L + 1))
        tr = Signal(range(max(plan.tr) + 1))
        tc = Signal(range(max(plan.tc) + 1))
        k = Signal(range(max(R, C) + 1))
        row0 = Signal(range(max(plan.tr) * R + 1))          # tr * R
        col0 = Signal(range(max(plan.tc) * C + 1))          # tc * C
        tr_addr = Signal(range(plan.w_depth + max(plan.tc) * R + 1))
        row_addr = Signal(range(plan.w_depth + max(plan.tc) * (R + 1) + 2))
        backward_phase = Signal()

        n_l, m_l = t_n[layer], t_m[layer]
        tc_l, tr_l = t_tc[layer], t_tr[layer]
        last_layer = layer == L - 1

        # -- issue stage: sequencer request (A) -> registered command with memory data (B) ----
        a_valid = Signal()
        a_op = Signal(Op)
        a_w_addr = Signal.like(row_addr)
        a_row_valid = Signal()
        b_valid = Signal()
        b_op = Signal(Op)
        b_w_addr = Signal.like(row_addr)
        b_row_valid = Signal()
        b_det = Signal()
        advance = Signal()
        m.d.comb += advance.eq(~b_valid | array.cmd.ready)
        col_word = Signal(range(plan.tc_depth + 1))
        row_word = Signal(range(plan.tr_depth + 1))
        m.d.comb += [col_word.eq(t_tc_base[layer] + tc), row_word.eq(t_tr_base[layer] + tr)]

        host_active = Signal()
        host_w_addr = Signal(range(plan.w_depth + 1))
        for port in (x_rd, d_rd, u_rd, q_rd, u2_rd, v_rd, v2_rd):
            m.d.comb += port.en.eq(advance)
        m.d.comb += [x_rd.addr.eq(col_word), u_rd.addr.eq(col_word), q_rd.addr.eq(col_word),
                     u2_rd.addr.eq(col_word), d_rd.addr.eq(row_word), v_rd.addr.eq(row_word),
                     v2_rd.addr.eq(row_word)]
        m.d.comb += [w_rd.en.eq(Mux(host_active, 1, advance)),
                     w_rd.addr.eq(Mux(host_active, host_w_addr, a_w_addr))]
        with m.If(advance):
            m.d.sync += [b_valid.eq(a_valid), b_op.eq(a_op), b_w_addr.eq(a_w_addr),
                         b_row_valid.eq(a_row_valid), b_det.eq(~training)]
        m.d.comb += [
            array.cmd.valid.eq(b_valid),
            cmd.op.eq(b_op),
            cmd.deterministic.eq(b_det),
            cmd.x.eq(x_rd.data), cmd.u.eq(u_rd.data), cmd.q.eq(q_rd.data),
            cmd.u2.eq(u2_rd.data), cmd.delta.eq(d_rd.data), cmd.v.eq(v_rd.data),
            cmd.v2.eq(v2_rd.data),
            cmd.weights.eq(Mux(b_row_valid, w_rd.data, 0)),
        ]

        def issue(op):
            m.d.comb += [a_valid.eq(1), a_op.eq(op), a_w_addr.eq(row_addr),
                         a_row_valid.eq(row0 + k < m_l)]

        # -- results: accumulate sums, write READ rows back -----------------------------------
        res = array.result
        m.d.comb += res.ready.eq(1)
        acc = [Signal(signed(plan.acc_bits), name=f"acc_{i}") for i in range(R)]
        grad = [Signal(signed(plan.grad_bits), name=f"grad_{j}") for j in range(C)]
        m.submodules.writeback = writeback = SyncFIFO(width=len(row_addr) + 1,
                                                      depth=array.fifo_depth + 2)
        m.d.comb += [writeback.w_data.eq(Cat(b_w_addr, b_row_valid)),
                     writeback.w_en.eq(b_valid & array.cmd.ready & (b_op == Op.READ))]
        engine_w_write = Signal()
        with m.If(res.valid):
            with m.Switch(res.payload.op):
                with m.Case(Op.FORWARD):
                    m.d.sync += [acc[i].eq(acc[i] + res.payload.acc[i]) for i in range(R)]
                with m.Case(Op.BACKWARD):
                    m.d.sync += [grad[j].eq(grad[j] + res.payload.grad[j]) for j in range(C)]
                with m.Case(Op.READ):
                    m.d.comb += [writeback.r_en.eq(1),
                                 engine_w_write.eq(writeback.r_data[-1])]
        drained = Signal()
        m.d.comb += drained.eq(~b_valid & array.idle & ~writeback.r_rdy)

        # -- serial post-processing: stage 1 addresses (P1), stage 2 computes and writes (P2),
        # stage 3 updates the bias (P3, `p2_*` registers) --
        p1_valid = Signal()
        p1_back = Signal()
        p1_index = Signal(range(max(max(plan.tr) * R, max(plan.tc) * C) + 1))
        p1_lane = Signal(range(max(R, C)))
        s1_valid = Signal()
        s1_back = Signal()
        s1_index = Signal.like(p1_index)
        m.d.sync += [p1_valid.eq(s1_valid), p1_back.eq(s1_back), p1_index.eq(s1_index),
                     p1_lane.eq(k)]
        below = Signal(range(L + 1))                       # layer whose biases a pass updates
        m.d.comb += below.eq(Mux(s1_back, layer - 1, layer))
        m.d.comb += [
            b_rd.addr.eq(t_b_base[below] + s1_index),
            mask_rd.addr.eq(t_b_base[below] + s1_index),
            v2_post.addr.eq(t_tr_base[below] + (s1_index >> r_log)),
        ]
        p1_below = Signal.like(below)
        m.d.comb += p1_below.eq(Mux(p1_back, layer - 1, layer))

        # forward: z, y, mask, output error (row p1_index of `layer`, its sum in acc[0])
        bias_a = Signal(signed(wb + 1))
        bias_now = Signal(signed(wb))
        m.d.comb += bias_now.eq(b_rd.data)
        m.d.comb += bias_a.eq(_rshr(bias_now, Wf - F) if Wf >= F else bias_now << (F - Wf))
        z = Signal(signed(max(plan.acc_bits, wb + 1) + 2))
        with m.Switch(layer):
            for l_index, scale in enumerate(cfg.scales):
                with m.Case(l_index):
                    m.d.comb += z.eq(_rshr(acc[0], scale) + bias_a)
        lo = 0 if cfg.activation == "relu" else -(1 << F)
        y_hidden = _clamp(m, z, lo, (1 << F) - 1, ab + 1, "y_hidden")
        mask_value = Signal()
        m.d.comb += mask_value.eq((z > lo) & (z < (1 << F)))
        y_out = _clamp(m, z, -(1 << (F + 2)), (1 << (F + 2)) - 1, F + 4, "y_out")
        is_label = Signal()
        m.d.comb += is_label.eq(p1_index == label)
        margin = Signal(signed(F + 5))
        m.d.comb += margin.eq(Mux(is_label, (1 << F) - y_out, (1 << F) + y_out))
        hinge = Signal(signed(F + 5))
        m.d.comb += hinge.eq(Mux(margin < 0, 0, margin))
        out_error = Signal(signed(F + 7 + E))
        m.d.comb += out_error.eq(Mux(is_label, hinge, -hinge) << (E - F + 1))
        emax = (1 << (eb - 1)) - 1
        delta_out = _clamp(m, out_error, -emax - 1, emax, eb, "delta_out")

        # backward: error of the layer below (column p1_index), its sum in grad[0]
        g_scaled = Signal(signed(plan.grad_bits + 1))
        with m.Switch(layer):
            for l_index, scale in enumerate(cfg.scales):
                with m.Case(l_index):
                    m.d.comb += g_scaled.eq(_rshr(grad[0], scale))
        e_sat = _clamp(m, g_scaled, -emax - 1, emax, eb, "e_sat")
        delta_low = Signal(signed(eb))
        m.d.comb += delta_low.eq(Mux(mask_rd.data, e_sat, 0))

        # bias update of row p1_index of `p1_below` with its error and its v' draw: stage 3,
        # one cycle later from registers (off the error's path; no later read of the same bias
        # comes before the next pass, and the host writes biases only when the engine is idle)
        post_delta = Signal(signed(eb))
        m.d.comb += post_delta.eq(Mux(p1_back, delta_low, delta_out))
        post_b_write = Signal()
        p2_b_write = Signal()
        p2_b_addr = Signal.like(b_wr.addr)
        p2_bias = Signal(signed(wb))
        p2_delta = Signal(signed(eb))
        p2_v2 = Signal(B)
        p2_below = Signal.like(p1_below)
        m.d.sync += [p2_b_write.eq(post_b_write), p2_b_addr.eq(t_b_base[p1_below] + p1_index),
                     p2_bias.eq(bias_now), p2_delta.eq(post_delta), p2_below.eq(p1_below),
                     p2_v2.eq(v2_post.data.word_select(p1_index[:r_log] if r_log else 0, B))]
        m.submodules.bias_step = bias_step = UpdateStep(cfg)
        m.d.comb += [bias_step.delta.eq(p2_delta), bias_step.negative.eq(0),
                     bias_step.shift.eq(0), bias_step.is_zero.eq(0), bias_step.rand.eq(p2_v2),
                     bias_step.lr_offset.eq(lr_offset)]
        bias_new, bias_clipped = saturating_add(m, p2_bias, bias_step.step, wb)

        best_value = Signal(signed(F + 4))
        best_index = Signal(8)

        p1_in_range = Signal()
        m.d.comb += p1_in_range.eq(Mux(p1_back, p1_index < n_l, p1_index < m_l))
        post_x_write = Signal()
        post_mask_write = Signal()
        post_d_write = Signal()
        with m.If(p1_valid):
            with m.If(p1_back):
                m.d.sync += [grad[j].eq(grad[j + 1]) for j in range(C - 1)]
                m.d.sync += grad[C - 1].eq(0)
                with m.If(p1_in_range):
                    m.d.comb += [post_d_write.eq(1), post_b_write.eq(1)]
            with m.Else():
                m.d.sync += [acc[i].eq(acc[i + 1]) for i in range(R - 1)]
                m.d.sync += acc[R - 1].eq(0)
                with m.If(p1_in_range):
                    with m.If(last_layer):
                        m.d.comb += [post_d_write.eq(training), post_b_write.eq(training)]
                        m.d.comb += [scores_wr.addr.eq(p1_index), scores_wr.data.eq(y_out),
                                     scores_wr.en.eq(1)]
                        with m.If((p1_index == 0) | (y_out > best_value)):
                            m.d.sync += [best_value.eq(y_out), best_index.eq(p1_index)]
                    with m.Else():
                        m.d.comb += [post_x_write.eq(1), post_mask_write.eq(1)]

        # write ports shared by several users (never at the same time)
        arg_x_write = Signal()
        arg_element = Signal(16)
        arg_byte = Signal(8)
        with m.If(arg_x_write):
            m.d.comb += x_wr.addr.eq(t_tc_base[0] + (arg_element >> c_log))
            lane_write(x_wr, C, arg_element[:c_log] if c_log else 0, arg_byte[:ab])
        with m.Elif(post_x_write):
            m.d.comb += x_wr.addr.eq(t_tc_base[layer + 1] + (p1_index >> c_log))
            lane_write(x_wr, C, p1_index[:c_log] if c_log else 0, y_hidden[:ab])
        m.d.comb += [mask_wr.addr.eq(t_b_base[layer] + p1_index), mask_wr.data.eq(mask_value),
                     mask_wr.en.eq(post_mask_write)]
        with m.If(post_d_write):
            m.d.comb += d_wr.addr.eq(t_tr_base[p1_below] + (p1_index >> r_log))
            lane_write(d_wr, R, p1_index[:r_log] if r_log else 0, post_delta)

        host_b_write = Signal()
        host_b_addr = Signal(range(plan.b_depth + 1))
        host_data = Signal(wb)
        host_w_lane = Signal(range(C))
        host_w_write = Signal()
        with m.If(host_b_write):
            m.d.comb += [b_wr.addr.eq(host_b_addr), b_wr.data.eq(host_data), b_wr.en.eq(1)]
        with m.Else():
            m.d.comb += [b_wr.addr.eq(p2_b_addr), b_wr.data.eq(bias_new),
                         b_wr.en.eq(p2_b_write)]
        with m.If(host_w_write):
            m.d.comb += w_wr.addr.eq(host_w_addr)
            lane_write(w_wr, C, host_w_lane, host_data)
        with m.Else():
            m.d.comb += [w_wr.addr.eq(writeback.r_data[:-1]), w_wr.data.eq(res.payload.weights),
                         w_wr.en.eq(Mux(engine_w_write, (1 << C) - 1, 0))]

        # -- the sequencer ----------------------------------------------------------------------
        eng = self.engine
        draw_j = Signal(range(max(max(plan.n), max(plan.m)) + 1))
        states = Cat(*(seed_bits[32 * s:32 * s + 32] != 0 for s in range(SEED_STREAMS)))
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)
        # saturation events per layer: the array's clipped weight updates of the layer being
        # updated, and a clipped bias update (post-processing stage 3) of `p2_below`, registered
        # first (off the bias update's path; the counts are read only after the command's answer)
        bias_clip = Signal()
        bias_clip_layer = Signal.like(p2_below)
        m.d.sync += [bias_clip.eq(p2_b_write & ~host_b_write & bias_clipped),
                     bias_clip_layer.eq(p2_below)]
        for l_index, counter in enumerate(clips):
            weight_events = Mux(layer == l_index, array.clips, 0)
            bias_events = Mux(bias_clip_layer == l_index, bias_clip, 0)
            m.d.sync += counter.eq(counter + weight_events + bias_events)

        def start_tiles(new_layer, backward):
            """First tile of a layer pass (forward: row tiles outer; backward: column tiles)."""
            base = t_w_base[new_layer]
            m.d.sync += [layer.eq(new_layer), tr.eq(0), tc.eq(0), k.eq(0), row0.eq(0),
                         col0.eq(0), tr_addr.eq(base), row_addr.eq(base),
                         backward_phase.eq(backward)]
            m.next = "LOAD"

        def finish(answer_byte=None, length_=0):
            m.d.sync += [status.eq(ErrorCode.OK), answer_length.eq(length_), index.eq(0)]
            if answer_byte is not None:
                m.d.sync += answer.eq(answer_byte)
            m.next = "ANSWER"

        def fail(code):
            m.d.sync += [status.eq(code), answer_length.eq(0), index.eq(0)]
            m.next = "ANSWER"

        with m.FSM(name="engine") as fsm:
            with m.State("IDLE"):
                with m.If(eng.cmd.valid):
                    m.d.sync += [opcode.eq(eng.cmd.payload.opcode),
                                 length.eq(eng.cmd.payload.length), index.eq(0)]
                    with m.If(eng.cmd.payload.length == 0):
                        m.next = "EXECUTE"
                    with m.Else():
                        m.next = "ARGUMENT"

            with m.State("ARGUMENT"):
                with m.If(eng.arg.valid):
                    byte = eng.arg.payload
                    m.d.sync += [seed_bits.eq(Cat(seed_bits[8:], byte)), index.eq(index + 1)]
                    with m.If((opcode == Opcode.TRAIN) & (index == 0)):
                        m.d.sync += label.eq(byte)
                    m.d.comb += [arg_byte.eq(byte),
                                 arg_element.eq(index - (opcode == Opcode.TRAIN))]
                    with m.If(((opcode == Opcode.TRAIN) & (index != 0)
                               | (opcode == Opcode.PREDICT))
                              & (arg_element < self.sample_bytes)):
                        m.d.comb += arg_x_write.eq(1)
                    with m.If(index == length - 1):
                        m.next = "EXECUTE"

            with m.State("EXECUTE"):
                with m.Switch(opcode):
                    with m.Case(Opcode.RESET):
                        m.d.sync += [seeded.eq(0), steps.eq(0), predictions.eq(0),
                                     cycles.eq(0), lr_offset.eq(0)]
                        m.d.sync += [counter.eq(0) for counter in clips]
                        finish()
                    with m.Case(Opcode.LR):
                        lr_byte = seed_bits[-8:]
                        with m.If(length != 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif((lr_byte < cfg.lr_shift)
                                    | (lr_byte > cfg.lr_shift + cfg.lr_range)):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += lr_offset.eq(lr_byte - cfg.lr_shift)
                            finish()
                    with m.Case(Opcode.SEED):
                        with m.If(length != 4 * SEED_STREAMS):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~states.all()):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            for s, stream_ in enumerate(streams):
                                m.d.comb += [stream_.load.eq(1),
                                             stream_.seed.eq(seed_bits[32 * s:32 * s + 32])]
                            m.d.sync += seeded.eq(1)
                            finish()
                    with m.Case(Opcode.TRAIN):
                        with m.If(length != self.sample_bytes + 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~seeded):
                            fail(ErrorCode.BAD_STATE)
                        with m.Elif(label >= cfg.layers[-1]):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += [training.eq(1), layer.eq(0), draw_j.eq(0),
                                         counting.eq(1)]
                            m.next = "DRAW"
                    with m.Case(Opcode.PREDICT):
                        with m.If(length != self.sample_bytes):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += training.eq(0)
                            start_tiles(0, 0)
                    with m.Case(Opcode.COUNTERS):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            finish(length_=4 * len(counter_names(cfg)))
                    with m.Default():
                        fail(ErrorCode.BAD_ARG)

            with m.State("DRAW"):
                for stream_, port in col_streams:
                    with m.If(draw_j < n_l):
                        m.d.comb += [stream_.advance.eq(1),
                                     port.addr.eq(t_tc_base[layer] + (draw_j >> c_log))]
                        lane_write(port, C, draw_j[:c_log] if c_log else 0, stream_.draw)
                for stream_, port in row_streams:
                    with m.If(draw_j < m_l):
                        m.d.comb += [stream_.advance.eq(1),
                                     port.addr.eq(t_tr_base[layer] + (draw_j >> r_log))]
                        lane_write(port, R, draw_j[:r_log] if r_log else 0, stream_.draw)
                m.d.sync += draw_j.eq(draw_j + 1)
                with m.If(draw_j == t_draws[layer] - 1):
                    m.d.sync += [draw_j.eq(0), layer.eq(layer + 1)]
                    with m.If(last_layer):
                        start_tiles(0, 0)

            with m.State("LOAD"):
                issue(Op.LOAD)
                with m.If(advance):
                    m.d.sync += [k.eq(k + 1), row_addr.eq(row_addr + tc_l)]
                    with m.If(k == R - 1):
                        m.d.sync += k.eq(0)
                        with m.If(~backward_phase):
                            m.next = "FORWARD"
                        with m.Elif(layer != 0):
                            m.next = "BACKWARD"
                        with m.Else():
                            m.next = "UPDATE"

            with m.State("FORWARD"):
                issue(Op.FORWARD)
                with m.If(advance):
                    with m.If(tc == tc_l - 1):
                        m.next = "WAIT"
                    with m.Else():
                        m.d.sync += [tc.eq(tc + 1), col0.eq(col0 + C),
                                     row_addr.eq(tr_addr + tc + 1)]
                        m.next = "LOAD"

            with m.State("BACKWARD"):
                issue(Op.BACKWARD)
                with m.If(advance):
                    m.next = "UPDATE"

            with m.State("UPDATE"):
                issue(Op.UPDATE)
                with m.If(advance):
                    m.d.sync += [k.eq(0), row_addr.eq(tr_addr + tc)]
                    m.next = "READ"

            with m.State("READ"):
                issue(Op.READ)
                with m.If(advance):
                    m.d.sync += [k.eq(k + 1), row_addr.eq(row_addr + tc_l)]
                    with m.If(k == R - 1):
                        m.d.sync += k.eq(0)
                        with m.If(tr == tr_l - 1):
                            m.next = "WAIT"
                        with m.Else():
                            step = t_tile_step[layer]
                            m.d.sync += [tr.eq(tr + 1), row0.eq(row0 + R),
                                         tr_addr.eq(tr_addr + step),
                                         row_addr.eq(tr_addr + step + tc)]
                            m.next = "LOAD"

            with m.State("WAIT"):
                with m.If(drained):
                    m.d.sync += k.eq(0)
                    with m.If(backward_phase & (layer == 0)):
                        m.next = "NEXT"
                    with m.Else():
                        m.next = "POST"

            with m.State("POST"):
                m.d.comb += [s1_valid.eq(1), s1_back.eq(backward_phase),
                             s1_index.eq(Mux(backward_phase, col0 + k, row0 + k))]
                m.d.sync += k.eq(k + 1)
                with m.If(k == Mux(backward_phase, C - 1, R - 1)):
                    m.next = "NEXT"

            with m.State("NEXT"):           # the last element's stage 2 runs here, its 3 next
                with m.If(~backward_phase):
                    with m.If(tr != tr_l - 1):
                        step = t_tile_step[layer]
                        m.d.sync += [tr.eq(tr + 1), row0.eq(row0 + R), tc.eq(0), col0.eq(0),
                                     tr_addr.eq(tr_addr + step), row_addr.eq(tr_addr + step),
                                     k.eq(0)]
                        m.next = "LOAD"
                    with m.Elif(~last_layer):
                        start_tiles(layer + 1, 0)
                    with m.Elif(training):
                        start_tiles(layer, 1)
                    with m.Else():
                        m.d.sync += predictions.eq(predictions + 1)
                        m.next = "RESULT"            # after the last row's argmax update
                with m.Else():
                    with m.If(tc != tc_l - 1):
                        base = t_w_base[layer]
                        m.d.sync += [tc.eq(tc + 1), col0.eq(col0 + C), tr.eq(0), row0.eq(0),
                                     tr_addr.eq(base), row_addr.eq(base + tc + 1), k.eq(0)]
                        m.next = "LOAD"
                    with m.Elif(layer != 0):
                        start_tiles(layer - 1, 1)
                    with m.Else():
                        m.d.sync += [steps.eq(steps + 1), counting.eq(0)]
                        finish(best_index, 1)

            with m.State("RESULT"):                 # class, then the scores (LE16 each)
                finish(best_index, 1 + 2 * cfg.layers[-1])

            with m.State("ANSWER"):
                counter_bytes = Cat(steps, predictions, cycles, *clips)
                score_k = Signal(16)
                m.d.comb += [score_k.eq(index - 2), scores_rd.addr.eq(score_k >> 1)]
                score_byte = Mux(score_k[0], scores_rd.data[8:], scores_rd.data[:8])
                with m.If(opcode == Opcode.COUNTERS):
                    m.d.comb += eng.resp.payload.data.eq(
                        Array([status] + [counter_bytes[8 * b:8 * b + 8]
                                          for b in range(4 * len(counter_names(cfg)))])[index])
                with m.Else():
                    m.d.comb += eng.resp.payload.data.eq(
                        Mux(index == 0, status, Mux(index == 1, answer, score_byte)))
                m.d.comb += eng.resp.payload.last.eq((index == answer_length)
                                                     | (status != ErrorCode.OK))
                with m.If(eng.resp.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(eng.resp.payload.last):
                        m.next = "IDLE"

        # handshakes as plain functions of the state (see the Icarus note in fewmul.hw.link)
        m.d.comb += [eng.cmd.ready.eq(fsm.ongoing("IDLE") & ~host_active),
                     eng.arg.ready.eq(fsm.ongoing("ARGUMENT")),
                     eng.resp.valid.eq(fsm.ongoing("ANSWER")),
                     self.busy.eq(~fsm.ongoing("IDLE"))]

        # -- host memory port: word access to weights and biases while idle ---------------------
        self._host_port(m, fsm, plan, w_rd, b_rd, host_active, host_w_addr, host_w_lane,
                        host_w_write, host_b_addr, host_b_write, host_data, t_n, t_tc,
                        t_w_base, t_b_base, c_log)
        return m

    def _host_port(self, m, fsm, plan, w_rd, b_rd, host_active, host_w_addr, host_w_lane,
                   host_w_write, host_b_addr, host_b_write, host_data, t_n, t_tc, t_w_base,
                   t_b_base, c_log):
        """Region ``2l`` address ``a = i N + j`` -> word ``w_base + i TC + j // C``, lane
        ``j % C``: the row is found by stepping ``N`` at a time from the last one used, so
        sequential access costs one cycle per word and no divider is needed."""
        cfg = self._cfg
        wb = cfg.weight_bits
        bus = self.mem
        c = bus.cmd.payload
        write = Signal()
        layer = Signal(range(cfg.n_layers + 1))
        address = Signal(16)
        conv_layer = Signal(range(cfg.n_layers + 1), init=cfg.n_layers)   # none yet
        row_start = Signal(17)                                 # i * N
        row_word = Signal(range(plan.w_depth + max(plan.tc) + 1))  # w_base + i * TC
        lane_value = Signal(wb)
        lane = Signal(range(cfg.array_cols))
        read_bias = Signal()
        n_here = t_n[layer]
        j = Signal(17)
        m.d.comb += [j.eq(address - row_start), host_w_lane.eq(lane)]

        with m.FSM(name="host") as host:
            with m.State("IDLE"):
                with m.If(bus.cmd.valid & bus.cmd.ready):
                    m.d.sync += [write.eq(c.write), layer.eq(c.region >> 1),
                                 address.eq(c.address),
                                 host_data.eq(c.data)]
                    with m.If(c.region[0]):
                        m.next = "BIAS"
                    with m.Else():
                        with m.If(conv_layer != (c.region >> 1)):
                            m.d.sync += [conv_layer.eq(c.region >> 1), row_start.eq(0),
                                         row_word.eq(t_w_base[c.region >> 1])]
                        m.next = "FIND_ROW"
            with m.State("FIND_ROW"):
                with m.If(address < row_start):
                    m.d.sync += [row_start.eq(row_start - n_here),
                                 row_word.eq(row_word - t_tc[layer])]
                with m.Elif(j >= n_here):
                    m.d.sync += [row_start.eq(row_start + n_here),
                                 row_word.eq(row_word + t_tc[layer])]
                with m.Else():
                    m.d.sync += lane.eq(j[:c_log] if c_log else 0)
                    m.next = "WEIGHT"
            with m.State("WEIGHT"):
                m.d.comb += host_w_addr.eq(row_word + (j >> c_log))
                with m.If(write):
                    m.d.comb += host_w_write.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += read_bias.eq(0)
                    m.next = "READ_DATA"
            with m.State("BIAS"):
                m.d.comb += host_b_addr.eq(t_b_base[layer] + address)
                with m.If(write):
                    m.d.comb += host_b_write.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += read_bias.eq(1)
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                m.d.sync += lane_value.eq(Mux(read_bias, b_rd.data,
                                              w_rd.data.word_select(lane, wb)))
                m.next = "RESPOND"
            with m.State("RESPOND"):
                with m.If(bus.rdata.ready):
                    m.next = "IDLE"
        # handshakes as plain functions of the states (Icarus: see fewmul.hw.link)
        m.d.comb += [host_active.eq(~host.ongoing("IDLE")),
                     bus.cmd.ready.eq(host.ongoing("IDLE") & fsm.ongoing("IDLE")
                                      & ~self.engine.cmd.valid),
                     bus.rdata.valid.eq(host.ongoing("RESPOND")),
                     bus.rdata.payload.eq(lane_value)]
        # the bias read port is the post-processing's: the host steers it while active
        with m.If(host_active):
            m.d.comb += b_rd.addr.eq(host_b_addr)


class EngineSystem(wiring.Component):
    """:class:`fewmul.hw.link.Link` + :class:`Engine`: byte streams ``i`` and ``o`` only.

    ``max_payload`` and ``timeout_cycles`` are the link's (``timeout_cycles >= 20 *`` the UART
    divisor on a board).
    """

    def __init__(self, cfg, *, max_payload=256, timeout_cycles=1000):
        self.engine = Engine(cfg)
        self.link = Link(word_bits=cfg.weight_bits, depths=self.engine.depths,
                         max_payload=max_payload, timeout_cycles=timeout_cycles)
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8)),
                          "busy": Out(1)})

    @property
    def cfg(self):
        return self.engine.cfg

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = self.link
        m.submodules.engine = self.engine
        wiring.connect(m, wiring.flipped(self.i), self.link.i)
        wiring.connect(m, self.link.o, wiring.flipped(self.o))
        wiring.connect(m, self.link.mem, self.engine.mem)
        wiring.connect(m, self.link.engine, self.engine.engine)
        m.d.comb += self.busy.eq(self.engine.busy)
        return m


class EngineUartSystem(wiring.Component):
    """Board form: :class:`fewmul.hw.host_link.HostLink` (UART + link) + :class:`Engine`.

    Ports: ``rx`` / ``tx`` (UART pins, 8N1, ``divisor`` clocks per bit) and ``busy``.
    """

    def __init__(self, cfg, *, divisor, max_payload=256, timeout_cycles=None):
        from .host_link import HostLink
        self.engine = Engine(cfg)
        self.host_link = HostLink(divisor=divisor, word_bits=cfg.weight_bits,
                                  depths=self.engine.depths, max_payload=max_payload,
                                  timeout_cycles=timeout_cycles)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    @property
    def cfg(self):
        return self.engine.cfg

    def elaborate(self, platform):
        m = Module()
        m.submodules.host_link = self.host_link
        m.submodules.engine = self.engine
        wiring.connect(m, self.host_link.mem, self.engine.mem)
        wiring.connect(m, self.host_link.engine, self.engine.engine)
        m.d.comb += [self.host_link.rx.eq(self.rx), self.tx.eq(self.host_link.tx),
                     self.busy.eq(self.engine.busy)]
        return m
