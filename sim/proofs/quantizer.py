"""Power-of-two quantizer (``hw/quantizer.py``) against ``docs/datapath.md`` section 4.

The spec avoids the bit tricks of a hardware quantizer: for each leading-one position ``e`` it
states ``2^e <= a < 2^(e+1)`` (``a = |x|``), and rounds up

- stochastically iff ``q < align(frac, e, B)`` with ``align(frac, e, B) = floor(frac 2^B / 2^e)``,
  i.e. iff ``(q + 1) 2^e <= frac 2^B`` (``frac = a - 2^e``);
- deterministically iff ``a`` is at least the linear midpoint of ``2^e`` and ``2^(e+1)``,
  ``2a >= 3 2^e`` (the document's "bit e-1 of a is set").

Then ``shift = min(F - (e + up), max_shift)``, ``negative = x < 0``, ``is_zero = a == 0``
(the shift of the zero code is unspecified). Inputs ``x`` and ``q`` are free: one
combinational step proves it for all of them.
"""

from functools import partial

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Cover, Mux, Signal, signed

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, mutated

BLOCK = "fewmul.hw.quantizer"

#: name -> Config: both modes at the defaults; a short draw (B < e) with a clamping shift; a
#: draw wider than the input (B > F); a 1-bit shift.
CASES = {
    "stoch": Config(quantizer="stochastic"),
    "det": Config(quantizer="deterministic"),
    "stoch_b3_sb2": Config(quantizer="stochastic", rand_bits=3, shift_bits=2),
    "stoch_a12_b16": Config(quantizer="stochastic", act_bits=12, rand_bits=16),
    "det_a5_sb1": Config(quantizer="deterministic", act_bits=5, shift_bits=1),
}


def _make(cfg):
    from fewmul.hw.quantizer import Quantizer
    return Quantizer(cfg)


def _spec(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    cfg = dut.cfg
    frac_bits, bits, max_shift = cfg.act_frac, cfg.rand_bits, cfg.max_shift
    x = AnyConst(signed(cfg.act_bits))
    q = AnyConst(bits)
    m.d.comb += [dut.x.eq(x), dut.rand.eq(q)]
    a = Signal(frac_bits + 1)
    m.d.comb += a.eq(Mux(x < 0, -x, x))
    m.d.comb += Assert(dut.negative == (x < 0))
    m.d.comb += Assert(dut.is_zero == (a == 0))
    up = Signal()
    expected = Signal(range(frac_bits + 1))
    for e in range(frac_bits + 1):
        with m.If((a >= 2 ** e) & (a < 2 ** (e + 1))):
            frac = a - 2 ** e
            if cfg.quantizer == "stochastic":
                m.d.comb += up.eq((q + 1) * 2 ** e <= frac * 2 ** bits)
            else:
                m.d.comb += up.eq(2 * a >= 3 * 2 ** e)
            unclamped = frac_bits - e - up
            m.d.comb += expected.eq(Mux(unclamped > max_shift, max_shift, unclamped))
            m.d.comb += Assert(dut.shift == expected)
    if covers:
        m.d.comb += Cover(dut.is_zero)
        m.d.comb += Cover((x == -(2 ** frac_bits)) & (dut.shift == 0))
        m.d.comb += Cover((a == 2 ** frac_bits - 1) & up & (dut.shift == 0))
        m.d.comb += Cover((a > 2 ** (frac_bits - 1)) & ~up & (dut.shift == 1))
        m.d.comb += Cover(~dut.is_zero & (dut.shift == max_shift))
        if max_shift < frac_bits:                           # the clamp acts
            m.d.comb += Cover((a == 1) & (dut.shift == max_shift))


def _proofs_for(tag, cfg, make=None):
    make = make or partial(_make, cfg)
    return [
        Proof(name=f"quantizer.{tag}.spec", block="quantizer",
              prop=f"({cfg.quantizer}) shift = min(F - (e + up), max_shift), negative, is_zero",
              build=partial(Harness, _spec, make), mode="prove", depth=1),
        Proof(name=f"quantizer.{tag}.corners", block="quantizer",
              prop="reachable: zero code, -1.0 -> shift 0, 1 - 2^-F up to 1, a round-down "
                   "above 1/2, max shift",
              build=partial(Harness, partial(_spec, covers=True), make), mode="cover", depth=1),
    ]


def proofs():
    return [p for tag, cfg in CASES.items() for p in _proofs_for(tag, cfg)]


def mutants():
    out = []
    for tag in ("stoch", "det", "stoch_b3_sb2"):
        cfg = CASES[tag]
        proof, make = _proofs_for(tag, cfg)[0], partial(_make, cfg)
        out += [
            mutated(proof, _spec, make, "shift_plus_1", outputs={"shift": lambda s: s + 1}),
            mutated(proof, _spec, make, "negative_flipped", outputs={"negative": lambda n: ~n}),
            mutated(proof, _spec, make, "zero_code_dropped", outputs={"is_zero": lambda z: 0}),
            mutated(proof, _spec, make, "x_lsb_flipped", inputs={"x": lambda x: x ^ 1}),
        ]
        if cfg.quantizer == "stochastic":
            out.append(mutated(proof, _spec, make, "rand_plus_1",
                               inputs={"rand": lambda r: r + 1}))
    return out
