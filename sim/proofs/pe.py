"""Processing element (``hw/pe.py``): the sign-flip unit, against ``docs/datapath.md`` 3, 5, 7.

The spec multiplies: with ``s`` the sign section 3 samples from the stored weight and the draw
``r = u XOR v`` (:func:`fewmul.sim.proofs.sampler.sign_rule`), one cycle later

    forward  = s * x          backward = s * δ          (the same s for both)

and the stored weight follows its column chain: ``w <= weight_in`` when ``rotate``. The PE's
``x_neg`` / ``delta_neg`` inputs are assumed to carry ``-x`` / ``-δ`` (the column's and row's
contract). Every input is free in every cycle; k-induction proves the property for every
reachable state, and the explicit previous-value registers make it 1-inductive.
"""

from functools import partial

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cover, Module, Mux, Signal, signed

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, mutated
from .sampler import sign_rule

BLOCK = "fewmul.hw.pe"

CASES = {
    "bin_stoch": Config(weights="binary", sampling="stochastic"),
    "ter_stoch": Config(weights="ternary", sampling="stochastic"),
    "ter_det": Config(weights="ternary", sampling="deterministic"),
}


def _make(cfg):
    from fewmul.hw.pe import PE
    return PE(cfg)


def _spec(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    cfg = dut.cfg
    bits = cfg.rand_bits
    weight_in, rotate = AnySeq(signed(cfg.weight_bits)), AnySeq(1)
    u, v, deterministic = AnySeq(bits), AnySeq(bits), AnySeq(1)
    x, delta = AnySeq(signed(cfg.act_bits)), AnySeq(signed(cfg.err_bits))
    m.d.comb += [dut.weight_in.eq(weight_in), dut.rotate.eq(rotate), dut.u.eq(u), dut.v.eq(v),
                 dut.deterministic.eq(deterministic), dut.x.eq(x), dut.delta.eq(delta),
                 dut.x_neg.eq(-x), dut.delta_neg.eq(-delta)]
    m.d.comb += [Assume(dut.x_neg == -x), Assume(dut.delta_neg == -delta)]

    nonzero, negative = sign_rule(cfg, dut.weight, u ^ v, deterministic)
    sign = Signal(signed(2))                               # s in {-1, 0, +1}
    m.d.comb += sign.eq(Mux(nonzero, Mux(negative, -1, 1), 0))

    started = Signal()
    prev_sign = Signal(signed(2))
    prev_x, prev_delta = Signal.like(x), Signal.like(delta)
    prev_weight, prev_weight_in, prev_rotate = Signal.like(dut.weight), Signal.like(weight_in), \
        Signal()
    m.d.sync += [started.eq(1), prev_sign.eq(sign), prev_x.eq(x), prev_delta.eq(delta),
                 prev_weight.eq(dut.weight), prev_weight_in.eq(weight_in),
                 prev_rotate.eq(rotate)]
    with m.If(started):
        m.d.comb += Assert(dut.forward == prev_sign * prev_x)
        m.d.comb += Assert(dut.backward == prev_sign * prev_delta)
        m.d.comb += Assert(dut.weight == Mux(prev_rotate, prev_weight_in, prev_weight))
    if covers:
        most_negative_x = -(2 ** (cfg.act_bits - 1))
        most_negative_delta = -(2 ** (cfg.err_bits - 1))
        m.d.comb += Cover(started & (prev_x == most_negative_x) & (dut.forward == -prev_x))
        m.d.comb += Cover(started & (prev_delta == most_negative_delta)
                          & (dut.backward == -prev_delta))
        m.d.comb += Cover(started & (prev_x != 0) & (dut.forward == prev_x) & (prev_delta != 0)
                          & (dut.backward == prev_delta))
        if cfg.weights == "ternary":
            m.d.comb += Cover(started & (prev_x != 0) & (dut.forward == 0))


def _proofs_for(tag, cfg, make=None):
    make = make or partial(_make, cfg)
    return [
        Proof(name=f"pe.{tag}.signflip", block="pe",
              prop=f"({cfg.weights}, {cfg.sampling}) forward' = s x, backward' = s δ, same s "
                   "from w and u^v; w' = rotate ? weight_in : w",
              build=partial(Harness, _spec, make), mode="prove", depth=3),
        Proof(name=f"pe.{tag}.corners", block="pe",
              prop="reachable: -(-1.0), -(-8.0) error, +s on both, zero sign (ternary)",
              build=partial(Harness, partial(_spec, covers=True), make), mode="cover", depth=3),
    ]


def proofs():
    return [p for tag, cfg in CASES.items() for p in _proofs_for(tag, cfg)]


def _split_signs(cfg):
    """A PE whose backward product uses a sign sampled with another draw (``u ^ v ^ 1``)."""
    from fewmul.hw.pe import PE
    from fewmul.hw.sampler import Sampler

    class SplitSignPE(PE):
        def elaborate(self, platform):
            m = Module()
            weight = Signal(signed(self.cfg.weight_bits), reset_less=True)
            with m.If(self.rotate):
                m.d.sync += weight.eq(self.weight_in)
            m.d.comb += self.weight.eq(weight)
            m.submodules.fwd = fwd = Sampler(self.cfg)
            m.submodules.bwd = bwd = Sampler(self.cfg)
            m.d.comb += [fwd.weight.eq(weight), fwd.rand.eq(self.u ^ self.v),
                         bwd.weight.eq(weight), bwd.rand.eq(self.u ^ self.v ^ 1),
                         fwd.deterministic.eq(self.deterministic),
                         bwd.deterministic.eq(self.deterministic)]
            m.d.sync += [
                self.forward.eq(Mux(fwd.nonzero, Mux(fwd.negative, self.x_neg, self.x), 0)),
                self.backward.eq(Mux(bwd.nonzero,
                                     Mux(bwd.negative, self.delta_neg, self.delta), 0)),
            ]
            return m

    return SplitSignPE(cfg)


def mutants():
    out = []
    for tag in ("bin_stoch", "ter_stoch"):
        cfg = CASES[tag]
        proof, make = _proofs_for(tag, cfg)[0], partial(_make, cfg)
        out += [
            mutated(proof, _spec, partial(_split_signs, cfg), "backward_other_sign"),
            mutated(proof, _spec, make, "row_draw_ignored", inputs={"v": lambda v: 0}),
            mutated(proof, _spec, make, "rotate_ignored", inputs={"rotate": lambda r: 0}),
            mutated(proof, _spec, make, "forward_lsb_flipped",
                    outputs={"forward": lambda f: f ^ 1}),
            mutated(proof, _spec, make, "x_neg_off_by_one", inputs={"x_neg": lambda x: x + 1}),
        ]
    return out
