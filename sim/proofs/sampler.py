"""Weight sampler (``hw/sampler.py``) against ``docs/datapath.md`` section 3.

Spec, in the document's own terms (``align(v, frm, to) = v >> (frm - to)`` or ``v << (to - frm)``):

- binary stochastic: ``t = w + 2^Wf``, ``tB = align(t, weight_bits, B)``, ``s = +1 iff r < tB``;
- binary deterministic: ``s = +1 iff w >= 0``;
- ternary stochastic: ``mB = align(|w|, Wf, B)``, ``s = sign(w) iff r < mB``, else 0;
- ternary deterministic: ``s = sign(w) iff 2|w| >= 2^Wf``, else 0.

The ``deterministic`` port selects the deterministic rule when the Config samples
stochastically (inference); a deterministic Config ignores it. ``w``, ``r`` and the port are
free: one combinational step proves the rule for all of them.
"""

from functools import partial

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Cover, Mux, Signal, signed

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, mutated

BLOCK = "fewmul.hw.sampler"

#: name -> Config: the four modes at the defaults, and weights narrower than a draw.
CASES = {
    "bin_stoch": Config(weights="binary", sampling="stochastic"),
    "bin_det": Config(weights="binary", sampling="deterministic"),
    "ter_stoch": Config(weights="ternary", sampling="stochastic"),
    "ter_det": Config(weights="ternary", sampling="deterministic"),
    "bin_stoch_w5": Config(weights="binary", sampling="stochastic", weight_bits=5),
    "ter_stoch_w5": Config(weights="ternary", sampling="stochastic", weight_bits=5),
}


def align(value, frm, to):
    return value >> (frm - to) if frm >= to else value << (to - frm)


def sign_rule(cfg, w, r, deterministic):
    """``(nonzero, negative)`` of the sign ``s`` that section 3 samples from ``w`` with draw ``r``
    (Amaranth expressions; the binary sign is never zero)."""
    wb, wf, bits = cfg.weight_bits, cfg.weight_frac, cfg.rand_bits
    stochastic = (cfg.sampling == "stochastic") & ~deterministic
    if cfg.weights == "binary":
        t = w + 2 ** wf                                   # in [0, 2^weight_bits)
        plus = Mux(stochastic, r < align(t, wb, bits), w >= 0)
        return 1, ~plus
    magnitude = Mux(w < 0, -w, w)                         # in [0, 2^Wf]
    keep = Mux(stochastic, r < align(magnitude, wf, bits), 2 * magnitude >= 2 ** wf)
    return keep, keep & (w < 0)


def _make(cfg):
    from fewmul.hw.sampler import Sampler
    return Sampler(cfg)


def _spec(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    cfg = dut.cfg
    wb, wf, bits = cfg.weight_bits, cfg.weight_frac, cfg.rand_bits
    w = AnyConst(signed(wb))
    r = AnyConst(bits)
    deterministic = AnyConst(1)
    m.d.comb += [dut.weight.eq(w), dut.rand.eq(r), dut.deterministic.eq(deterministic)]
    stochastic = Signal()
    m.d.comb += stochastic.eq((cfg.sampling == "stochastic") & ~deterministic)
    nonzero, negative = sign_rule(cfg, w, r, deterministic)
    m.d.comb += Assert(dut.nonzero == nonzero)
    m.d.comb += Assert(dut.negative == negative)
    if cfg.weights == "binary":
        if covers and cfg.sampling == "stochastic":
            top = align(2 ** wb - 1, wb, bits)            # tB of the largest weight
            m.d.comb += Cover(stochastic & (w == -(2 ** wf)) & dut.negative & (r == 0))
            m.d.comb += Cover(stochastic & (w == 2 ** wf - 1) & ~dut.negative & (r == top - 1))
            m.d.comb += Cover(stochastic & (w == 2 ** wf - 1) & dut.negative)
        if covers:
            m.d.comb += Cover(~stochastic & (w == -1) & dut.negative)
            m.d.comb += Cover(~stochastic & (w == 0) & ~dut.negative)
        return
    if covers and cfg.sampling == "stochastic":
        m.d.comb += Cover(stochastic & (w == -(2 ** wf)) & dut.nonzero & (r == 2 ** bits - 1))
        m.d.comb += Cover(stochastic & (w == 2 ** wf - 1) & ~dut.nonzero)
        m.d.comb += Cover(stochastic & (w < 0) & (w > -(2 ** (wf - 2))) & dut.negative)
    if covers:
        m.d.comb += Cover(~stochastic & (w == -(2 ** (wf - 1))) & dut.negative)
        m.d.comb += Cover(~stochastic & (w == 2 ** (wf - 1) - 1) & ~dut.nonzero)
        m.d.comb += Cover((w == 0) & ~dut.nonzero)


def _proofs_for(tag, cfg, make=None):
    make = make or partial(_make, cfg)
    return [
        Proof(name=f"sampler.{tag}.spec", block="sampler",
              prop=f"({cfg.weights}, {cfg.sampling}) sign = rule of datapath.md section 3",
              build=partial(Harness, _spec, make), mode="prove", depth=1),
        Proof(name=f"sampler.{tag}.corners", block="sampler",
              prop="reachable: extreme weights both ways, deterministic thresholds, zero",
              build=partial(Harness, partial(_spec, covers=True), make), mode="cover", depth=1),
    ]


def proofs():
    return [p for tag, cfg in CASES.items() for p in _proofs_for(tag, cfg)]


def mutants():
    out = []
    for tag in ("bin_stoch", "ter_stoch", "ter_det", "ter_stoch_w5"):
        cfg = CASES[tag]
        proof, make = _proofs_for(tag, cfg)[0], partial(_make, cfg)
        out.append(mutated(proof, _spec, make, "negative_flipped",
                           outputs={"negative": lambda n: ~n}))
        if cfg.sampling == "stochastic":
            out.append(mutated(proof, _spec, make, "rand_plus_1",
                               inputs={"rand": lambda r: r + 1}))
            out.append(mutated(proof, _spec, make, "deterministic_ignored",
                               inputs={"deterministic": lambda d: 0}))
        if cfg.weights == "ternary":                      # |w| of a negative w needs its carry
            out.append(mutated(proof, _spec, make, "weight_lsb_flipped",
                               inputs={"weight": lambda w: w ^ 1}))
    return out
