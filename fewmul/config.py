"""The one configuration object shared by the golden model and the hardware.

Every width, range and mode of the datapath lives here; the golden model (``fewmul.golden``) and
the Amaranth designs (``fewmul.hw``) both take a :class:`Config` and read derived widths from its
properties, so no width is re-derived by hand in two places. The arithmetic each field controls is
specified in ``docs/datapath.md``.
"""

import math
from dataclasses import dataclass, field, fields, replace

__all__ = ["Config", "WEIGHT_MODES", "SAMPLING_MODES", "QUANTIZER_MODES", "ACTIVATIONS",
           "ROUNDING_MODES", "FRACTION_MODES"]

WEIGHT_MODES = ("binary", "ternary")
SAMPLING_MODES = ("stochastic", "deterministic")
QUANTIZER_MODES = ("stochastic", "deterministic")
ACTIVATIONS = ("relu", "htanh")
ROUNDING_MODES = ("stochastic", "nearest")
FRACTION_MODES = ("truncate", "round")


def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {bound}, not {value!r}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; not {value!r}")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Widths, ranges and modes of a fewmul MLP and of the array that trains it.

    Number formats (``docs/datapath.md`` section 1): activations are signed ``act_bits`` with
    ``act_bits - 1`` fraction bits; hidden weights and biases are signed ``weight_bits`` with
    ``weight_bits - 1`` fraction bits (range [-1, 1)); errors are signed ``err_bits`` with
    ``err_frac`` fraction bits.
    """

    #: Layer sizes, input first: ``(64, 64, 10)`` is a 64-input, 64-hidden, 10-output MLP.
    layers: tuple = (64, 64, 10)
    #: ``binary`` samples weights to {-1, +1}; ``ternary`` to {-1, 0, +1}.
    weights: str = "binary"
    #: ``stochastic`` (the paper's training rule) or ``deterministic`` signs during training.
    sampling: str = "stochastic"
    #: Rounding of the layer input to a power of two for the weight update.
    quantizer: str = "stochastic"
    #: Hidden-layer activation: saturating ReLU, clip(z, 0, 1), or hard tanh, clip(z, -1, 1).
    #: Hard tanh trains binary/ternary connect much better (no unit dies: its mask is 0 only
    #: where it saturates).
    activation: str = "htanh"
    act_bits: int = 8
    weight_bits: int = 16
    err_bits: int = 16
    err_frac: int = 12
    #: Bits of every random draw (and of the comparisons that consume them).
    rand_bits: int = 8
    #: Bits of the quantizer's shift: shifts 0 .. 2**shift_bits - 1 (the paper: 3-4 suffice).
    shift_bits: int = 3
    #: Learning rate 2**-lr_shift, applied to weights and biases: the hardware's reset value and
    #: the first epoch's.
    lr_shift: int = 6
    #: Run-time learning-rate range: the host may set any shift in
    #: ``lr_shift .. lr_shift + lr_range`` between samples (a schedule that halves the rate
    #: ``lr_range`` times); the update's barrel shifter is sized for the largest.
    lr_range: int = 3
    #: Per-layer power-of-two scale in place of batch normalisation: z = (W x) >> scale.
    #: ``None`` picks max(0, round(log2(fan_in) / 2) - 1) per layer: 2^-S ~ 2 / sqrt(fan_in),
    #: twice the paper's W0, so that weights clipped to [-1, 1] still reach what SGD needs.
    scale_shifts: tuple = None
    #: Rounding of the shifted-out bits of weight and bias updates.
    update_rounding: str = "stochastic"
    #: The ``rand_bits`` fraction bits of the update's barrel shift, which the rounding compares
    #: with a draw: ``truncate`` (floor: every update loses up to 2^-rand_bits of a weight LSB,
    #: a downward bias), or ``round`` (half up: the shifted-out bit below them is a carry-in,
    #: unbiased). The hardware implements both (round: one guard bit of the shift).
    update_fraction: str = "truncate"
    #: Seed of the random-number streams (``docs/datapath.md`` section 6).
    seed: int = 1
    #: Processing-element array shape (hardware only; the golden model does not depend on it).
    array_rows: int = 8
    array_cols: int = 8
    _scales: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        layers = self.layers
        if (not isinstance(layers, tuple) or len(layers) < 2
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in layers)):
            raise ValueError(f"layers must be a tuple of at least two positive integers, "
                             f"not {layers!r}")
        if max(layers) > 4096:
            raise ValueError(f"layers must have at most 4096 units each, not {layers!r}")
        _check_choice("weights", self.weights, WEIGHT_MODES)
        _check_choice("sampling", self.sampling, SAMPLING_MODES)
        _check_choice("quantizer", self.quantizer, QUANTIZER_MODES)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("update_rounding", self.update_rounding, ROUNDING_MODES)
        _check_choice("update_fraction", self.update_fraction, FRACTION_MODES)
        _check_int("act_bits", self.act_bits, 3, 16)
        _check_int("weight_bits", self.weight_bits, 3, 24)
        _check_int("err_bits", self.err_bits, 4, 32)
        self._check_err_frac()
        _check_int("rand_bits", self.rand_bits, 1, 16)
        _check_int("shift_bits", self.shift_bits, 1, 5)
        _check_int("lr_shift", self.lr_shift, 0, 30)
        _check_int("lr_range", self.lr_range, 0)
        if self.lr_shift + self.lr_range > 30:
            raise ValueError(f"lr_shift + lr_range must be <= 30 (the largest learning-rate "
                             f"shift), not {self.lr_shift} + {self.lr_range}: lower lr_range to "
                             f"{30 - self.lr_shift} or less")
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check_int("array_rows", self.array_rows, 1, 256)
        _check_int("array_cols", self.array_cols, 1, 256)
        if self.update_base_shift < 0:
            raise ValueError(
                f"lr_shift {self.lr_shift!r} too small: the weight update must be a right shift, "
                f"so err_frac + lr_shift - (weight_bits - 1) = {self.update_base_shift} must be "
                f">= 0 (raise lr_shift to {self.weight_frac - self.err_frac} or more)")
        if self.scale_shifts is None:
            scales = tuple(max(0, round(math.log2(n) / 2) - 1) for n in layers[:-1])
        else:
            scales = self.scale_shifts
            if (not isinstance(scales, tuple) or len(scales) != len(layers) - 1
                    or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 16
                           for s in scales)):
                raise ValueError(f"scale_shifts must be a tuple of {len(layers) - 1} integers in "
                                 f"[0, 16], one per layer, not {scales!r}")
        object.__setattr__(self, "_scales", scales)

    def _check_err_frac(self):
        """err_frac lies in [act_bits - 1, err_bits - 2]: an error carries at least an
        activation's fraction bits, plus a sign and an integer bit. Names all three fields."""
        _check_int("err_frac", self.err_frac, 0)
        lo, hi = self.act_frac, self.err_bits - 2
        if lo <= self.err_frac <= hi:
            return
        if lo > hi:
            raise ValueError(
                f"err_bits {self.err_bits} is too narrow for act_bits {self.act_bits}: err_frac "
                f"must be in [act_bits - 1, err_bits - 2] = [{lo}, {hi}], which is empty; use "
                f"err_bits >= {lo + 2} (with err_frac in [{lo}, err_bits - 2]) or act_bits <= "
                f"{self.err_bits - 1}")
        raise ValueError(
            f"err_frac {self.err_frac} does not fit act_bits {self.act_bits} and err_bits "
            f"{self.err_bits}: err_frac must be in [act_bits - 1, err_bits - 2] = [{lo}, {hi}]; "
            f"set err_frac in that range"
            + (f" or err_bits >= {self.err_frac + 2}" if self.err_frac > hi else ""))

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated like a new object)."""
        return replace(self, **changes)

    def as_dict(self):
        """Plain-JSON form (what ``fewmul train --json`` records as ``config``)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        d["layers"] = list(self.layers)
        d["scale_shifts"] = list(self.scales)
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["layers"] = tuple(d["layers"])
        if d.get("scale_shifts") is not None:
            d["scale_shifts"] = tuple(d["scale_shifts"])
        return cls(**d)

    # -- derived formats --------------------------------------------------------------------

    @property
    def n_layers(self):
        """Number of weight layers."""
        return len(self.layers) - 1

    @property
    def scales(self):
        """Per-layer scale shift actually used (``scale_shifts`` or its default)."""
        return self._scales

    @property
    def act_frac(self):
        return self.act_bits - 1

    @property
    def weight_frac(self):
        return self.weight_bits - 1

    @property
    def act_one(self):
        """The integer that stands for 1.0 in activation units."""
        return 1 << self.act_frac

    @property
    def out_bits(self):
        """Width of the output scores: activation units, range [-4, 4)."""
        return self.act_bits + 2

    @property
    def max_shift(self):
        """Largest shift the power-of-two quantizer produces."""
        return (1 << self.shift_bits) - 1

    @property
    def update_base_shift(self):
        """Right shift of ``e * Q(x)`` into weight units, before the quantizer's own shift."""
        return self.err_frac + self.lr_shift - self.weight_frac

    @property
    def update_max_shift(self):
        """Largest update shift over the run-time learning-rate range (sizes the shifter)."""
        return self.update_base_shift + self.lr_range + self.max_shift

    @property
    def lr_shifts(self):
        """The learning-rate shifts the hardware accepts at run time."""
        return range(self.lr_shift, self.lr_shift + self.lr_range + 1)

    def check_lr_shift(self, lr_shift):
        """``lr_shift`` if the hardware accepts it at run time, else ``ValueError`` quoting it."""
        if (isinstance(lr_shift, bool) or not isinstance(lr_shift, int)
                or lr_shift not in self.lr_shifts):
            raise ValueError(f"run-time lr_shift must be an integer in [{self.lr_shift}, "
                             f"{self.lr_shift + self.lr_range}] (lr_shift .. lr_shift + "
                             f"lr_range), not {lr_shift!r}")
        return lr_shift

    @property
    def sample_bits(self):
        """Width of the weight field compared against a random draw when sampling."""
        return self.rand_bits

    def acc_bits(self, fan_in):
        """Accumulator width for a forward sum of ``fan_in`` signed activations (never wraps).

        ``fan_in`` products of the most negative activation reach ``fan_in * 2^(act_bits-1)``,
        which needs ``bit_length(fan_in)`` bits above the activation's own.
        """
        return self.act_bits + fan_in.bit_length()

    def back_acc_bits(self, fan_out):
        """Accumulator width for a backward sum of ``fan_out`` signed errors (never wraps)."""
        return self.err_bits + fan_out.bit_length()
