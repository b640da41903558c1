"""The multiplier baseline: the same ``R x C`` weight-stationary array, trained with multiplies.

``MultiplierArray(cfg)`` has exactly the ports of :class:`fewmul.hw.array.PEArray` (``cmd`` and
``result`` streams of the same layouts, ``idle``) and the same number formats, but each PE is a
conventional fixed-point training PE: one signed ``weight_bits x weight_bits`` multiplier shared
by the three products, selected by the operation:

============  =================  =============================================================
operation     product            use
============  =================  =============================================================
FORWARD       ``w[i,j] * x[j]``   ``acc[i]  = sum_j (w x) >> Wf``              (activation units)
BACKWARD      ``w[i,j] * δ[i]``   ``grad[j] = sum_i (w δ) >> Wf``              (error units)
UPDATE        ``δ[i] * x'[j]``    ``w += round((δ x) 2^-(E + F + lr - Wf))``, saturated
============  =================  =============================================================

The run-time learning rate ``lr = lr_shift + lr_offset`` (the ``lr_offset`` port, read at the
UPDATE's handshake as in PEArray) costs no per-PE shifter: each column multiplies by
``x'[j] = x[j] << (lr_range - lr_offset)`` (exact, ``act_bits + lr_range`` bits; shifted and
registered at the handshake, so no shifter sits in front of the multipliers) and every PE
shifts its product right by the constant ``E + F + lr_shift + lr_range - Wf``.

The update keeps ``B = rand_bits`` bits below the weight LSB and rounds them stochastically
against ``ρ = u'[j] XOR v'[i]`` (or to nearest), as the fewmul PE does, so the baseline differs
only in the multiplies: real weights instead of sampled signs, real inputs instead of powers of
two. ``u``, ``v``, ``q`` and ``deterministic`` are ignored. LOAD and READ behave as in PEArray.
The sums are exact (the layouts' widths hold any sum of products shifted into ``[-1, 1]``
units), so a result equals :func:`fewmul.golden.baseline.reference` bit for bit.

Multipliers: the first ``dsp_multipliers`` PEs (row-major) write ``a * b`` so Yosys maps them to
the chip's hard multipliers (ECP5 MULT18X18D, iCE40UP5K SB_MAC16); the rest use an explicit
radix-4 Booth multiplier in LUTs, since Yosys would otherwise map every ``*`` to a DSP block and
run out. ``dsp_multipliers=None`` writes ``*`` everywhere (simulation, or chips with enough).
Every multiply takes two pipeline stages: a Booth multiplier registers the sums of the two
halves of its partial products, then adds them; a hard multiplier registers its operands, then
its product (the DSP blocks' input and output registers can take them), so the operand
multiplexers and their select fan-out are not in front of the multiplier.

Pipeline (one command per cycle): command register (with the chosen and scaled column
operand) -> multiply stage (LOAD/READ act here) -> product register -> adder trees with a
register every two levels (an UPDATE registers its rounded steps, then writes the weights) ->
output FIFO -> result. A command that follows an UPDATE waits three cycles so it sees the new
weights. Flow control is PEArray's: the pipeline never stalls (no clock enable fans out from
``result.ready`` to every pipeline register), results land in a FIFO of depth
:attr:`fifo_depth`, and a FORWARD, BACKWARD or READ is accepted only while the results in
flight plus those queued fit. :attr:`latency` is the cycles from a ``cmd`` handshake to its
result with no back-pressure.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring

from ..config import Config
from ._checks import refusable
from .array import (
    Op,
    acc_width,
    array_members,
    command_layout,
    grad_width,
    result_fifo,
    result_layout,
)

__all__ = ["MultiplierArray", "booth_multiply", "booth_terms"]

_LEVELS_PER_STAGE = 2


def booth_terms(a, b):
    """The radix-4 Booth partial products of signed ``a * b`` (their sum is the product)."""
    width_b = len(b) + (len(b) & 1)
    b_ext = Cat(Const(0, 1), b, b[-1])            # b[-1] = 0, then sign-extend to width_b
    terms = []
    for k in range(0, width_b, 2):
        b_low, b_mid, b_high = b_ext[k], b_ext[k + 1], b_ext[k + 2]
        one = b_low ^ b_mid                        # digit is +-1
        two = (b_high & ~b_mid & ~b_low) | (~b_high & b_mid & b_low)    # digit is +-2
        magnitude = Mux(one, a, Mux(two, a << 1, 0))
        negative = b_high & ~(b_mid & b_low)
        terms.append(Mux(negative, -magnitude, magnitude) << k)
    return terms


def _sum(terms, width):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total.as_signed()[:width].as_signed()


def booth_multiply(a, b):
    """Signed ``a * b`` as radix-4 Booth partial products summed in LUT adders (no ``*``)."""
    return _sum(booth_terms(a, b), len(a) + len(b))


def _tree_stages(n_terms):
    levels = max(0, (n_terms - 1).bit_length())
    return max(1, -(-levels // _LEVELS_PER_STAGE))


class MultiplierArray(wiring.Component):
    """Conventional fixed-point training array with the ports of ``PEArray(cfg)``."""

    @refusable
    def __init__(self, cfg, *, dsp_multipliers=None):
        if not isinstance(cfg, Config):
            raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
        if dsp_multipliers is not None and (isinstance(dsp_multipliers, bool)
                                            or not isinstance(dsp_multipliers, int)
                                            or dsp_multipliers < 0):
            raise ValueError(f"dsp_multipliers must be None or a non-negative integer, not "
                             f"{dsp_multipliers!r}")
        self._cfg = cfg
        self._dsp = dsp_multipliers
        super().__init__(array_members(cfg))

    @property
    def cfg(self):
        return self._cfg

    @property
    def tree_stages(self):
        return max(_tree_stages(self._cfg.array_cols), _tree_stages(self._cfg.array_rows))

    @property
    def pipeline_depth(self):
        """Cycles from a handshake to the result entering the output FIFO."""
        return 3 + self.tree_stages

    @property
    def latency(self):
        """Cycles from a ``cmd`` handshake to its ``result`` (no back-pressure, no UPDATE):
        the pipeline, then two through the buffered FIFO."""
        return self.pipeline_depth + 2

    @property
    def fifo_depth(self):
        """Output FIFO entries: a result counts against the credit from its handshake until it
        leaves the FIFO, ``latency`` cycles, so ``pipeline_depth + 3`` sustain one command per
        cycle while ``result.ready`` is high (``+ 2`` sustained about 0.86)."""
        return self.pipeline_depth + 3

    @property
    def update_shift(self):
        """Right shift of ``δ x`` into weight units at ``lr_offset = 0``: ``E + F + lr_shift -
        Wf``. The product is ``δ x 2^(lr_range - lr_offset)``, shifted by ``update_shift +
        lr_range``."""
        return self._cfg.update_base_shift + self._cfg.act_frac

    def _multiply(self, m, index, a, b, product, *, name):
        """``product <= a * b`` in two register stages, loaded every cycle (see the module
        docstring): the product of the command that enters stage M reaches stage B with it."""
        width = len(a) + len(b)
        if self._dsp is None or index < self._dsp:
            # operands registered, then the product: the hard multiplier sits between two
            # registers (its own input and output registers), not behind the operand muxes
            a_r = Signal(signed(len(a)), name=f"{name}_a")
            b_r = Signal(signed(len(b)), name=f"{name}_b")
            m.d.sync += [a_r.eq(a), b_r.eq(b), product.eq(a_r * b_r)]
            return
        terms = booth_terms(a, b)
        half = (len(terms) + 1) // 2
        low = Signal(signed(width), name=f"{name}_lo")
        high = Signal(signed(width), name=f"{name}_hi")
        m.d.sync += low.eq(_sum(terms[:half], width))
        if terms[half:]:
            m.d.sync += high.eq(_sum(terms[half:], width))
        m.d.sync += product.eq(_sum([low, high], width))

    def elaborate(self, platform):
        cfg = self._cfg
        rows, cols = cfg.array_rows, cfg.array_cols
        wf, bits = cfg.weight_frac, cfg.rand_bits
        m = Module()

        weights = [[Signal(signed(cfg.weight_bits), name=f"w_{i}_{j}") for j in range(cols)]
                   for i in range(rows)]
        layout = command_layout(cfg)

        # Stage A: the registered command.  Stage M: the multipliers' first half.  Stage B:
        # products.  Then the tree stages.
        a_cmd, a_valid = Signal(layout), Signal()
        m_cmd, m_valid = Signal(layout), Signal()
        b_cmd, b_valid = Signal(layout), Signal()
        out_stages = self.tree_stages
        m_update = m_valid & (m_cmd.op == Op.UPDATE)
        b_update = b_valid & (b_cmd.op == Op.UPDATE)
        c_update = Signal()                         # the UPDATE one stage after B
        m.d.sync += c_update.eq(b_update)
        # A command after an UPDATE waits until the UPDATE has written the weights.
        a_moves = ~m_update & ~b_update & ~c_update
        # Flow control: accepted FORWARD/BACKWARD/READ not yet in the FIFO, plus those queued,
        # must fit the FIFO (the pipeline never stalls).
        accept = Signal()
        produces = ((self.cmd.payload.op == Op.FORWARD) | (self.cmd.payload.op == Op.BACKWARD)
                    | (self.cmd.payload.op == Op.READ))
        fifo, in_flight, room = result_fifo(m, cfg, self.result, depth=self.fifo_depth,
                                            accept=accept, produces=produces)
        m.d.comb += [self.cmd.ready.eq((~a_valid | a_moves) & (room | ~produces)),
                     accept.eq(self.cmd.valid & self.cmd.ready)]
        # The column operand of the multipliers is chosen and scaled at the handshake, into
        # stage A: x[j] (FORWARD) or x'[j] = x[j] << (lr_range - lr_offset) (UPDATE), so the
        # learning-rate shift is not in front of the multipliers.
        x_bits = cfg.act_bits + cfg.lr_range                 # x << (lr_range - lr_offset)
        x_col = [Signal(signed(x_bits), name=f"x_col_{j}") for j in range(cols)]
        # Stage A loads whenever it is free, offered or not (a_valid says whether it took a
        # command), so neither cmd.valid nor the FIFO's room fans out to its enables.
        with m.If(~a_valid | a_moves):
            m.d.sync += [a_cmd.eq(self.cmd.payload), a_valid.eq(accept)]
            for j in range(cols):
                x = self.cmd.payload.x[j]
                scaled = (x << cfg.lr_range) >> self.lr_offset            # exact: low bits 0
                m.d.sync += x_col[j].eq(Mux(self.cmd.payload.op == Op.UPDATE, scaled, x))

        # A -> M -> B: products from the current weights; LOAD and READ shift the rows.
        op = a_cmd.op
        product_bits = (max(cfg.weight_bits, cfg.err_bits) + max(x_bits, cfg.err_bits))
        products = [[Signal(signed(product_bits), name=f"p_{i}_{j}")
                     for j in range(cols)] for i in range(rows)]
        m_read = [Signal(signed(cfg.weight_bits), name=f"m_read_{j}") for j in range(cols)]
        read_row = [Signal(signed(cfg.weight_bits), name=f"read_{j}") for j in range(cols)]
        m.d.sync += [b_cmd.eq(m_cmd), b_valid.eq(m_valid)]
        m.d.sync += [r.eq(v) for r, v in zip(read_row, m_read, strict=True)]
        with m.If(a_moves):
            m.d.sync += [m_cmd.eq(a_cmd), m_valid.eq(a_valid)]
        with m.Else():
            m.d.sync += m_valid.eq(0)
        for i in range(rows):
            for j in range(cols):
                lhs = Mux(op == Op.UPDATE, a_cmd.delta[i], weights[i][j])
                rhs = Mux(op == Op.BACKWARD, a_cmd.delta[i], x_col[j])
                self._multiply(m, i * cols + j, lhs, rhs, products[i][j],
                               name=f"p_{i}_{j}")
        with m.If(a_moves & a_valid):
            m.d.sync += [m_read[j].eq(weights[0][j]) for j in range(cols)]
            with m.If((op == Op.LOAD) | (op == Op.READ)):
                for i in range(rows):
                    for j in range(cols):
                        if i + 1 < rows:
                            m.d.sync += weights[i][j].eq(weights[i + 1][j])
                        else:
                            m.d.sync += weights[i][j].eq(
                                Mux(op == Op.LOAD, a_cmd.weights[j], weights[0][j]))

        # B -> C: the rounded update step; C: UPDATE writes the saturated weights.
        shift = self.update_shift + cfg.lr_range
        # update_fraction round: half an LSB of the shift added first (docs/datapath.md §8);
        # the operand's 2^(lr_range - lr_offset) scaling leaves the rounded value unchanged
        half = 1 << (shift - 1) if cfg.update_fraction == "round" and shift else 0
        steps = [[None] * cols for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                wide = ((products[i][j] << bits) + half) >> shift
                whole = wide >> bits
                fraction = wide[:bits]
                if cfg.update_rounding == "stochastic":
                    up = (b_cmd.u2[j] ^ b_cmd.v2[i]) < fraction
                else:
                    up = fraction >= (1 << (bits - 1))
                step = Signal(signed(len(whole) + 1), name=f"step_{i}_{j}")
                m.d.sync += step.eq(whole + up)
                steps[i][j] = step
        with m.If(c_update):
            hi, lo = (1 << (cfg.weight_bits - 1)) - 1, -(1 << (cfg.weight_bits - 1))
            for i in range(rows):
                for j in range(cols):
                    total = weights[i][j] + steps[i][j]
                    top = total[cfg.weight_bits - 1:]           # all equal: no overflow
                    in_range = (top == 0) | (top == (1 << len(top)) - 1)
                    m.d.sync += weights[i][j].eq(Mux(in_range, total, Mux(total[-1], lo, hi)))

        # B -> trees: row sums (FORWARD), column sums (BACKWARD), pipelined.
        row_sums = [self._tree(m, [products[i][j] >> wf for j in range(cols)],
                               acc_width(cfg), f"acc_{i}") for i in range(rows)]
        col_sums = [self._tree(m, [products[i][j] >> wf for i in range(rows)],
                               grad_width(cfg), f"grad_{j}") for j in range(cols)]
        op_pipe, valid_pipe = b_cmd.op, b_valid & (b_cmd.op != Op.UPDATE) & (b_cmd.op != Op.LOAD)
        read_pipe = read_row
        for stage in range(out_stages):
            op_next = Signal(Op, name=f"op_{stage}")
            valid_next = Signal(name=f"valid_{stage}")
            read_next = [Signal(signed(cfg.weight_bits), name=f"read_{stage}_{j}")
                         for j in range(cols)]
            m.d.sync += [op_next.eq(op_pipe), valid_next.eq(valid_pipe)]
            m.d.sync += [r.eq(v) for r, v in zip(read_next, read_pipe, strict=True)]
            op_pipe, valid_pipe, read_pipe = op_next, valid_next, read_next

        entry = Signal(result_layout(cfg))
        m.d.comb += [entry.op.eq(op_pipe), fifo.w_en.eq(valid_pipe),
                     fifo.w_data.eq(entry.as_value())]
        m.d.comb += [entry.acc[i].eq(row_sums[i]) for i in range(rows)]
        m.d.comb += [entry.grad[j].eq(col_sums[j]) for j in range(cols)]
        m.d.comb += [entry.weights[j].eq(read_pipe[j]) for j in range(cols)]
        m.d.comb += self.idle.eq(~a_valid & ~m_valid & ~b_valid & ~c_update & ~valid_pipe
                                 & (in_flight == 0) & (fifo.level == 0))
        return m

    def _tree(self, m, terms, width, name):
        """Sum ``terms`` in a binary tree with a register every two levels; exactly
        :attr:`tree_stages` registers deep."""
        stage = 0
        level = 0
        while len(terms) > 1 or stage < self.tree_stages:
            if len(terms) > 1:
                terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                         for k in range(0, len(terms), 2)]
                level += 1
            if len(terms) == 1 or level % _LEVELS_PER_STAGE == 0:
                registered = []
                for k, term in enumerate(terms):
                    reg = Signal(signed(width), name=f"{name}_s{stage}_{k}")
                    m.d.sync += reg.eq(term)
                    registered.append(reg)
                terms = registered
                stage += 1
                level = 0
        return terms[0]
