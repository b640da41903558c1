"""The multiplier-free weight and bias update (``docs/datapath.md`` section 8)."""

import numpy as np

from .fixed import sat, sat_range
from .shifter import round_up, shift_right

__all__ = ["weight_delta", "bias_delta", "update_weights", "update_bias", "clip_count"]


def weight_delta(delta, quant, rho, cfg):
    """Rounded update ``round((δ[i] Q(x[j]) 2^-lr) in weight units)``, shape (M, N), no multiply.

    ``delta``: errors (M,); ``quant``: :class:`~fewmul.golden.quantizer.Quantized` of the
    layer input (N,); ``rho``: rounding draws (M, N).
    """
    delta = np.asarray(delta, dtype=np.int64)[:, None]
    signed = np.where(quant.negative[None, :], -delta, delta)            # sign flip
    shift = cfg.update_base_shift + quant.shift[None, :]
    whole, fraction = shift_right(signed, shift, cfg.rand_bits,           # barrel shift
                                  round_fraction=cfg.update_fraction == "round")
    step = whole + round_up(fraction, rho, cfg.rand_bits, cfg.update_rounding)
    return np.where(quant.is_zero[None, :], 0, step)


def update_weights(w, delta, quant, rho, cfg):
    """New weights: ``sat(w + weight_delta(...), weight_bits)``."""
    return sat(np.asarray(w, dtype=np.int64) + weight_delta(delta, quant, rho, cfg),
               cfg.weight_bits)


def bias_delta(delta, rho, cfg):
    """Rounded bias update ``round(δ >> update_base_shift)`` with draws ``rho``, shape (M,)."""
    whole, fraction = shift_right(delta, cfg.update_base_shift, cfg.rand_bits,
                                  round_fraction=cfg.update_fraction == "round")
    return whole + round_up(fraction, rho, cfg.rand_bits, cfg.update_rounding)


def update_bias(b, delta, rho, cfg):
    """New biases: ``sat(b + round(δ >> update_base_shift), weight_bits)`` with draws ``rho``."""
    return sat(np.asarray(b, dtype=np.int64) + bias_delta(delta, rho, cfg), cfg.weight_bits)


def clip_count(value, step, bits):
    """How many of ``value + step`` leave the signed ``bits`` range (the saturation events of
    an update; what the engine's per-layer ``clips`` counters count)."""
    lo, hi = sat_range(bits)
    total = np.asarray(value, dtype=np.int64) + step
    return int(np.count_nonzero((total < lo) | (total > hi)))
