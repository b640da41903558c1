"""The whole MLP: initialisation, one online training step, and the two evaluation rules.

``docs/datapath.md`` sections 9 (training step), 10 (evaluation) and 11 (initialisation). A
:class:`Network` holds integer weights and biases in weight units (``weight_frac`` fraction bits);
inputs are encoded activations (``act_frac`` fraction bits, see :mod:`fewmul.golden.data`).

:func:`train_step` is the reference the RTL training engine is checked against: same inputs, same
stream states, same weights afterwards, bit for bit.
"""

from dataclasses import dataclass

import numpy as np

from .fast_epoch import FastEpoch, fast_dtype
from .layer import backward, forward, sample_layer, update, update_clips
from .loss import output_error
from .quantizer import Quantized, quantize
from .rng import Stream
from .sampler import pe_random

__all__ = ["Network", "init_network", "INIT_RANGE", "train_step", "train_epoch",
           "step_draws_block", "step_with_draws", "forward_fixed",
           "predict_fixed", "predict_float", "scores_float"]

#: Default half-width of the uniform initialisation, as a fraction of the weight range [-1, 1).
INIT_RANGE = 0.5


@dataclass
class Network:
    """Weights ``weights[l]`` (int64, shape ``(M_l, N_l)``: output, input) and biases
    ``biases[l]`` (int64, ``(M_l,)``), all in weight units (value = integer / 2^weight_frac)."""

    weights: list
    biases: list

    def copy(self):
        return Network([w.copy() for w in self.weights], [b.copy() for b in self.biases])

    def float_weights(self, cfg):
        """Real-valued weights and biases ``(w / 2^Wf, b / 2^Wf)`` (float64 lists)."""
        one = float(1 << cfg.weight_frac)
        return [w / one for w in self.weights], [b / one for b in self.biases]


def init_network(cfg, seed=None, init_range=INIT_RANGE):
    """Host-side initialisation (``docs/datapath.md`` section 11).

    Each weight is an integer drawn uniformly from ``[-A, A]`` with
    ``A = floor(init_range * 2^weight_frac)`` by numpy's PCG64 generator seeded with ``seed``
    (default ``cfg.seed``), layer by layer in row-major order; biases start at 0.
    """
    if not 0 < init_range <= 1:
        raise ValueError(f"init_range must be in (0, 1], not {init_range!r}")
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    bound = int(init_range * (1 << cfg.weight_frac))
    hi = (1 << cfg.weight_frac) - 1
    weights, biases = [], []
    for n, m in zip(cfg.layers[:-1], cfg.layers[1:], strict=True):
        w = rng.integers(-bound, bound, size=(m, n), endpoint=True, dtype=np.int64)
        weights.append(np.minimum(w, hi))
        biases.append(np.zeros(m, dtype=np.int64))
    return Network(weights, biases)


def train_step(net, x, label, streams, cfg, clips=None):
    """One online training step on one sample (``docs/datapath.md`` section 9); updates ``net``.

    ``x``: encoded input, int64 ``(N_0,)`` in [0, 2^F); ``label``: the class index;
    ``streams``: the run's :class:`~fewmul.golden.rng.StreamSet` (advanced by exactly one step's
    draws, section 6). Returns the output scores ``y`` (int64, ``(M_{L-1},)``) computed with the
    step's sampled signs before the update (what training accuracy counts).

    ``clips``: optional per-layer list; ``clips[l]`` grows by the step's saturating weight and
    bias updates of layer ``l`` (the twin of the engine's ``clips`` counters).
    """
    return step_with_draws(net, x, label, streams.step_draws(cfg), cfg, clips)


