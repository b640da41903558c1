"""The multiplier-free weight update (``docs/datapath.md`` section 8).

Golden twin: ``fewmul.golden.update.weight_delta`` / ``update_weights``. ``δ[i] Q(x[j]) 2^-lr``
is a sign flip by ``Q(x[j])``'s sign and one barrel shift (:class:`fewmul.hw.shifter.Shifter`)
by ``update_base_shift + lr_offset + shift[j]`` keeping ``rand_bits`` fraction bits; the
fraction is rounded stochastically against ``ρ[i, j]`` (or to nearest) and the step is added with
saturation. ``lr_offset`` (``0 .. cfg.lr_range``) is the run-time learning rate: the result is
the golden model's at ``cfg.replace(lr_shift=cfg.lr_shift + lr_offset)``.

``cfg.update_fraction`` ``round`` (the unbiased fraction) costs one guard bit: the shifter keeps
``rand_bits + 1`` fraction bits, and the lowest, ``carry``, is added to the fraction the
rounding compares (``ρ < fraction + carry``): a ``B``-bit increment per column unit.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .shifter import Shifter

__all__ = ["UpdateShift", "UpdateRound", "UpdateStep", "WeightUpdate", "BiasUpdate",
           "STEP_INPUTS", "step_width", "saturating_add"]


def step_width(cfg):
    """Width of a rounded update step: ``|step| <= 2^(err_bits - 1 - update_base_shift)``
    (a non-zero ``lr_offset`` only makes steps smaller)."""
    return max(2, cfg.err_bits + 1 - cfg.update_base_shift)


def _quant_ports(cfg):
    return {
        "delta": In(signed(cfg.err_bits)),
        "negative": In(1),
        "shift": In(range(cfg.max_shift + 1)),
        "is_zero": In(1),
        "rand": In(cfg.rand_bits),
        "lr_offset": In(range(cfg.lr_range + 1)),
    }


#: The inputs of :class:`UpdateStep` (and of :class:`WeightUpdate` besides ``weight``).
STEP_INPUTS = ("delta", "negative", "shift", "is_zero", "rand", "lr_offset")


class UpdateShift(ConfigComponent):
    """First half of :class:`UpdateStep`: the barrel shift of the sign-flipped error.

    Ports
    -----
    value : In(signed(err_bits + 1))
        ``d = -δ if negative else δ`` (``-(-2^(E-1))`` needs the extra bit).
    shift : In(range(max_shift + 1)), lr_offset : In(range(lr_range + 1))
        The quantizer's shift and the run-time learning-rate offset.
    whole : Out(signed(err_bits + 1)), fraction : Out(rand_bits), carry : Out(1)
        ``wide = (d << (B + 1)) >> S`` with ``S = update_base_shift + lr_offset + shift``,
        ``whole = wide >> (B + 1)``, ``fraction`` the ``B`` bits above the lowest,
        ``carry = wide & 1`` when ``cfg.update_fraction`` is ``round``, else 0 (the guard bit is
        not built). ``whole, fraction`` with ``carry`` added at the bottom is
        ``((d << B) + 2^(S-1)) >> S``, the rounded fraction of ``docs/datapath.md`` section 8.

    Latency 0 (combinational). The array registers ``whole`` and ``fraction`` before
    :class:`UpdateRound` (one pipeline stage each); :class:`UpdateStep` composes the two
    without a register, and its formal proof covers the composition.
    """

    latency = 0

    def members(self, cfg):
        return {
            "value": In(signed(cfg.err_bits + 1)),
            "shift": In(range(cfg.max_shift + 1)),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "whole": Out(signed(cfg.err_bits + 1)),
            "fraction": Out(cfg.rand_bits),
            "carry": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        guard = int(cfg.update_fraction == "round")
        m.submodules.shifter = shifter = Shifter(width=cfg.err_bits + 1,
                                                 max_shift=cfg.update_max_shift,
                                                 frac_bits=cfg.rand_bits + guard)
        m.d.comb += [
            shifter.value.eq(self.value),
            shifter.shift.eq(cfg.update_base_shift + self.lr_offset + self.shift),
            self.whole.eq(shifter.whole),
            self.fraction.eq(shifter.fraction[guard:]),
        ]
        if guard:
            m.d.comb += self.carry.eq(shifter.fraction[0])
        return m


class UpdateRound(ConfigComponent):
    """Second half of :class:`UpdateStep`: rounding of the shifted error to a step.

    Ports
    -----
    whole : In(signed(err_bits + 1)), fraction : In(rand_bits), carry : In(1)
        From :class:`UpdateShift` (``carry`` is 0 unless ``update_fraction`` is ``round``).
    rand : In(rand_bits)
        ``ρ[i, j]``; ignored by nearest rounding.
    is_zero : In(1)
        ``Q(x[j])`` is zero: the step is 0.
    step : Out(signed(step_width(cfg)))
        ``whole + up`` with ``up = ρ < fraction + carry`` (stochastic) or
        ``fraction + carry >= 2^(B-1)`` (nearest); 0 where ``is_zero``. ``fraction + carry``
        may be ``2^B``, the carry into ``whole``: then ``up`` is 1 in both modes, which is
        exactly ``whole + 1`` with a zero fraction.
    up : Out(1)
        ``up`` itself (``is_zero`` aside), for a unit that adds it as a carry-in instead.

    Latency 0 (combinational).
    """

    latency = 0

    def members(self, cfg):
        return {
            "whole": In(signed(cfg.err_bits + 1)),
            "fraction": In(cfg.rand_bits),
            "carry": In(1),
            "rand": In(cfg.rand_bits),
            "is_zero": In(1),
            "step": Out(signed(step_width(cfg))),
            "up": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        up = Signal()
        # truncate: carry is 0 and not built; round: fraction + carry has B + 1 bits
        fraction = self.fraction + self.carry if cfg.update_fraction == "round" else self.fraction
        if cfg.update_rounding == "stochastic":
            m.d.comb += up.eq(self.rand < fraction)
        else:
            m.d.comb += up.eq(fraction >= (1 << (cfg.rand_bits - 1)))
        m.d.comb += [self.step.eq(Mux(self.is_zero, 0, self.whole + up)), self.up.eq(up)]
        return m


class UpdateStep(ConfigComponent):
    """Combinational rounded update step ``round(δ Q(x) 2^-(lr_shift + lr_offset))`` in weight
    units: the sign flip, then :class:`UpdateShift` and :class:`UpdateRound`.

    Parameters
    ----------
    cfg : fewmul.config.Config
        ``err_bits``, ``rand_bits``, ``shift_bits``, ``update_base_shift``, ``lr_range`` and
        ``update_rounding`` are used.

    Ports
    -----
    delta : In(signed(err_bits))
        The row's error ``δ[i]``.
    negative, shift, is_zero : In
        ``Q(x[j])`` from :class:`fewmul.hw.quantizer.Quantizer`.
    rand : In(rand_bits)
        ``ρ[i, j] = u'[j] XOR v'[i]``; ignored by nearest rounding.
    lr_offset : In(range(lr_range + 1))
        Run-time learning-rate offset: the shift is ``update_base_shift + lr_offset + shift``,
        bit-identical to ``cfg.replace(lr_shift=cfg.lr_shift + lr_offset)``. Unconnected: 0.
    step : Out(signed(step_width(cfg)))
        ``whole + up`` (0 where ``is_zero``): what is added to the weight.

    Latency 0 (combinational); one step per cycle.
    """

    latency = 0

    def members(self, cfg):
        return {**_quant_ports(cfg), "step": Out(signed(step_width(cfg)))}

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        m.submodules.shift = shift = UpdateShift(cfg)
        m.submodules.round = round_ = UpdateRound(cfg)
        m.d.comb += [
            shift.value.eq(Mux(self.negative, -self.delta, self.delta)),
            shift.shift.eq(self.shift),
            shift.lr_offset.eq(self.lr_offset),
            round_.whole.eq(shift.whole),
            round_.fraction.eq(shift.fraction),
            round_.carry.eq(shift.carry),
            round_.rand.eq(self.rand),
            round_.is_zero.eq(self.is_zero),
            self.step.eq(round_.step),
        ]
        return m


class WeightUpdate(ConfigComponent):
    """Combinational weight update ``sat(w + step, weight_bits)`` (:class:`UpdateStep` + add).

    Ports: those of :class:`UpdateStep` (without ``step``), plus ``weight : In(signed(
    weight_bits))`` and ``updated : Out(signed(weight_bits))``. Latency 0; one per cycle.
    """

    latency = 0

    def members(self, cfg):
        return {
            **_quant_ports(cfg),
            "weight": In(signed(cfg.weight_bits)),
            "updated": Out(signed(cfg.weight_bits)),
        }

    def elaborate(self, platform):
        m = Module()
        m.submodules.step = step = UpdateStep(self._cfg)
        for name in STEP_INPUTS:
            m.d.comb += getattr(step, name).eq(getattr(self, name))
        updated, _ = saturating_add(m, self.weight, step.step, self._cfg.weight_bits)
        m.d.comb += self.updated.eq(updated)
        return m


class BiasUpdate(ConfigComponent):
    """Bias update ``sat(b + round(δ >> update_base_shift))`` (section 8: the weight rule with
    ``shift = 0``, a positive sign and ``ρ = v'[i]``).

    Ports: ``bias : In(signed(weight_bits))``, ``delta : In(signed(err_bits))``,
    ``rand : In(rand_bits)``, ``lr_offset : In(range(lr_range + 1))``;
    ``updated : Out(signed(weight_bits))`` and ``clipped : Out(1)`` (the exact sum saturated).

    ``registered=False``: combinational (latency 0), :class:`UpdateStep` and the saturating add.
    ``registered=True``: latency 1, one register in the middle: :class:`UpdateShift` and the
    rounding decision ``up`` of :class:`UpdateRound` before it, then ``b + whole + up`` as one
    adder with ``up`` its carry-in and the saturation after it (three carry chains in a row,
    the comparison, ``whole + up`` and the add, were one path, the ULX3S trainer's critical
    path in two of three builds).
    """

    def __init__(self, cfg, *, registered=False):
        self._registered = bool(registered)
        super().__init__(cfg)

    @property
    def latency(self):
        return int(self._registered)

    def members(self, cfg):
        return {
            "bias": In(signed(cfg.weight_bits)),
            "delta": In(signed(cfg.err_bits)),
            "rand": In(cfg.rand_bits),
            "lr_offset": In(range(cfg.lr_range + 1)),
            "updated": Out(signed(cfg.weight_bits)),
            "clipped": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        if not self._registered:
            m.submodules.step = step = UpdateStep(cfg)
            m.d.comb += [step.delta.eq(self.delta), step.negative.eq(0), step.shift.eq(0),
                         step.is_zero.eq(0), step.rand.eq(self.rand),
                         step.lr_offset.eq(self.lr_offset)]
            updated, clipped = saturating_add(m, self.bias, step.step, cfg.weight_bits)
        else:
            m.submodules.shift = shift = UpdateShift(cfg)
            m.submodules.round = round_ = UpdateRound(cfg)
            m.d.comb += [shift.value.eq(self.delta), shift.shift.eq(0),
                         shift.lr_offset.eq(self.lr_offset),
                         round_.whole.eq(shift.whole), round_.fraction.eq(shift.fraction),
                         round_.carry.eq(shift.carry), round_.rand.eq(self.rand),
                         round_.is_zero.eq(0)]
            bias, whole, up = Signal.like(self.bias), Signal.like(shift.whole), Signal()
            m.d.sync += [bias.eq(self.bias), whole.eq(shift.whole), up.eq(round_.up)]
            updated, clipped = saturating_add(m, bias, whole, cfg.weight_bits, carry=up)
        m.d.comb += [self.updated.eq(updated), self.clipped.eq(clipped)]
        return m


def saturating_add(m, weight, step, bits, carry=None):
    """``(sat(weight + step + carry, bits), clipped)`` as signals of ``m`` (one adder and a
    clamp, never wraps); ``clipped`` is 1 when the exact sum left the range (a saturation
    event). ``carry`` (1 bit, optional) enters the adder as its carry-in: ``{weight, 1} +
    {step, carry}`` without its lowest bit, one carry chain.

    The sum is in range exactly when its bits from ``bits - 1`` up are all equal (a
    sign-extension check: a few LUTs, no comparator carry chain after the adder).
    """
    total = Signal(signed(max(bits, len(step)) + 1))
    if carry is None:
        m.d.comb += total.eq(weight + step)
    else:
        wide = Signal(signed(len(total) + 1))
        m.d.comb += [wide.eq(Cat(C(1, 1), weight).as_signed() + Cat(carry, step).as_signed()),
                     total.eq(wide[1:])]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    top = total[bits - 1:]
    in_range = (top == 0) | (top == (1 << len(top)) - 1)
    result = Signal(signed(bits))
    m.d.comb += result.eq(Mux(in_range, total[:bits], Mux(total[-1], lo, hi)))
    return result, ~in_range
