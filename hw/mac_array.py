"""A weight-stationary systolic array of multiply-accumulate PEs: the multiplier ceiling of a chip.

``SystolicMacArray(rows=R, cols=C, operand_bits=N, dsp_multipliers=D)`` holds an ``R x C``
matrix ``W`` of ``N``-bit signed weights, one per PE, and takes one command per cycle on ``cmd``:

- MAC (``load = 0``): ``y[j] = sum_i W[i, j] x[i]`` for the ``R`` operands ``x``, exact
  (:attr:`sum_bits` bits), out on ``y`` :attr:`latency` cycles after the handshake;
- LOAD (``load = 1``): the row ``w`` (``C`` weights) enters row 0 and every row moves down one,
  ``W = [w; W[:-1]]`` (the last row falls out). ``R`` LOADs set the whole matrix.

Commands take effect in order: a MAC sees every LOAD before it and none after, with no gap
between them. ``cmd.ready`` is always 1 and ``y`` has no ready: the array never stalls, and
``y`` must be taken in the cycle ``y_valid`` is high. :func:`fewmul.golden.mac_array.reference`
is the numpy twin.

This is the plain multiplier array a chip's hard multipliers can run at full speed, the ceiling
the fewmul array is compared against (``fewmul bench synth``, design ``systolic``): nothing is
broadcast. Row ``i`` gets its command ``i`` cycles late (input skew registers) and passes it
right one PE per cycle, so PE ``(i, j)`` acts on a command at ``t + 1 + i + j``; partial sums
move down the columns one PE per cycle (``psum += x W``), and column ``j``'s sum is delayed
``C - 1 - j`` more cycles so a result row leaves aligned. A LOAD moves down the same diagonal:
PE ``(i, j)`` takes its new weight from the copy of its upper neighbour's weight registered one
cycle earlier (before the neighbour's own LOAD), and row 0 from the command's ``w[j]`` delayed
``j + 1`` cycles. Each product has two register stages after its registered operands (operand
registers -> product -> product -> ``psum``): a hard multiplier (ECP5 MULT18X18D, iCE40
SB_MAC16) sits between registers its block can absorb. The first ``dsp_multipliers`` PEs
(row-major) write ``*``, which Yosys maps to the hard multipliers; the rest use the radix-4
Booth multiplier of :mod:`.baseline` in LUTs, its two halves summed in the second stage.
``dsp_multipliers=None``: ``*`` everywhere. ``hard_multiplier="mult18x18d"`` instantiates the
ECP5 MULT18X18D with its own input and output registers instead of ``*`` (Yosys 0.70's
``synth_ecp5`` maps ``*`` to a MULT18X18D without them; nextpnr-ecp5 times the registered
block), the same cycles. Yosys ships the block only as a blackbox; the cocotb bench simulates it
with ``sim/ecp5_mult18x18d.v``. ``fewmul build``/``bench synth`` use this form on the ECP5.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, ResetSignal, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ._checks import refusable
from .baseline import booth_terms

__all__ = ["MacPE", "SystolicMacArray", "command_layout"]

#: Register stages from a PE's operand registers to its product (every multiplier kind).
PRODUCT_STAGES = 2

#: How a PE multiplies: ``inferred`` (``*``, Yosys maps it to a hard multiplier), ``booth``
#: (radix-4 Booth in LUTs), ``mult18x18d`` (an ECP5 MULT18X18D instance with its input and
#: output registers enabled: Yosys 0.70's ``synth_ecp5`` maps ``*`` to it without them).
MULTIPLIERS = ("inferred", "booth", "mult18x18d")


def command_layout(rows, cols, operand_bits):
    """``cmd`` payload: ``load``, the MAC operands ``x`` (R), the LOAD row ``w`` (C)."""
    return data.StructLayout({
        "load": 1,
        "x": data.ArrayLayout(signed(operand_bits), rows),
        "w": data.ArrayLayout(signed(operand_bits), cols),
    })


def _sum(terms, width):
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total.as_signed()[:width].as_signed()


class MacPE(wiring.Component):
    """One PE: ``psum_out = psum_in + x W`` on the systolic diagonal (``multiplier``: one of
    :data:`MULTIPLIERS`).

    ``x_out``/``load_out`` are ``x_in``/``load_in`` registered (1 cycle; the operand register);
    ``w_out`` is the weight as it was one cycle before (the lower neighbour's LOAD input); a
    LOAD seen on ``load_out`` takes ``w_in``. ``psum_out`` is ``psum_in`` plus the product of
    the operand and weight registers of :attr:`latency` - 1 cycles earlier, registered:
    ``psum_in`` must carry the upper neighbour's sum for the same command ``latency - 1``
    cycles after the command's operand register (which the one-cycle skew per row gives).
    """

    @refusable
    def __init__(self, *, operand_bits, sum_bits, multiplier="inferred"):
        if multiplier not in MULTIPLIERS:
            raise ValueError(f"multiplier must be one of {', '.join(MULTIPLIERS)}, not "
                             f"{multiplier!r}")
        if multiplier == "mult18x18d" and operand_bits > 18:
            raise ValueError(f"a MULT18X18D takes operands of up to 18 bits, not {operand_bits}")
        self._multiplier = multiplier
        super().__init__({
            "x_in": In(signed(operand_bits)), "load_in": In(1), "w_in": In(signed(operand_bits)),
            "psum_in": In(signed(sum_bits)),
            "x_out": Out(signed(operand_bits)), "load_out": Out(1),
            "w_out": Out(signed(operand_bits)), "psum_out": Out(signed(sum_bits)),
        })

    @property
    def latency(self):
        """Cycles from the operand register (``x_out``) to ``psum_out``: products, then sum."""
        return PRODUCT_STAGES + 1

    def elaborate(self, platform):
        m = Module()
        n = len(self.x_in)
        weight = Signal(signed(n))
        m.d.sync += [self.x_out.eq(self.x_in), self.load_out.eq(self.load_in),
                     self.w_out.eq(weight)]
        with m.If(self.load_out):
            m.d.sync += weight.eq(self.w_in)
        first = Signal(signed(2 * n))
        product = Signal(signed(2 * n))
        if self._multiplier == "inferred":
            # operand registers -> product register -> product register: Yosys maps the `*`
            # to a hard multiplier between fabric registers
            m.d.sync += [first.eq(self.x_out * weight), product.eq(first)]
        elif self._multiplier == "mult18x18d":
            # the same registers inside an ECP5 MULT18X18D: its A and B input registers load
            # what x_out and weight load, its output register is `first`
            m.submodules.dsp = _mult18x18d(self.x_in, self.w_in, self.load_out, first)
            m.d.sync += product.eq(first)
        else:
            terms = booth_terms(self.x_out, weight)
            half = (len(terms) + 1) // 2
            high = Signal(signed(2 * n))
            m.d.sync += [first.eq(_sum(terms[:half], 2 * n)),
                         high.eq(_sum(terms[half:], 2 * n) if terms[half:] else 0),
                         product.eq(_sum([first, high], 2 * n))]
        m.d.sync += self.psum_out.eq(self.psum_in + product)
        return m


class SystolicMacArray(wiring.Component):
    """``R x C`` weight-stationary systolic MAC array (see the module docstring)."""

    @refusable
    def __init__(self, *, rows, cols, operand_bits=16, dsp_multipliers=None,
                 hard_multiplier="inferred"):
        for name, value, least in (("rows", rows, 1), ("cols", cols, 1),
                                   ("operand_bits", operand_bits, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")
        if dsp_multipliers is not None and (isinstance(dsp_multipliers, bool)
                                            or not isinstance(dsp_multipliers, int)
                                            or dsp_multipliers < 0):
            raise ValueError(f"dsp_multipliers must be None or a non-negative integer, not "
                             f"{dsp_multipliers!r}")
        if hard_multiplier not in ("inferred", "mult18x18d"):
            raise ValueError(f"hard_multiplier must be 'inferred' or 'mult18x18d', not "
                             f"{hard_multiplier!r}")
        if hard_multiplier == "mult18x18d" and operand_bits > 18:
            raise ValueError(f"a MULT18X18D takes operands of up to 18 bits, not "
                             f"{operand_bits}")
        self._hard = hard_multiplier
        self._rows, self._cols, self._bits = rows, cols, operand_bits
        self._dsp = dsp_multipliers
        super().__init__({
            "cmd": In(stream.Signature(command_layout(rows, cols, operand_bits))),
            "y": Out(data.ArrayLayout(signed(self.sum_bits), cols)),
            "y_valid": Out(1),
        })

    @property
    def rows(self):
        return self._rows

    @property
    def cols(self):
        return self._cols

    @property
    def operand_bits(self):
        return self._bits

    @property
    def sum_bits(self):
        """Width of ``y[j]``: a sum of ``R`` products of two ``N``-bit operands, exact."""
        return 2 * self._bits + self._rows.bit_length()

    @property
    def latency(self):
        """Cycles from a MAC's handshake to its ``y``: one into the operand registers, ``R - 1
        + C - 1`` across the diagonal, :attr:`MacPE.latency` through the last PE."""
        return 1 + (self._rows - 1) + (self._cols - 1) + PRODUCT_STAGES + 1

    @property
    def hard_multipliers(self):
        """PEs whose multiplier is ``*`` (Yosys maps it to a hard multiplier)."""
        pes = self._rows * self._cols
        return pes if self._dsp is None else min(self._dsp, pes)

    def elaborate(self, platform):
        rows, cols, n = self._rows, self._cols, self._bits
        m = Module()
        command = self.cmd.payload
        load = self.cmd.valid & command.load
        pes = [[None] * cols for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                pe = MacPE(operand_bits=n, sum_bits=self.sum_bits,
                           multiplier=(self._hard if i * cols + j < self.hard_multipliers
                                       else "booth"))
                m.submodules[f"pe_{i}_{j}"] = pes[i][j] = pe
        for i in range(rows):
            m.d.comb += [pes[i][0].x_in.eq(_delay(m, command.x[i], i, f"x_skew_{i}")),
                         pes[i][0].load_in.eq(_delay(m, load, i, f"load_skew_{i}"))]
            for j in range(1, cols):
                m.d.comb += [pes[i][j].x_in.eq(pes[i][j - 1].x_out),
                             pes[i][j].load_in.eq(pes[i][j - 1].load_out)]
        for j in range(cols):
            m.d.comb += pes[0][j].w_in.eq(_delay(m, command.w[j], j + 1, f"w_skew_{j}"))
            for i in range(1, rows):
                m.d.comb += [pes[i][j].w_in.eq(pes[i - 1][j].w_out),
                             pes[i][j].psum_in.eq(pes[i - 1][j].psum_out)]
            m.d.comb += self.y[j].eq(
                _delay(m, pes[rows - 1][j].psum_out, cols - 1 - j, f"y_deskew_{j}"))
        mac = self.cmd.valid & ~command.load
        m.d.comb += self.cmd.ready.eq(1)
        m.d.comb += self.y_valid.eq(_delay(m, mac, self.latency, "y_valid"))
        return m


def _delay(m, value, cycles, name):
    """``value`` through ``cycles`` registers (``cycles = 0``: ``value`` itself)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_{k}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def _mult18x18d(a, b, b_enable, product):
    """A signed MULT18X18D with registered inputs (A every cycle, B when ``b_enable``) and a
    registered output, in the ``sync`` domain: ``product`` = ``a * b`` of two cycles earlier."""
    ports = {"i_CLK0": ClockSignal(), "i_CE0": Const(1), "i_CE1": b_enable,
             "i_RST0": ResetSignal(), "i_SIGNEDA": Const(1), "i_SIGNEDB": Const(1),
             "i_SOURCEA": Const(0), "i_SOURCEB": Const(0)}
    a18, b18 = a.as_signed(), b.as_signed()
    for k in range(18):
        ports[f"i_A{k}"] = a18[min(k, len(a18) - 1)]
        ports[f"i_B{k}"] = b18[min(k, len(b18) - 1)]
        ports[f"i_C{k}"] = Const(0)
    for k in range(36):
        ports[f"o_P{k}"] = product[k] if k < len(product) else Signal(name=f"p_unused_{k}")
    return Instance("MULT18X18D",
                    p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
                    p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE1", p_REG_INPUTB_RST="RST0",
                    p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
                    p_RESETMODE="SYNC", **ports)