def step_draws_block(streams, cfg, steps, first_inputs=None):
    """The draws of ``steps`` consecutive training steps at once (advancing ``streams``).

    A list of ``steps`` entries, each exactly what ``streams.step_draws(cfg)`` would have returned
    at that step: a stream's draws for consecutive steps are consecutive in the stream, so one
    vectorised call per stream replaces ``steps`` calls. Each layer's dict also carries the
    draw-only matrices ``r = pe_random(u, v)`` and ``rho = pe_random(u2, v2)``, and, given the
    block's network inputs ``first_inputs`` (steps, N_0), layer 0's ``quant = quantize(x, q)``:
    computed for the whole block in one call each (what makes :func:`train_epoch` fast).
    """
    ns, ms = cfg.layers[:-1], cfg.layers[1:]
    bits = cfg.rand_bits
    per_step = {"u": (Stream.COL_SAMPLE, ns), "v": (Stream.ROW_SAMPLE, ms),
                "q": (Stream.QUANT, ns), "u2": (Stream.COL_ROUND, ns),
                "v2": (Stream.ROW_ROUND, ms)}
    cut = {}
    for key, (stream, sizes) in per_step.items():
        block = streams[stream].draws(steps * sum(sizes), bits).reshape(steps, sum(sizes))
        edges = np.cumsum((0,) + tuple(sizes))
        cut[key] = [block[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    derived = [{} for _ in range(cfg.n_layers)]
    for layer in range(cfg.n_layers):
        if cfg.sampling == "stochastic":
            derived[layer]["r"] = pe_random(cut["u"][layer], cut["v"][layer])
        derived[layer]["rho"] = pe_random(cut["u2"][layer], cut["v2"][layer])
    quant0 = None
    if first_inputs is not None:
        quant0 = quantize(first_inputs, cut["q"][0], cfg)
    out = []
    for step in range(steps):
        layers = []
        for layer in range(cfg.n_layers):
            d = {key: cut[key][layer][step] for key in per_step}
            for key, value in derived[layer].items():
                d[key] = value[step]
            layers.append(d)
        if quant0 is not None:
            layers[0]["quant"] = Quantized(negative=quant0.negative[step],
                                           shift=quant0.shift[step], is_zero=quant0.is_zero[step])
        out.append(layers)
    return out


def train_epoch(net, X, labels, streams, cfg, block=64, fast=True):
    """:func:`train_step` over the samples ``X`` (S, N) in the given order, bit-identical to the
    loop of single steps but with the draws fetched ``block`` steps at a time.

    ``fast``: run the steps in exact float arithmetic
    (:class:`~fewmul.golden.fast_epoch.FastEpoch`, one to two orders of magnitude faster) when
    it is exact for ``cfg``; ``False`` composes the block operations step by step as
    :func:`train_step` does.

    Returns the output scores of every step, int64 ``(S, M_{L-1})``.
    """
    X = np.asarray(X, dtype=np.int64)
    if fast and fast_dtype(cfg) is not None:
        return FastEpoch(cfg).run(net, X, labels, streams, block)
    scores = np.zeros((len(X), cfg.layers[-1]), dtype=np.int64)
    for start in range(0, len(X), block):
        stop = min(start + block, len(X))
        block_draws = step_draws_block(streams, cfg, stop - start, X[start:stop])
        for offset, draws in enumerate(block_draws):
            scores[start + offset] = step_with_draws(net, X[start + offset],
                                                     labels[start + offset], draws, cfg)
    return scores


def step_with_draws(net, x, label, draws, cfg, clips=None):
    """:func:`train_step` with the step's draws given (a list of per-layer dicts)."""
    last = cfg.n_layers - 1
    signs = [sample_layer(w, d, cfg) for w, d in zip(net.weights, draws, strict=True)]
    inputs, outs = [np.asarray(x, dtype=np.int64)], []
    for layer in range(cfg.n_layers):
        out = forward(signs[layer], net.biases[layer], inputs[-1], cfg.scales[layer], cfg,
                      last=layer == last)
        outs.append(out)
        inputs.append(out.y)
    deltas = [None] * cfg.n_layers
    deltas[last] = output_error(outs[last].y, label, cfg)
    for layer in range(last, 0, -1):
        deltas[layer - 1] = backward(signs[layer], deltas[layer], cfg.scales[layer],
                                     outs[layer - 1].mask, cfg)
    for layer in range(cfg.n_layers):
        args = (net.weights[layer], net.biases[layer], deltas[layer], inputs[layer], draws[layer],
                cfg)
        if clips is not None:
            clips[layer] += update_clips(*args)
        net.weights[layer], net.biases[layer] = update(*args)
    return outs[last].y


def forward_fixed(net, X, cfg):
    """Integer forward pass with deterministic signs (section 10): scores, int64 ``(S, M)``."""
    y = np.asarray(X, dtype=np.int64)
    for layer in range(cfg.n_layers):
        signs = sample_layer(net.weights[layer], None, cfg, deterministic=True)
        y = forward(signs, net.biases[layer], y, cfg.scales[layer], cfg,
                    last=layer == cfg.n_layers - 1).y
    return y


def predict_fixed(net, X, cfg):
    """Multiplier-free inference: argmax (first maximum) of :func:`forward_fixed`."""
    return np.argmax(forward_fixed(net, X, cfg), axis=-1)


def scores_float(net, X, cfg):
    """The paper's test rule (section 10): float forward with the clipped real-valued weights."""
    ws, bs = net.float_weights(cfg)
    lo = 0.0 if cfg.activation == "relu" else -1.0
    y = np.asarray(X, dtype=np.float64) / cfg.act_one
    for layer in range(cfg.n_layers):
        z = y @ ws[layer].T / float(1 << cfg.scales[layer]) + bs[layer]
        y = z if layer == cfg.n_layers - 1 else np.clip(z, lo, 1.0)
    return y


def predict_float(net, X, cfg):
    """Argmax (first maximum) of :func:`scores_float`."""
    return np.argmax(scores_float(net, X, cfg), axis=-1)
