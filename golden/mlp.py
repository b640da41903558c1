"""The whole MLP: initialisation, one online training step, and the two evaluation rules.

``docs/datapath.md`` sections 9 (training step), 10 (evaluation) and 11 (initialisation). A
:class:`Network` holds integer weights and biases in weight units (``weight_frac`` fraction bits);
inputs are encoded activations (``act_frac`` fraction bits, see :mod:`fewmul.golden.data`).

:func:`train_step` is the reference the RTL training engine is checked against: same inputs, same
stream states, same weights afterwards, bit for bit.
"""

from dataclasses import dataclass

import numpy as np

from .fixed import align
from .layer import backward, forward, sample_layer, update, update_clips
from .loss import output_error
from .quantizer import Quantized, leading_one, quantize
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

    ``fast``: run the steps in exact float64 arithmetic (:class:`_FastEpoch`, about 3x faster);
    ``False`` composes the block operations step by step as :func:`train_step` does.

    Returns the output scores of every step, int64 ``(S, M_{L-1})``.
    """
    X = np.asarray(X, dtype=np.int64)
    if fast and _exact_in_float(cfg):
        return _FastEpoch(cfg).run(net, X, labels, streams, block)
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


# -- the fast path of train_epoch ------------------------------------------------------------
#
# Every quantity of a training step is an integer (or, in the update, a dyadic fraction) far
# below 2^53, so the step can run in float64 with exact results: the matrix products need no
# conversion, the arithmetic right shifts become ``floor(v * 2^-s)`` and the stochastic rounding
# of the update, ``whole + (rho < fraction)`` with ``wide = (d << B) >> S``, becomes one floor:
# ``floor((d 2^(B-S) + (2^B - 1 - rho)) / 2^B)`` (``floor(floor(a) + n) = floor(a + n)`` for an
# integer ``n``, and nested floor divisions by powers of two merge). Whatever depends only on the
# draws or on the input (sampling thresholds, rounding offsets, the quantizer's factor per input
# value and draw) is computed once per block of steps. The result is bit-identical to
# :func:`step_with_draws` (``tests/test_golden_mlp.py`` checks it on several configurations).

def _exact_in_float(cfg):
    """Whether the fast path is exact for ``cfg``: the update ``d 2^-S + rho' 2^-B`` (``|d| <
    2^(err_bits-1)``, ``S <= update_base_shift + max_shift``, ``rho'`` a multiple of 2^-1) is a
    multiple of ``2^-max(S, B + 1)`` below ``2^err_bits``, so it needs at most that many bits."""
    lowest = max(cfg.update_base_shift + cfg.max_shift, cfg.rand_bits + 1)
    return cfg.err_bits + lowest + 1 <= 52 and cfg.weight_bits <= 52


def _sign_threshold(r, cfg):
    """Integer ``T`` with ``r < align(v, frm, B)`` iff ``v >= T``, as a bound on the weight.

    Binary samples ``v = w + 2^Wf`` (``frm = weight_bits``): ``+1`` iff ``w >= T``; ternary
    samples ``v = |w|`` (``frm = Wf``): nonzero iff ``|w| >= T``.
    """
    frm = cfg.weight_bits if cfg.weights == "binary" else cfg.weight_frac
    k = frm - cfg.rand_bits
    r = np.asarray(r, dtype=np.int64)
    t = (r + 1) << k if k >= 0 else (r >> -k) + 1
    return t - (1 << cfg.weight_frac) if cfg.weights == "binary" else t


class _FastEpoch:
    """:func:`train_epoch`'s step loop in exact float64 arithmetic (see the comment above)."""

    def __init__(self, cfg):
        self.cfg = cfg
        f, wf, bits = cfg.act_frac, cfg.weight_frac, cfg.rand_bits
        self.stochastic = cfg.sampling == "stochastic"
        self.binary = cfg.weights == "binary"
        if self.binary:
            self.det_threshold = 0.0                               # w >= 0
        else:
            self.det_threshold = float(((1 << wf) + 1) >> 1)       # 2|w| >= 2^Wf
        self.w_lo = -float(1 << (cfg.weight_bits - 1))
        self.w_hi = float((1 << (cfg.weight_bits - 1)) - 1)
        self.e_lo = -float(1 << (cfg.err_bits - 1))
        self.e_hi = float((1 << (cfg.err_bits - 1)) - 1)
        self.h_lo = 0.0 if cfg.activation == "relu" else -float(1 << f)
        self.h_hi = float((1 << f) - 1)
        self.h_top = float(1 << f)
        self.o_lo, self.o_hi = -float(1 << (f + 2)), float((1 << (f + 2)) - 1)
        self.err_gain = float(1 << (cfg.err_frac - f + 1))
        self.one = float(1 << f)
        self.inv_b = 2.0 ** -bits
        self.base = cfg.update_base_shift
        # The quantizer's update factor sign(x) 2^-(base + shift) (0 for x = 0), tabulated over
        # every activation value (and every QUANT draw when stochastic).
        self.x_off = 1 << f                     # activations and inputs: [-2^F, 2^F]
        xs = np.arange(-self.x_off, self.x_off + 1, dtype=np.int64)
        self.q_stochastic = cfg.quantizer == "stochastic"
        self.q_split = self.q_stochastic and len(xs) << bits > 1 << 21
        if self.q_split:
            # Large draws: per value, the factors rounded down (q = 2^B - 1: never up) and up
            # (q = 0), and the bound T with up = q < T (section 4: T = align(frac, e, B)).
            self.q_table = self._factor(quantize(xs, np.full_like(xs, (1 << bits) - 1), cfg))
            self.q_up = self._factor(quantize(xs, np.zeros_like(xs), cfg))
            a = np.abs(xs)
            e = np.maximum(leading_one(a), 0)
            self.q_bound = align(a - (np.int64(1) << e), e, bits)
        elif self.q_stochastic:
            qs = np.arange(1 << bits, dtype=np.int64)
            self.q_table = self._factor(quantize(np.repeat(xs, len(qs)), np.tile(qs, len(xs)),
                                                 cfg))      # flat: (x + x_off) << bits | q
        else:
            self.q_table = self._factor(quantize(xs, np.zeros_like(xs), cfg))
        self.q_bits = bits if self.q_stochastic else 0
        b_shift = wf - f
        self.bias_shift = b_shift

    def _factor(self, quant):
        """The update factor ``sign(x) 2^-(base + shift)`` of a quantizer output (0 for zero)."""
        factor = np.ldexp(1.0, -(self.base + quant.shift))
        return np.where(quant.is_zero, 0.0, np.where(quant.negative, -factor, factor))

    def quant_factor(self, x, q):
        """Update factors of layer inputs ``x`` (float or int, any shape) with draws ``q``."""
        idx = np.asarray(x, dtype=np.int64) + self.x_off
        if self.q_split:
            return np.where(q < self.q_bound[idx], self.q_up[idx], self.q_table[idx])
        if self.q_stochastic:
            idx = (idx << self.q_bits) | q
        return self.q_table[idx]

    def bias_a(self, b):
        s = self.bias_shift
        if s > 0:
            return np.floor((b + float(1 << (s - 1))) * 2.0 ** -s)
        return b * float(1 << -s)

    def draws(self, streams, steps, X):
        """Everything of a block of ``steps`` steps that depends only on draws and inputs."""
        cfg = self.cfg
        bits = cfg.rand_bits
        ns, ms = cfg.layers[:-1], cfg.layers[1:]
        cut = {}
        for key, stream, sizes in (("u", Stream.COL_SAMPLE, ns), ("v", Stream.ROW_SAMPLE, ms),
                                   ("q", Stream.QUANT, ns), ("u2", Stream.COL_ROUND, ns),
                                   ("v2", Stream.ROW_ROUND, ms)):
            blk = streams[stream].draws(steps * sum(sizes), bits).reshape(steps, sum(sizes))
            edges = np.cumsum((0,) + tuple(sizes))
            cut[key] = [blk[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        top = (1 << bits) - 1 + (0.5 if cfg.update_fraction == "round" else 0.0)
        stochastic_round = cfg.update_rounding == "stochastic"
        layers = []
        for layer in range(cfg.n_layers):
            d = {}
            if self.stochastic:
                r = pe_random(cut["u"][layer], cut["v"][layer])
                t = _sign_threshold(r, cfg).astype(np.float64)
                d["t"] = t
                if not self.binary:
                    d["nt"] = -t
            if stochastic_round:
                rho = pe_random(cut["u2"][layer], cut["v2"][layer])
                d["rho"] = (top - rho) * self.inv_b
                d["rho_b"] = (top - cut["v2"][layer]) * self.inv_b
            d["q"] = cut["q"][layer]
            layers.append(d)
        if not stochastic_round:
            half = float(1 << (bits - 1)) * self.inv_b
            if cfg.update_fraction == "round":
                half += 0.5 * self.inv_b
            for d in layers:
                d["rho"] = d["rho_b"] = np.full(steps, half)
        layers[0]["factor"] = self.quant_factor(X, cut["q"][0])
        return layers

    def signs(self, w, d, k):
        if self.stochastic:
            t = d["t"][k]
            nt = None if self.binary else d["nt"][k]
        else:
            t, nt = self.det_threshold, -self.det_threshold
        if self.binary:
            return np.where(w >= t, 1.0, -1.0)
        return np.subtract(w >= t, w <= nt, dtype=np.float64)

    def run(self, net, X, labels, streams, block):
        cfg = self.cfg
        last = cfg.n_layers - 1
        scales = cfg.scales
        ws = [w.astype(np.float64) for w in net.weights]
        bs = [b.astype(np.float64) for b in net.biases]
        Xf = np.asarray(X, dtype=np.float64)
        scores = np.zeros((len(X), cfg.layers[-1]))
        n_out = cfg.layers[-1]
        half = [float(1 << (s - 1)) if s else 0.0 for s in scales]
        inv = [2.0 ** -s for s in scales]
        for start in range(0, len(X), block):
            stop = min(start + block, len(X))
            dr = self.draws(streams, stop - start, X[start:stop])
            targets = np.full((stop - start, n_out), -1.0)
            targets[np.arange(stop - start), np.asarray(labels[start:stop])] = 1.0
            gains = targets * self.err_gain
            for k in range(stop - start):
                x = Xf[start + k]
                signs = [self.signs(w, d, k) for w, d in zip(ws, dr, strict=True)]
                inputs, masks = [x], []
                for layer in range(cfg.n_layers):
                    acc = inputs[-1] @ signs[layer].T
                    if scales[layer]:
                        acc += half[layer]
                        acc *= inv[layer]
                        np.floor(acc, out=acc)
                    z = acc + self.bias_a(bs[layer])
                    if layer == last:
                        y = np.minimum(np.maximum(z, self.o_lo), self.o_hi)
                    else:
                        y = np.minimum(np.maximum(z, self.h_lo), self.h_hi)
                        masks.append((z > self.h_lo) & (z < self.h_top))
                    inputs.append(y)
                y = inputs[-1]
                scores[start + k] = y
                t = targets[k]
                delta = np.maximum(self.one - t * y, 0.0)
                delta *= gains[k]
                delta = np.minimum(np.maximum(delta, self.e_lo), self.e_hi)
                deltas = [None] * cfg.n_layers
                deltas[last] = delta
                for layer in range(last, 0, -1):
                    g = deltas[layer] @ signs[layer]
                    if scales[layer]:
                        g += half[layer]
                        g *= inv[layer]
                        np.floor(g, out=g)
                    g = np.minimum(np.maximum(g, self.e_lo), self.e_hi)
                    g *= masks[layer - 1]
                    deltas[layer - 1] = g
                for layer in range(cfg.n_layers):
                    d = dr[layer]
                    if layer == 0:
                        factor = d["factor"][k]
                    else:
                        factor = self.quant_factor(inputs[layer], d["q"][k])
                    step = np.multiply.outer(deltas[layer], factor)
                    step += d["rho"][k]
                    np.floor(step, out=step)
                    w = ws[layer]
                    w += step
                    np.maximum(w, self.w_lo, out=w)
                    np.minimum(w, self.w_hi, out=w)
                    bstep = np.floor(deltas[layer] * 2.0 ** -self.base + d["rho_b"][k])
                    b = bs[layer]
                    b += bstep
                    np.maximum(b, self.w_lo, out=b)
                    np.minimum(b, self.w_hi, out=b)
        net.weights[:] = [w.astype(np.int64) for w in ws]
        net.biases[:] = [b.astype(np.int64) for b in bs]
        return scores.astype(np.int64)
