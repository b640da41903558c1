"""Barrel shifter (``hw/shifter.py``) against the definition of floor division.

The spec does not shift: for each shift amount ``s`` (a constant inside one ``Case``) it states
``whole = floor(value / 2^s)`` as ``whole * 2^s <= value < (whole + 1) * 2^s`` and the fraction
as the floor of the remainder in ``frac_bits`` binary places,
``fraction * 2^s <= rem * 2^frac_bits < (fraction + 1) * 2^s`` with ``rem = value - whole * 2^s``
(``docs/datapath.md`` section 8). Shift inputs above ``max_shift`` must act as ``max_shift``.
All inputs are free, so one combinational step proves it for every input.
"""

from functools import partial

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Cover, Module, signed

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, Mutant

BLOCK = "fewmul.hw.shifter"

_DEFAULT = Config()

#: (width, max_shift, frac_bits): the weight update's shifter under the default Config, the
#: demo's, a max_shift whose port can exceed it (clamping), no fraction port, and a shift past
#: the width.
CASES = (
    (_DEFAULT.err_bits, _DEFAULT.update_max_shift, _DEFAULT.rand_bits),
    (16, 7, 8),
    (8, 5, 3),
    (6, 3, 0),
    (5, 9, 4),
)


def _tag(width, max_shift, frac_bits):
    return f"w{width}s{max_shift}f{frac_bits}"


def _make(width, max_shift, frac_bits):
    from fewmul.hw.shifter import Shifter
    return Shifter(width=width, max_shift=max_shift, frac_bits=frac_bits)


def _spec(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    width, max_shift, frac_bits = dut.width, dut.max_shift, dut.frac_bits
    value = AnyConst(signed(width))
    shift = AnyConst(len(dut.shift))                    # every port value, in range or not
    m.d.comb += [dut.value.eq(value), dut.shift.eq(shift)]
    whole = dut.whole
    with m.Switch(shift):
        for raw in range(2 ** len(dut.shift)):
            s = min(raw, max_shift)
            with m.Case(raw):
                low = whole * (2 ** s)                  # a constant power of two: exact
                m.d.comb += Assert(low <= value)
                m.d.comb += Assert(value < low + 2 ** s)
                if frac_bits:
                    rem = value - low
                    scaled = rem * (2 ** frac_bits)
                    fraction = dut.fraction
                    m.d.comb += Assert(fraction * (2 ** s) <= scaled)
                    m.d.comb += Assert(scaled < (fraction + 1) * (2 ** s))
    if covers:
        most_negative = -(2 ** (width - 1))
        m.d.comb += Cover((shift == max_shift) & (value < 0) & (whole == -1))
        m.d.comb += Cover((shift == 0) & (value == most_negative) & (whole == most_negative))
        if 2 ** len(dut.shift) - 1 > max_shift:
            m.d.comb += Cover((shift == 2 ** len(dut.shift) - 1) & (value == most_negative))
        if frac_bits:                                   # the largest fraction there is
            top = 2 ** frac_bits - 1 if max_shift >= frac_bits else (
                (2 ** max_shift - 1) << (frac_bits - max_shift))
            m.d.comb += Cover(dut.fraction == top)


def _proofs_for(case, make=None):
    make = make or partial(_make, *case)
    tag = _tag(*case)
    prop = "whole = floor(v / 2^s), fraction = floor(rem * 2^F / 2^s), s clamped"
    return [
        Proof(name=f"shifter.{tag}.floor", block="shifter", prop=prop,
              build=partial(Harness, _spec, make), mode="prove", depth=1),
        Proof(name=f"shifter.{tag}.corners", block="shifter",
              prop="reachable: max shift of a negative, most negative at 0, clamp, largest "
                   "fraction",
              build=partial(Harness, partial(_spec, covers=True), make), mode="cover", depth=1),
    ]


def proofs():
    return [p for case in CASES for p in _proofs_for(case)]


# -- mutants ------------------------------------------------------------------------------------

def _logical(width, max_shift, frac_bits):
    """Shifts in zeros instead of the sign (a logical right shift)."""
    from fewmul.hw.shifter import Shifter

    class LogicalShifter(Shifter):
        def elaborate(self, platform):
            m = Module()
            amount = self.shift
            wide = (self.value.as_unsigned() << self.frac_bits) >> amount
            m.d.comb += self.whole.eq(wide[self.frac_bits:])
            if self.frac_bits:
                m.d.comb += self.fraction.eq(wide[:self.frac_bits])
            return m

    return LogicalShifter(width=width, max_shift=max_shift, frac_bits=frac_bits)


def _unclamped(width, max_shift, frac_bits):
    """Passes shift port values above ``max_shift`` straight to the shift."""
    from fewmul.hw.shifter import Shifter

    class UnclampedShifter(Shifter):
        def elaborate(self, platform):
            m = Module()
            wide = (self.value << self.frac_bits) >> self.shift
            m.d.comb += self.whole.eq(wide[self.frac_bits:])
            if self.frac_bits:
                m.d.comb += self.fraction.eq(wide[:self.frac_bits])
            return m

    return UnclampedShifter(width=width, max_shift=max_shift, frac_bits=frac_bits)


#: Mutants run on the default-Config shifter and on the one whose shift port can exceed
#: ``max_shift`` (each run costs a SymbiYosys call).
MUTANT_CASES = (CASES[0], (8, 5, 3))


def mutants():
    out = []

    def add(case, slug, make):
        proof = _proofs_for(case)[0]
        out.append(proof.with_build(partial(Harness, _spec, make),
                                    name=f"{proof.name}~{slug}"))

    for case in MUTANT_CASES:
        width, max_shift, frac_bits = case
        add(case, "shift_plus_1", lambda c=case: Mutant(
            _make(*c), inputs={"shift": lambda s: s + 1}))
        add(case, "whole_lsb_flipped", lambda c=case: Mutant(
            _make(*c), outputs={"whole": lambda w: w ^ 1}))
        if frac_bits:
            add(case, "fraction_lsb_flipped", lambda c=case: Mutant(
                _make(*c), outputs={"fraction": lambda f: f ^ 1}))
        add(case, "logical_shift", partial(_logical, *case))
        # Only a mutant if the port can exceed max_shift and a larger shift changes a bit.
        if 2 ** max_shift.bit_length() - 1 > max_shift and width + frac_bits > max_shift:
            add(case, "no_clamp", partial(_unclamped, *case))
    return out
