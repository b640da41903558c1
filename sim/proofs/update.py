"""Weight update (``hw/update.py``) against ``docs/datapath.md`` section 8.

Spec, the document's formulas in exact integer arithmetic (Amaranth expressions widen, and
``>>`` of a signed value is the floor shift the document uses), one ``Case`` per quantizer
shift and run-time learning-rate offset so every shift amount is a constant:

    d = -δ if negative else δ;  S = update_base_shift + lr_offset + shift;  wide = (d << B) >> S
    (update_fraction round: wide = ((d << B) + 2^(S-1)) >> S for S > 0, the carry-in)
    whole = wide >> B;  fraction = wide & (2^B - 1)
    up = ρ < fraction (stochastic) or fraction >= 2^(B-1) (nearest)
    w' = w if is_zero else sat(w + whole + up, weight_bits)

``UpdateStep.step`` must be ``whole + up`` (0 for the zero code) and ``WeightUpdate.updated``
must be ``w'``: nothing wraps. All inputs are free: one combinational step proves it for all.
"""

from functools import partial

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cat, Cover, Module, Mux, Signal, signed

from fewmul.config import Config

from ..formal import Proof
from ._harness import Harness, mutated

BLOCK = "fewmul.hw.update"

#: name -> Config: both roundings at the defaults; a learning rate so small that most steps are
#: below one LSB (the shift runs past the error's width); narrow formats where one step can
#: exceed the weight range (saturation from any weight).
CASES = {
    "stoch": Config(update_rounding="stochastic"),
    "nearest": Config(update_rounding="nearest"),
    "stoch_lr20": Config(update_rounding="stochastic", lr_shift=20),
    "stoch_narrow": Config(update_rounding="stochastic", act_bits=6, weight_bits=6, err_bits=8,
                           err_frac=5, lr_shift=1, rand_bits=3, shift_bits=2),
    "nearest_narrow": Config(update_rounding="nearest", act_bits=6, weight_bits=6, err_bits=8,
                             err_frac=5, lr_shift=1, rand_bits=3, shift_bits=2),
    # the unbiased fraction: the guard bit added to the compared fraction, defaults and narrow
    "stoch_round": Config(update_rounding="stochastic", update_fraction="round"),
    "nearest_round_narrow": Config(update_rounding="nearest", update_fraction="round",
                                   act_bits=6, weight_bits=6, err_bits=8, err_frac=5, lr_shift=1,
                                   rand_bits=3, shift_bits=2),
}


def _make_step(cfg):
    from fewmul.hw.update import UpdateStep
    return UpdateStep(cfg)


def _make_update(cfg):
    from fewmul.hw.update import WeightUpdate
    return WeightUpdate(cfg)


def _spec(m, make, *, covers=False):
    """Drives the update's inputs freely and checks ``step`` and/or ``updated``."""
    m.submodules.dut = dut = make()
    cfg = dut.cfg
    bits, wb = cfg.rand_bits, cfg.weight_bits
    has_weight = hasattr(dut, "updated")
    delta = AnyConst(signed(cfg.err_bits))
    negative, is_zero = AnyConst(1), AnyConst(1)
    shift = AnyConst(len(dut.shift))
    rho = AnyConst(bits)
    lr_offset = AnyConst(len(dut.lr_offset))
    m.d.comb += [dut.delta.eq(delta), dut.negative.eq(negative), dut.is_zero.eq(is_zero),
                 dut.shift.eq(shift), dut.rand.eq(rho), dut.lr_offset.eq(lr_offset)]
    m.d.comb += Assume(lr_offset <= cfg.lr_range)         # the port's range (a 2^n - 1 bound)
    d = Mux(negative, -delta, delta)
    whole = Signal(signed(cfg.err_bits + 2))
    fraction = Signal(bits)
    floor = Signal(signed(cfg.err_bits + 2))                   # the truncated whole
    with m.Switch(Cat(shift, lr_offset)):
        for lr in range(cfg.lr_range + 1):
            for s in range(2 ** len(dut.shift)):
                with m.Case(s | lr << len(dut.shift)):
                    amount = cfg.update_base_shift + lr + min(s, cfg.max_shift)
                    half = 2 ** (amount - 1) if amount and cfg.update_fraction == "round" else 0
                    wide = ((d << bits) + half) >> amount
                    m.d.comb += [whole.eq(wide >> bits), fraction.eq(wide & (2 ** bits - 1)),
                                 floor.eq(d >> amount)]
    if cfg.update_rounding == "stochastic":
        up = rho < fraction
    else:
        up = fraction >= 2 ** (bits - 1)
    step = Signal(signed(cfg.err_bits + 3))
    m.d.comb += step.eq(Mux(is_zero, 0, whole + up))
    lo, hi = -(2 ** (wb - 1)), 2 ** (wb - 1) - 1
    if has_weight:
        w = AnyConst(signed(wb))
        m.d.comb += dut.weight.eq(w)
        total = w + step
        expected = Mux(is_zero, w, Mux(total > hi, hi, Mux(total < lo, lo, total)))
        m.d.comb += Assert(dut.updated == expected)
    else:
        m.d.comb += Assert(dut.step == step)
    if covers:
        m.d.comb += Cover(~is_zero & (whole == 0) & up & (step == 1))   # sub-LSB step kept
        m.d.comb += Cover(~is_zero & (shift == cfg.max_shift) & (step != 0))
        m.d.comb += Cover(~is_zero & negative & (delta == -(2 ** (cfg.err_bits - 1))))
        m.d.comb += Cover(is_zero & (delta != 0))
        if cfg.update_fraction == "round":                       # the carry reaches ``whole``
            m.d.comb += Cover(~is_zero & (fraction == 0) & (whole == floor + 1))
        m.d.comb += Cover(~is_zero & (lr_offset == cfg.lr_range) & (shift == cfg.max_shift)
                          & (step != 0))                          # the largest shift still acts
        if has_weight:
            m.d.comb += Cover(~is_zero & (w + step > hi) & (dut.updated == hi))
            m.d.comb += Cover(~is_zero & (w + step < lo) & (dut.updated == lo))


