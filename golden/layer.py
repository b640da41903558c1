"""One fully connected layer: forward, backward and update (``docs/datapath.md`` sections 5, 7, 8).

Composed only of the block operations: :func:`~fewmul.golden.sampler.pe_random` and
:func:`~fewmul.golden.sampler.sample_signs` (section 3), :func:`~fewmul.golden.quantizer.quantize`
(section 4), :func:`~fewmul.golden.update.update_weights` / ``update_bias`` (section 8) and the
fixed-point helpers ``rshr`` / ``sat`` (section 2). The sums of sign-times-value products are
exact integer sums; they are evaluated as float64 matrix products, which is exact because every
partial sum is an integer far below 2^53 (``acc_bits``, ``back_acc_bits`` <= 32 bits).
"""

from dataclasses import dataclass

import numpy as np

from .fixed import rshr, sat
from .quantizer import quantize
from .sampler import pe_random, sample_signs
from .update import bias_delta, clip_count, update_bias, update_weights, weight_delta

__all__ = ["Forward", "sample_layer", "signed_sum", "forward", "backward", "update",
           "update_clips"]


@dataclass(frozen=True)
class Forward:
    """What a forward pass produces (int64 arrays, shape ``(..., M)``).

    ``acc``: the exact sum ``s x``; ``z``: the pre-activation in activation units; ``y``: the
    clamped output; ``mask``: the 0/1 derivative ``h'(z)`` (all ones for the last layer).
    """

    acc: np.ndarray
    z: np.ndarray
    y: np.ndarray
    mask: np.ndarray


def sample_layer(w, draws, cfg, deterministic=None):
    """Signs of weights ``w`` (M, N) from one step's draws ``{"u": (N,), "v": (M,)}`` (section 3).

    ``draws`` may be ``None`` when sampling deterministically (inference consumes no draws), and
    may carry the draw matrix ``r = pe_random(u, v)`` already computed (see
    :func:`fewmul.golden.mlp.step_draws_block`).
    """
    if deterministic is None:
        deterministic = cfg.sampling == "deterministic"
    if deterministic:
        return sample_signs(w, None, cfg, deterministic=True)
    r = draws["r"] if "r" in draws else pe_random(draws["u"], draws["v"])
    return sample_signs(w, r, cfg, deterministic=False)


def signed_sum(values, signs_t):
    """Exact ``values @ signs_t`` for integer ``values`` and signs in {-1, 0, +1} (int64)."""
    return np.rint(np.asarray(values, dtype=np.float64)
                   @ np.asarray(signs_t, dtype=np.float64)).astype(np.int64)


def forward(signs, b, x, scale, cfg, last):
    """Section 5 for inputs ``x`` of shape ``(N,)`` or a batch ``(S, N)``; returns :class:`Forward`.

    ``signs``: (M, N) sampled weights; ``b``: (M,) biases in weight units; ``scale``: ``S_l``;
    ``last``: whether this is the output layer (wider clamp, no activation mask).
    """
    wf, f = cfg.weight_frac, cfg.act_frac
    acc = signed_sum(x, np.asarray(signs).T)
    b = np.asarray(b, dtype=np.int64)
    bias_a = rshr(b, wf - f) if wf >= f else b << (f - wf)
    z = rshr(acc, scale) + bias_a
    if last:
        y = np.minimum(np.maximum(z, -(1 << (f + 2))), (1 << (f + 2)) - 1)
        mask = np.ones(z.shape, dtype=np.int64)
    else:
        lo = 0 if cfg.activation == "relu" else -(1 << f)
        y = np.minimum(np.maximum(z, lo), (1 << f) - 1)
        mask = ((z > lo) & (z < (1 << f))).astype(np.int64)
    return Forward(acc=acc, z=z, y=y, mask=mask)


def backward(signs, delta, scale, mask_low, cfg):
    """Section 7: the error ``δ_low`` (N,) sent to the layer below, from ``δ`` (M,).

    ``g = s^T δ`` (same signs as the forward pass), ``e = sat(rshr(g, S_l), err_bits)``, zeroed
    where the lower layer's activation mask is 0.
    """
    g = signed_sum(delta, signs)
    e = sat(rshr(g, scale), cfg.err_bits)
    return np.where(np.asarray(mask_low) != 0, e, 0)


def _update_draws(x, draws, cfg):
    """``(quant, rho)`` of an update: precomputed entries of ``draws`` when present."""
    quant = draws["quant"] if "quant" in draws else quantize(x, draws["q"], cfg)
    rho = draws["rho"] if "rho" in draws else pe_random(draws["u2"], draws["v2"])
    return quant, rho


def update(w, b, delta, x, draws, cfg):
    """Section 8: new ``(w, b)`` from the layer's error ``δ`` (M,) and input ``x`` (N,).

    ``draws``: the layer's step draws; ``q`` quantizes ``x``, ``u2`` / ``v2`` round the update.
    Precomputed ``quant = quantize(x, q)`` and ``rho = pe_random(u2, v2)`` entries are used when
    present (:func:`fewmul.golden.mlp.step_draws_block` hoists them out of the step loop).
    """
    quant, rho = _update_draws(x, draws, cfg)
    return (update_weights(w, delta, quant, rho, cfg),
            update_bias(b, delta, draws["v2"], cfg))


def update_clips(w, b, delta, x, draws, cfg):
    """How many weight and bias updates of :func:`update` (same arguments) saturate."""
    quant, rho = _update_draws(x, draws, cfg)
    return (clip_count(w, weight_delta(delta, quant, rho, cfg), cfg.weight_bits)
            + clip_count(b, bias_delta(delta, draws["v2"], cfg), cfg.weight_bits))
