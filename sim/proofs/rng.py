"""xorshift32 generator (``hw/rng.py``) against ``docs/datapath.md`` section 6.

Spec, written from the document: ``x ^= x << 13; x ^= x >> 17; x ^= x << 5 (mod 2^32)``; a draw
is the top ``B`` bits of the state it advances to; a zero state never arises from a nonzero one.

``step``   every cycle, the state is the loaded seed (``load``), the formula applied to the
           previous state (``advance``), or the previous state; the draw on offer is the top
           ``B`` bits of the formula applied to the current state. Inputs are free each cycle.
``nonzero`` with every loaded seed nonzero (the host's contract), the state is never 0:
           k-induction proves it for every reachable state, which includes every nonzero
           state (any seed can be loaded).
"""

from functools import partial

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cover, Module, Signal

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, Mutant

BLOCK = "fewmul.hw.rng"

MASK = 2 ** 32 - 1


def spec_next(x):
    """One xorshift32 step as an Amaranth expression (``mod 2^32`` after each left shift)."""
    x = (x ^ (x << 13)) & MASK
    x = x ^ (x >> 17)
    return (x ^ (x << 5)) & MASK


BITS = (Config().rand_bits, 1, 32)


def _make(bits):
    from fewmul.hw.rng import Xorshift32
    return Xorshift32(bits=bits)


def _drive(m, make):
    """The generator under free inputs (and a free reset)."""
    m.submodules.dut = dut = make()
    load, seed, advance = AnySeq(1), AnySeq(32), AnySeq(1)
    m.d.comb += [dut.load.eq(load), dut.seed.eq(seed), dut.advance.eq(advance)]
    return dut, load, seed, advance


def _step_spec(m, make, *, covers=False):
    dut, load, seed, advance = _drive(m, make)
    bits = dut.bits
    # Explicit previous-value registers (Amaranth 0.5 has no Past()).
    started = Signal()
    prev_state, prev_seed = Signal(32), Signal(32)
    prev_load, prev_advance = Signal(), Signal()
    m.d.sync += [started.eq(1), prev_state.eq(dut.state), prev_seed.eq(seed),
                 prev_load.eq(load), prev_advance.eq(advance)]
    with m.If(started):
        with m.If(prev_load):
            m.d.comb += Assert(dut.state == prev_seed)
        with m.Elif(prev_advance):
            m.d.comb += Assert(dut.state == spec_next(prev_state))
        with m.Else():
            m.d.comb += Assert(dut.state == prev_state)
    m.d.comb += Assert(dut.draw == (spec_next(dut.state) >> (32 - bits)))
    if covers:
        m.d.comb += Cover(started & prev_advance & ~prev_load & (dut.state == MASK))
        m.d.comb += Cover(dut.draw == 2 ** bits - 1)
        m.d.comb += Cover(started & prev_advance & ~prev_load & (dut.draw == 0))


def _nonzero_spec(m, make, *, covers=False):
    dut, load, seed, advance = _drive(m, make)
    with m.If(load):
        m.d.comb += Assume(seed != 0)
    m.d.comb += Assert(dut.state != 0)
    if covers:                      # the state can be 1 and advance from 1, or be all ones
        m.d.comb += Cover(advance & ~load & (dut.state == 1))
        m.d.comb += Cover(dut.state == MASK)


def _proofs_for(bits, make=None):
    make = make or partial(_make, bits)
    return [
        Proof(name=f"rng.b{bits}.step", block="rng",
              prop="state' = load ? seed : advance ? xorshift(state) : state; "
                   "draw = xorshift(state) >> (32 - B)",
              build=partial(Harness, _step_spec, make), mode="prove", depth=2),
        Proof(name=f"rng.b{bits}.nonzero", block="rng",
              prop="seeds nonzero => state never 0 (k-induction)",
              build=partial(Harness, _nonzero_spec, make), mode="prove", depth=3),
    ]


def proofs():
    bits = Config().rand_bits
    make = partial(_make, bits)
    return [p for b in BITS for p in _proofs_for(b)] + [
        Proof(name=f"rng.b{bits}.corners", block="rng",
              prop="reachable: all-ones state after an advance, max draw, zero draw",
              build=partial(Harness, partial(_step_spec, covers=True), make), mode="cover",
              depth=3),
        Proof(name=f"rng.b{bits}.nonzero_corners", block="rng",
              prop="reachable under nonzero seeds: advancing from state 1, all-ones state",
              build=partial(Harness, partial(_nonzero_spec, covers=True), make), mode="cover",
              depth=3),
    ]


# -- mutants ------------------------------------------------------------------------------------

def _variant(bits, next_fn, doc):
    """``Xorshift32`` with its step replaced by ``next_fn`` (same ports, same load/advance)."""
    from fewmul.hw.rng import Xorshift32

    class Variant(Xorshift32):
        __doc__ = doc

        def elaborate(self, platform):
            m = Module()
            state = Signal(32, init=1)
            following = Signal(32)
            m.d.comb += [following.eq(next_fn(state)), self.state.eq(state),
                         self.draw.eq(following[32 - self.bits:])]
            with m.If(self.load):
                m.d.sync += state.eq(self.seed)
            with m.Elif(self.advance):
                m.d.sync += state.eq(following)
            return m

    return Variant(bits=bits)


def _shift12(x):
    x = (x ^ (x << 12)) & MASK
    x = x ^ (x >> 17)
    return (x ^ (x << 5)) & MASK


def _no_xor_last(x):
    """Drops the last XOR: x ^= x << 13; x ^= x >> 17; x <<= 5 (not a bijection: hits 0)."""
    x = (x ^ (x << 13)) & MASK
    x = x ^ (x >> 17)
    return (x << 5) & MASK


def mutants():
    bits = Config().rand_bits
    step, nonzero = _proofs_for(bits)
    return [
        step.with_build(partial(Harness, _step_spec, partial(
            _variant, bits, _shift12, "x << 12 instead of x << 13")), name=f"{step.name}~shift12"),
        step.with_build(partial(Harness, _step_spec, lambda: Mutant(
            _make(bits), outputs={"draw": lambda d: d ^ 1})), name=f"{step.name}~draw_lsb"),
        step.with_build(partial(Harness, _step_spec, lambda: Mutant(
            _make(bits), inputs={"advance": lambda a: 0})), name=f"{step.name}~never_advances"),
        nonzero.with_build(partial(Harness, _nonzero_spec, partial(
            _variant, bits, _no_xor_last, _no_xor_last.__doc__)),
            name=f"{nonzero.name}~no_xor_last"),
    ]
