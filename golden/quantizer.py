"""Power-of-two quantizer of the layer input (``docs/datapath.md`` section 4)."""

from dataclasses import dataclass

import numpy as np

from .fixed import align

__all__ = ["Quantized", "quantize", "leading_one"]


@dataclass(frozen=True)
class Quantized:
    """``Q(x) = (-1)^negative * 2^-shift``, or 0 where ``is_zero`` (arrays of equal shape)."""

    negative: np.ndarray
    shift: np.ndarray
    is_zero: np.ndarray

    def value(self, act_frac):
        """``Q(x)`` in activation units (a float array, for tests and plots)."""
        mag = np.ldexp(1.0, act_frac - self.shift.astype(np.int64))
        return np.where(self.is_zero, 0.0, np.where(self.negative, -mag, mag))


def leading_one(a):
    """Position of the leading one of positive integers (``bit_length - 1``); -1 for 0."""
    a = np.asarray(a, dtype=np.int64)
    if a.size and a.max() < (1 << 53):
        # float64 holds these integers exactly, so frexp's exponent is bit_length exactly.
        return np.where(a > 0, np.frexp(a)[1].astype(np.int64) - 1, -1)
    pos = np.full(a.shape, -1, dtype=np.int64)
    for b in range(63):
        pos = np.where(a >> b != 0, b, pos)
        if not (a >> (b + 1)).any():
            break
    return pos


def quantize(x, q, cfg, deterministic=None):
    """Quantize activations ``x`` with QUANT draws ``q``; ``deterministic`` overrides the mode."""
    x = np.asarray(x, dtype=np.int64)
    if deterministic is None:
        deterministic = cfg.quantizer == "deterministic"
    a = np.abs(x)
    is_zero = a == 0
    e = np.maximum(leading_one(a), 0)
    if deterministic:
        up = (e >= 1) & (((a >> np.maximum(e - 1, 0)) & 1) == 1)
    else:
        frac = a - (np.int64(1) << e)
        up = np.asarray(q, dtype=np.int64) < align(frac, e, cfg.rand_bits)
    shift = np.minimum(cfg.act_frac - (e + up.astype(np.int64)), cfg.max_shift)
    return Quantized(negative=x < 0, shift=np.where(is_zero, 0, shift).astype(np.int64),
                     is_zero=is_zero)