def _proofs(tag, cfg, *, step_make=None, update_make=None):
    step_make = step_make or partial(_make_step, cfg)
    update_make = update_make or partial(_make_update, cfg)
    return [
        Proof(name=f"update.{tag}.step", block="update",
              prop=f"({cfg.update_rounding}, {cfg.update_fraction}) step = whole + up of "
                   f"(±δ << B) >> S, 0 if zero, "
                 f"every lr_offset 0..{cfg.lr_range}",
              build=partial(Harness, _spec, step_make), mode="prove", depth=1),
        Proof(name=f"update.{tag}.saturate", block="update",
              prop=f"({cfg.update_rounding}, {cfg.update_fraction}) w' = sat(w + whole + up, "
                   f"weight_bits), w if zero",
              build=partial(Harness, _spec, update_make), mode="prove", depth=1),
        Proof(name=f"update.{tag}.corners", block="update",
              prop="reachable: sub-LSB step rounded up, max shift, -(-2^(E-1)), zero code, "
                   "a step at the largest shift and lr_offset, saturation high and low",
              build=partial(Harness, partial(_spec, covers=True), update_make), mode="cover",
              depth=1),
    ]


def proofs():
    return [p for tag, cfg in CASES.items() for p in _proofs(tag, cfg)]


# -- mutants ------------------------------------------------------------------------------------

def _wrapping(cfg):
    """``WeightUpdate`` that adds without saturating (the sum wraps to ``weight_bits``)."""
    from fewmul.hw.update import STEP_INPUTS, UpdateStep, WeightUpdate

    class WrappingUpdate(WeightUpdate):
        def elaborate(self, platform):
            m = Module()
            m.submodules.step = step = UpdateStep(self.cfg)
            for name in STEP_INPUTS:
                m.d.comb += getattr(step, name).eq(getattr(self, name))
            m.d.comb += self.updated.eq(self.weight + step.step)
            return m

    return WrappingUpdate(cfg)


def _upper_only(cfg):
    """``WeightUpdate`` that saturates at the top only (negative overflow wraps)."""
    from fewmul.hw.update import STEP_INPUTS, UpdateStep, WeightUpdate

    class UpperOnlyUpdate(WeightUpdate):
        def elaborate(self, platform):
            m = Module()
            m.submodules.step = step = UpdateStep(self.cfg)
            for name in STEP_INPUTS:
                m.d.comb += getattr(step, name).eq(getattr(self, name))
            total = self.weight + step.step
            hi = 2 ** (self.cfg.weight_bits - 1) - 1
            m.d.comb += self.updated.eq(Mux(total > hi, hi, total))
            return m

    return UpperOnlyUpdate(cfg)


def _truncating(cfg):
    """``UpdateStep`` that drops the guard bit (``update_fraction`` truncate under a round
    config: every step rounds down)."""
    from fewmul.hw.update import STEP_INPUTS, UpdateStep

    class TruncatingStep(UpdateStep):
        def elaborate(self, platform):
            m = Module()
            m.submodules.inner = inner = UpdateStep(self.cfg.replace(update_fraction="truncate"))
            for name in STEP_INPUTS:
                m.d.comb += getattr(inner, name).eq(getattr(self, name))
            m.d.comb += self.step.eq(inner.step)
            return m

    return TruncatingStep(cfg)


def mutants():
    out = []
    for tag in ("stoch_round", "nearest_round_narrow"):
        cfg = CASES[tag]
        step = _proofs(tag, cfg)[0]
        out.append(mutated(step, _spec, partial(_truncating, cfg), "guard_bit_dropped"))
    for tag in ("stoch", "nearest", "stoch_narrow"):
        cfg = CASES[tag]
        step, update, _ = _proofs(tag, cfg)
        make_step, make_update = partial(_make_step, cfg), partial(_make_update, cfg)
        out += [
            mutated(step, _spec, make_step, "shift_plus_1", inputs={"shift": lambda s: s + 1}),
            mutated(step, _spec, make_step, "sign_flip_dropped",
                    inputs={"negative": lambda n: 0}),
            mutated(step, _spec, make_step, "zero_code_ignored",
                    inputs={"is_zero": lambda z: 0}),
            mutated(step, _spec, make_step, "lr_offset_ignored",
                    inputs={"lr_offset": lambda lr: 0}),
            mutated(update, _spec, make_update, "lr_offset_plus_1",
                    inputs={"lr_offset": lambda lr: lr + 1}),
            mutated(step, _spec, make_step, "delta_lsb_flipped",
                    inputs={"delta": lambda d: d ^ 1}),
            mutated(update, _spec, make_update, "updated_lsb_flipped",
                    outputs={"updated": lambda w: w ^ 1}),
            mutated(update, _spec, partial(_wrapping, cfg), "no_saturation"),
            mutated(update, _spec, partial(_upper_only, cfg), "no_low_saturation"),
        ]
        if cfg.update_rounding == "stochastic":
            out.append(mutated(step, _spec, make_step, "rand_plus_1",
                               inputs={"rand": lambda r: r + 1}))
    return out
