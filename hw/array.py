"""The processing-element array: forward, backward and update of one ``R x C`` weight tile.

Port list (stable; ``hw/baseline.py`` and the board tops mirror it)
--------------------------------------------------------------------
``PEArray(cfg)`` with ``R = cfg.array_rows`` (outputs ``i``), ``C = cfg.array_cols`` (inputs
``j``), ``B = cfg.rand_bits``. Two streams and one status bit, all in the ``sync`` domain::

    cmd       : In(stream.Signature(command_layout(cfg)))  one command per handshake
    lr_offset : In(range(cfg.lr_range + 1))               UPDATE: run-time learning-rate offset
    result    : Out(stream.Signature(result_layout(cfg))) one result per FORWARD/BACKWARD/READ
    idle      : Out(1)                                     no command in progress or in flight

``PEArray`` also has ``clips : Out(range(C + 1))``: how many weights of the row written in the
previous cycle saturated (``w + step`` outside the ``weight_bits`` range; 0 unless an UPDATE
writes), what the training engine's per-layer saturation counters add up (twin:
``fewmul.golden.array.update_tile_clips``). The multiplier baseline, which no engine drives,
has no such port.

``lr_offset`` sets the learning rate of UPDATE to ``2^-(lr_shift + lr_offset)``,
``0 <= lr_offset <= cfg.lr_range`` (``cfg.lr_shifts``), bit-identical to the golden model at
``cfg.replace(lr_shift=cfg.lr_shift + lr_offset)``. It is held constant while an UPDATE runs
(the array reads it at the UPDATE's ``cmd`` handshake, like a payload field, so it may change
from the next handshake on); other operations ignore it. Unconnected, it is 0.

``cmd.payload`` (a ``data.StructLayout``; fields an operation does not read are ignored):

    op            Op (3 bits)                 FORWARD, BACKWARD, UPDATE, LOAD, READ
    deterministic 1                           FORWARD/BACKWARD: deterministic signs (inference)
    x             C x signed(act_bits)        FORWARD, UPDATE: layer input x[j]
    u             C x unsigned(B)             FORWARD, BACKWARD: column sampling draws u[j]
    q             C x unsigned(B)             UPDATE: quantizer draws q[j]
    u2            C x unsigned(B)             UPDATE: column rounding draws u'[j]
    weights       C x signed(weight_bits)     LOAD: one row of weights
    delta         R x signed(err_bits)        BACKWARD, UPDATE: errors δ[i]
    v             R x unsigned(B)             FORWARD, BACKWARD: row sampling draws v[i]
    v2            R x unsigned(B)             UPDATE: row rounding draws v'[i]

``result.payload``:

    op            Op                          which command produced it
    acc           R x signed(acc_width)       FORWARD: acc[i] = sum_j s[i,j] x[j]   (exact)
    grad          C x signed(grad_width)      BACKWARD: g[j] = sum_i s[i,j] δ[i]    (exact)
    weights       C x signed(weight_bits)     READ: one row of weights

with ``acc_width = act_bits + bit_length(C)`` and ``grad_width = err_bits + bit_length(R)``
(the exact range of a sum of ``C`` values in ``[-2^(bits-1), 2^(bits-1)]``).

Operations (``docs/datapath.md`` sections 3, 5, 7, 8; ``docs/array.md`` for the organisation):

- ``FORWARD``: sample ``s[i,j]`` from the stored weights with ``r[i,j] = u[j] XOR v[i]`` and
  return the row sums ``acc``. Throughput 1 per cycle, latency :attr:`PEArray.latency`.
- ``BACKWARD``: the same signs (same weights, same ``u``, ``v``: pass the forward's draws) and
  the column sums ``grad`` of ``s[i,j] δ[i]``. Throughput 1 per cycle.
- ``UPDATE``: ``w[i,j] = sat(w[i,j] + round(δ[i] Q(x[j]) 2^-lr))`` for the whole tile, with the
  quantizer draws ``q``, rounding draws ``u'[j] XOR v'[i]`` and ``lr = lr_shift + lr_offset``.
  Occupies the array for :attr:`PEArray.update_cycles` cycles; no result.
- ``LOAD``: push one row into the tile; after ``R`` LOADs the first row pushed is row 0.
  No result. Throughput 1 per cycle.
- ``READ``: return row 0 and rotate it back in as row ``R - 1``; ``R`` READs return rows
  ``0 .. R-1`` in order and leave the tile as it was. Throughput 1 per cycle.

Commands execute in order and results come out in order; back-pressure on ``result`` stalls
``cmd`` (never the datapath: results land in an output FIFO that is never overrun).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..config import Config
from ._checks import refusable
from .adder_tree import adder_tree, delay, tree_depth
from .pe import PE
from .quantizer import Quantizer
from .update import UpdateRound, UpdateShift, saturating_add

__all__ = ["Op", "PEArray", "array_members", "command_layout", "result_layout", "acc_width",
           "grad_width", "result_fifo", "tree_depth"]


class Op(enum.Enum, shape=3):
    """Array operations (``cmd.payload.op``)."""

    FORWARD = 0
    BACKWARD = 1
    UPDATE = 2
    LOAD = 3
    READ = 4


def acc_width(cfg):
    """Width of a forward partial sum over ``cfg.array_cols`` inputs (exact, never wraps)."""
    return cfg.act_bits + cfg.array_cols.bit_length()


def grad_width(cfg):
    """Width of a backward partial sum over ``cfg.array_rows`` errors (exact, never wraps)."""
    return cfg.err_bits + cfg.array_rows.bit_length()


def command_layout(cfg):
    """``data.StructLayout`` of ``cmd.payload`` (see the module docstring)."""
    rows, cols, bits = cfg.array_rows, cfg.array_cols, cfg.rand_bits
    return data.StructLayout({
        "op": Op,
        "deterministic": 1,
        "x": data.ArrayLayout(signed(cfg.act_bits), cols),
        "u": data.ArrayLayout(bits, cols),
        "q": data.ArrayLayout(bits, cols),
        "u2": data.ArrayLayout(bits, cols),
        "weights": data.ArrayLayout(signed(cfg.weight_bits), cols),
        "delta": data.ArrayLayout(signed(cfg.err_bits), rows),
        "v": data.ArrayLayout(bits, rows),
        "v2": data.ArrayLayout(bits, rows),
    })


def result_layout(cfg):
    """``data.StructLayout`` of ``result.payload`` (see the module docstring)."""
    return data.StructLayout({
        "op": Op,
        "acc": data.ArrayLayout(signed(acc_width(cfg)), cfg.array_rows),
        "grad": data.ArrayLayout(signed(grad_width(cfg)), cfg.array_cols),
        "weights": data.ArrayLayout(signed(cfg.weight_bits), cfg.array_cols),
    })


def array_members(cfg):
    """The ports of :class:`PEArray` (see the module docstring); the multiplier baseline
    ``fewmul.hw.baseline.MultiplierArray`` takes the same, so the two are interchangeable."""
    return {
        "cmd": In(stream.Signature(command_layout(cfg))),
        "lr_offset": In(range(cfg.lr_range + 1)),
        "result": Out(stream.Signature(result_layout(cfg))),
        "idle": Out(1),
    }


def result_fifo(m, cfg, result, *, depth, accept, produces):
    """The output FIFO of an array (``PEArray``, ``hw.baseline.MultiplierArray``) and its
    credit: ``depth`` entries of ``result_layout(cfg)`` drive the ``result`` stream, and
    ``in_flight`` counts the commands accepted (``accept``) that will write one (``produces``)
    and have not yet. Returns ``(fifo, in_flight, room)``: the caller writes ``fifo.w_en`` /
    ``w_data`` and accepts a producing command only while ``room`` (its result will fit), so
    back-pressure never has to stall the pipeline."""
    m.submodules.fifo = fifo = SyncFIFOBuffered(width=result_layout(cfg).size, depth=depth)
    m.d.comb += [
        result.payload.eq(fifo.r_data),
        result.valid.eq(fifo.r_rdy),
        fifo.r_en.eq(result.ready),
    ]
    in_flight = Signal(range(depth + 1))                       # accepted, not yet in the FIFO
    m.d.sync += in_flight.eq(in_flight + (accept & produces) - fifo.w_en)
    return fifo, in_flight, fifo.level + in_flight < depth


class PEArray(wiring.Component):
    """Weight-stationary ``R x C`` array of multiplier-free processing elements.

    Organisation (``docs/array.md``): each :class:`~fewmul.hw.pe.PE` holds one weight and
    samples its sign with one XOR and one compare; forward products are reduced along each row
    and backward products along each column by registered binary adder trees (one level per
    cycle). Each column's weights form a shift chain closed through a *column unit* (a
    :class:`~fewmul.hw.quantizer.Quantizer`, the two halves of
    :class:`~fewmul.hw.update.UpdateStep` (:class:`~fewmul.hw.update.UpdateShift` with its
    barrel shifter, :class:`~fewmul.hw.update.UpdateRound`) with a register after each, and a
    saturating adder): UPDATE, LOAD and READ move rows through it one per cycle, so the
    ``R x C`` PEs need no shifter and no adder of their own. Results go through a
    FIFO sized so that the datapath never stalls; commands are refused while it could overflow.
    """

    @refusable
    def __init__(self, cfg):
        if not isinstance(cfg, Config):
            raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
        self._cfg = cfg
        super().__init__({**array_members(cfg), "clips": Out(range(cfg.array_cols + 1))})

    @property
    def cfg(self):
        return self._cfg

    @property
    def rows(self):
        return self._cfg.array_rows

    @property
    def cols(self):
        return self._cfg.array_cols

    @property
    def tree_depth(self):
        """Adder-tree levels of the deeper of the row and column trees."""
        return max(tree_depth(self.cols), tree_depth(self.rows))

    @property
    def pipeline_depth(self):
        """Cycles from a FORWARD/BACKWARD handshake to its result entering the output FIFO."""
        return 3 + self.tree_depth

    @property
    def latency(self):
        """Cycles from a FORWARD/BACKWARD handshake on ``cmd`` to ``result.valid`` (idle array,
        ``result.ready`` high): issue register, product register, ``tree_depth`` tree levels,
        FIFO write, FIFO output register."""
        return self.pipeline_depth + 1

    @property
    def read_latency(self):
        """Cycles from a READ handshake to ``result.valid`` (idle array)."""
        return 3

    @property
    def update_cycles(self):
        """Cycles from an UPDATE's handshake to the next command's earliest handshake: the
        handshake, ``R`` rows selected one per cycle, then the shift, round and write stages
        of the last row (``cmd.ready`` is low in between)."""
        return self.rows + 4

    @property
    def fifo_depth(self):
        return self.pipeline_depth + 2

    @property
    def throughput(self):
        """FORWARD, BACKWARD, LOAD and READ commands per cycle (UPDATE: 1 per ``update_cycles``)."""
        return 1

    def elaborate(self, platform):
        cfg = self._cfg
        rows, cols = self.rows, self.cols
        m = Module()
        cmd = self.cmd.payload
        accept = Signal()
        m.d.comb += accept.eq(self.cmd.valid & self.cmd.ready)

        # -- issue registers: what travels along columns (x, -x, u) and rows (δ, -δ, v) ------
        x_r = [Signal(signed(cfg.act_bits), name=f"x_{j}", reset_less=True) for j in range(cols)]
        xn_r = [Signal(signed(cfg.act_bits + 1), name=f"x_neg_{j}", reset_less=True)
                for j in range(cols)]
        u_r = [Signal(cfg.rand_bits, name=f"u_{j}", reset_less=True) for j in range(cols)]
        d_r = [Signal(signed(cfg.err_bits), name=f"delta_{i}", reset_less=True)
               for i in range(rows)]
        dn_r = [Signal(signed(cfg.err_bits + 1), name=f"delta_neg_{i}", reset_less=True)
                for i in range(rows)]
        v_r = [Signal(cfg.rand_bits, name=f"v_{i}", reset_less=True) for i in range(rows)]
        det_r = Signal(reset_less=True)
        is_fb = (cmd.op == Op.FORWARD) | (cmd.op == Op.BACKWARD)
        # Loaded every cycle, accepted or not: what follows a cycle without a FORWARD/BACKWARD
        # is flagged invalid by the valid pipeline. No enable, so the handshake (which depends
        # on the FIFO level) does not fan out to these registers.
        m.d.sync += det_r.eq(cmd.deterministic)
        for j in range(cols):
            m.d.sync += [x_r[j].eq(cmd.x[j]), xn_r[j].eq(-cmd.x[j]), u_r[j].eq(cmd.u[j])]
        for i in range(rows):
            m.d.sync += [d_r[i].eq(cmd.delta[i]), dn_r[i].eq(-cmd.delta[i]),
                         v_r[i].eq(cmd.v[i])]

        # -- the PE grid and its column shift chains ------------------------------------------
        rotate = Signal()
        top_in = [Signal(signed(cfg.weight_bits), name=f"top_in_{j}") for j in range(cols)]
        pes = [[PE(cfg) for _ in range(cols)] for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                pe = pes[i][j]
                m.submodules[f"pe_{i}_{j}"] = pe
                m.d.comb += [
                    pe.weight_in.eq(pes[i + 1][j].weight if i + 1 < rows else top_in[j]),
                    pe.rotate.eq(rotate),
                    pe.u.eq(u_r[j]), pe.v.eq(v_r[i]), pe.deterministic.eq(det_r),
                    pe.x.eq(x_r[j]), pe.x_neg.eq(xn_r[j]),
                    pe.delta.eq(d_r[i]), pe.delta_neg.eq(dn_r[i]),
                ]
        row0 = [pes[0][j].weight for j in range(cols)]

        # -- row and column adder trees, equalised to the same depth ---------------------------
        depth = self.tree_depth
        acc = []
        for i in range(rows):
            total, levels = adder_tree(m, [pes[i][j].forward for j in range(cols)], f"acc{i}")
            acc.append(delay(m, total, depth - levels, f"acc{i}"))
        grad = []
        for j in range(cols):
            total, levels = adder_tree(m, [pes[i][j].backward for i in range(rows)], f"grad{j}")
            grad.append(delay(m, total, depth - levels, f"grad{j}"))

        # valid / op pipeline: issue, product, tree levels
        stages = 2 + depth
        valid = Signal(stages)
        backward = Signal(stages)
        m.d.sync += [valid.eq(Cat(accept & is_fb, valid[:-1])),
                     backward.eq(Cat(cmd.op == Op.BACKWARD, backward[:-1]))]

        # -- LOAD / READ: one row through the chain per command, one cycle after it -----------
        row_op = Signal()
        row_read = Signal()
        load_row = [Signal(signed(cfg.weight_bits), name=f"load_{j}", reset_less=True)
                    for j in range(cols)]
        is_row = (cmd.op == Op.LOAD) | (cmd.op == Op.READ)
        m.d.sync += [row_op.eq(accept & is_row), row_read.eq(cmd.op == Op.READ)]
        m.d.sync += [load_row[j].eq(cmd.weights[j]) for j in range(cols)]     # used if row_op

        # -- UPDATE: quantize once, then one row per cycle through the column units ------------
        neg_r = [Signal(name=f"q_negative_{j}", reset_less=True) for j in range(cols)]
        shift_r = [Signal(range(cfg.max_shift + 1), name=f"q_shift_{j}", reset_less=True)
                   for j in range(cols)]
        zero_r = [Signal(name=f"q_zero_{j}", reset_less=True) for j in range(cols)]
        u2_r = [Signal(cfg.rand_bits, name=f"u2_{j}", reset_less=True) for j in range(cols)]
        # δ and v' of the rows shift towards row 0 in step with the weights (no R:1 mux)
        ud_r = [Signal(signed(cfg.err_bits), name=f"upd_delta_{i}", reset_less=True)
                for i in range(rows)]
        v2_r = [Signal(cfg.rand_bits, name=f"v2_{i}", reset_less=True) for i in range(rows)]
        lr_r = Signal.like(self.lr_offset, name="upd_lr_offset", reset_less=True)
        is_update = cmd.op == Op.UPDATE
        # Loaded in every cycle the column units are idle (an UPDATE is accepted only then) and
        # held while they work: the enable is ~busy, from registers only. The quantizers work
        # in the cycle after the handshake, from the issue registers x_r (loaded every cycle)
        # and q_r, and their outputs are kept from then on (update_started).
        busy = Signal()
        update_started = Signal()
        m.d.sync += update_started.eq(accept & is_update)
        q_r = [Signal(cfg.rand_bits, name=f"q_{j}", reset_less=True) for j in range(cols)]
        for j in range(cols):
            quantizer = Quantizer(cfg)
            m.submodules[f"quantizer_{j}"] = quantizer
            m.d.sync += q_r[j].eq(cmd.q[j])
            m.d.comb += [quantizer.x.eq(x_r[j]), quantizer.rand.eq(q_r[j])]
            with m.If(update_started):
                m.d.sync += [neg_r[j].eq(quantizer.negative), shift_r[j].eq(quantizer.shift),
                             zero_r[j].eq(quantizer.is_zero)]
            with m.If(~busy):
                m.d.sync += u2_r[j].eq(cmd.u2[j])
        with m.If(~busy):
            m.d.sync += lr_r.eq(self.lr_offset)
            m.d.sync += [ud_r[i].eq(cmd.delta[i]) for i in range(rows)]
            m.d.sync += [v2_r[i].eq(cmd.v2[i]) for i in range(rows)]

        # Column-unit pipeline, one row per cycle: select (δ, -δ, v' of row 0 of the chains),
        # shift (sign flip and barrel shift per column), round (compare and add), write
        # (saturating add into the top of the column chain).
        selecting = Signal()                                     # row counter running
        row_index = Signal(range(rows))
        sel_valid = Signal()
        sel_delta = Signal(signed(cfg.err_bits), reset_less=True)
        sel_delta_neg = Signal(signed(cfg.err_bits + 1), reset_less=True)
        sel_v2 = Signal(cfg.rand_bits, reset_less=True)
        shifted_valid = Signal()
        shifted_v2 = Signal(cfg.rand_bits, reset_less=True)
        step_valid = Signal()
        m.d.sync += [sel_valid.eq(selecting), shifted_valid.eq(sel_valid),
                     step_valid.eq(shifted_valid), shifted_v2.eq(sel_v2)]
        with m.If(accept & is_update):
            m.d.sync += [selecting.eq(1), row_index.eq(0)]
        with m.If(selecting):
            m.d.sync += [sel_delta.eq(ud_r[0]), sel_delta_neg.eq(-ud_r[0]), sel_v2.eq(v2_r[0])]
            m.d.sync += [ud_r[i].eq(ud_r[i + 1]) for i in range(rows - 1)]
            m.d.sync += [v2_r[i].eq(v2_r[i + 1]) for i in range(rows - 1)]
            m.d.sync += row_index.eq(row_index + 1)
            with m.If(row_index == rows - 1):
                m.d.sync += selecting.eq(0)
        steps = []
        for j in range(cols):
            shift_unit, round_unit = UpdateShift(cfg), UpdateRound(cfg)
            m.submodules[f"update_shift_{j}"] = shift_unit
            m.submodules[f"update_round_{j}"] = round_unit
            whole = Signal.like(shift_unit.whole, name=f"whole_{j}", reset_less=True)
            fraction = Signal.like(shift_unit.fraction, name=f"fraction_{j}", reset_less=True)
            carry = Signal(name=f"carry_{j}", reset_less=True)
            step = Signal.like(round_unit.step, name=f"step_{j}", reset_less=True)
            m.d.comb += [shift_unit.value.eq(Mux(neg_r[j], sel_delta_neg, sel_delta)),
                         shift_unit.shift.eq(shift_r[j]), shift_unit.lr_offset.eq(lr_r)]
            m.d.sync += [whole.eq(shift_unit.whole), fraction.eq(shift_unit.fraction),
                         carry.eq(shift_unit.carry)]
            m.d.comb += [round_unit.whole.eq(whole), round_unit.fraction.eq(fraction),
                         round_unit.carry.eq(carry),
                         round_unit.rand.eq(u2_r[j] ^ shifted_v2),
                         round_unit.is_zero.eq(zero_r[j])]
            m.d.sync += step.eq(round_unit.step)
            steps.append(step)

        # -- the column units close the chains -------------------------------------------------
        m.d.comb += rotate.eq(row_op | step_valid)
        clipped = []
        for j in range(cols):
            updated, clip = saturating_add(m, row0[j], steps[j], cfg.weight_bits)
            m.d.comb += top_in[j].eq(Mux(step_valid, updated,
                                         Mux(row_read, row0[j], load_row[j])))
            clipped.append(step_valid & clip)
        m.d.sync += self.clips.eq(sum(clipped))     # saturation events of the row just written

        # -- output FIFO: F/B results from the trees, READ rows from the chain ----------------
        produces = is_fb | (cmd.op == Op.READ)
        fifo, in_flight, room = result_fifo(m, cfg, self.result, depth=self.fifo_depth,
                                            accept=accept, produces=produces)
        entry = Signal(result_layout(cfg))
        fb_done = valid[-1]
        read_done = row_op & row_read
        m.d.comb += [
            entry.op.eq(Mux(read_done, Op.READ, Mux(backward[-1], Op.BACKWARD, Op.FORWARD))),
            fifo.w_en.eq(fb_done | read_done),
            fifo.w_data.eq(entry.as_value()),
        ]
        m.d.comb += [entry.acc[i].eq(acc[i]) for i in range(rows)]
        m.d.comb += [entry.grad[j].eq(grad[j]) for j in range(cols)]
        m.d.comb += [entry.weights[j].eq(row0[j]) for j in range(cols)]

        # -- flow control -----------------------------------------------------------------------
        m.d.comb += busy.eq(selecting | sel_valid | shifted_valid | step_valid)
        fb_pending = valid.any()
        with m.If(~busy):
            with m.Switch(cmd.op):
                with m.Case(Op.FORWARD, Op.BACKWARD):
                    m.d.comb += self.cmd.ready.eq(room)
                with m.Case(Op.READ):
                    m.d.comb += self.cmd.ready.eq(room & ~fb_pending)
                with m.Case(Op.LOAD, Op.UPDATE):
                    m.d.comb += self.cmd.ready.eq(1)
                with m.Default():                                  # undefined op: dropped
                    m.d.comb += self.cmd.ready.eq(1)
        m.d.comb += self.idle.eq(~busy & ~fb_pending & ~row_op & (in_flight == 0)
                                 & (fifo.level == 0))
        return m
