"""The fast path of :func:`fewmul.golden.mlp.train_epoch`: the same steps, bit for bit, in exact
floating-point arithmetic.

Every quantity of a training step is an integer (or, in the update, a dyadic fraction) small
enough for a float significand, so the step can run in float32 (float64 where float32 is not
exact, :func:`fast_dtype`) with exact results: the matrix products need no conversion, the
arithmetic right shifts become ``floor(v * 2^-s)`` and the stochastic rounding of the update,
``whole + (rho < fraction)`` with ``wide = (d << B) >> S``, becomes one floor:
``floor((d 2^(B-S) + (2^B - 1 - rho)) / 2^B)`` (``floor(floor(a) + n) = floor(a + n)`` for an
integer ``n``, and nested floor divisions by powers of two merge).

Three things make it fast, none of which changes a bit of the result:

- weights are held transposed, ``(N, M)`` (input, output), so the rows of one input are
  contiguous;
- the first layer only touches the inputs that are not zero: a zero input adds nothing to the
  forward sums and its quantized value ``Q(0) = 0`` makes its weights' update ``floor(rho') =
  0`` (``0 <= rho' < 1``). Its draws are still consumed (the streams advance by whole steps).
  MNIST images are about 80 % zero pixels;
- the draw matrices ``u[j] XOR v[i]`` are formed per step for the touched weights only, in
  narrow integers, and the quantizer's update factor is a table lookup.

``tests/test_golden_mlp.py`` checks the result against :func:`fewmul.golden.mlp.train_step` on
seeded random data for several configurations, in float32 and float64.
"""

import numpy as np

from .fixed import align
from .quantizer import leading_one, quantize
from .rng import Stream

__all__ = ["FastEpoch", "fast_dtype"]

#: Significand bits (with the implicit one) of the float types the fast path may use.
_SIGNIFICAND = {np.float32: 24, np.float64: 53}


def _exact(cfg, bits):
    """Whether every value of a training step under ``cfg`` is an integer multiple of its
    resolution below ``2^bits`` (so float arithmetic with ``bits``-bit significands is exact).

    - the update ``v = d 2^-S + rho'`` with ``|d| < 2^(err_bits-1)``, ``S = update_base_shift +
      shift`` (shift ``0 .. max_shift``) and ``0 <= rho' < 1`` a multiple of ``2^-B'`` (``B' =
      B``, or ``B + 1`` when the update fraction rounds): a multiple of ``2^-max(S, B')`` below
      ``2^(err_bits-1-S) + 1``;
    - the weights, and a weight plus its update, before saturation;
    - the forward sums (``fan_in`` activations of magnitude <= ``2^F``), the backward sums
      (``fan_out`` errors below ``2^(err_bits-1)``) and the output error.
    """
    limit = 1 << bits
    eb = cfg.err_bits
    fraction = cfg.rand_bits + (cfg.update_fraction == "round")   # rho' resolution
    for shift in range(cfg.max_shift + 1):
        s = cfg.update_base_shift + shift
        lowest = max(s, fraction)                    # v 2^lowest is an integer below this:
        if (1 << (eb - 1 + lowest - s)) + (1 << lowest) > limit:
            return False
    biggest_step = (1 << max(eb - 1 - cfg.update_base_shift, 0)) + 1
    if (1 << (cfg.weight_bits - 1)) + biggest_step > limit:
        return False
    if any(n << cfg.act_frac > limit for n in cfg.layers[:-1]):
        return False
    if any(m << (eb - 1) > limit for m in cfg.layers[2:]):
        return False
    return 1 << (cfg.err_frac + 4) <= limit and 1 << (cfg.act_frac + 3) <= limit


def fast_dtype(cfg):
    """The narrowest float type in which the fast path is exact for ``cfg`` (``np.float32`` or
    ``np.float64``), or ``None`` (then ``train_epoch`` composes the block operations)."""
    for dtype in (np.float32, np.float64):
        if _exact(cfg, _SIGNIFICAND[dtype]):
            return dtype
    return None


class FastEpoch:
    """:func:`~fewmul.golden.mlp.train_epoch`'s step loop in exact float arithmetic.

    ``dtype``: ``np.float32`` or ``np.float64``; default :func:`fast_dtype` (``ValueError`` if
    it is not exact for ``cfg``).
    """

    def __init__(self, cfg, dtype=None):
        chosen = fast_dtype(cfg) if dtype is None else dtype
        if chosen is None or not _exact(cfg, _SIGNIFICAND.get(chosen, 0)):
            raise ValueError(f"the fast path is not exact for this configuration in "
                             f"{getattr(dtype, '__name__', dtype)!s}")
        self.cfg, self.dtype = cfg, chosen
        f, wf, bits = cfg.act_frac, cfg.weight_frac, cfg.rand_bits
        one = chosen(1)
        self.stochastic = cfg.sampling == "stochastic"
        self.binary = cfg.weights == "binary"
        if self.binary:
            self.det_threshold = one * 0                           # w >= 0
        else:
            self.det_threshold = one * (((1 << wf) + 1) >> 1)      # 2|w| >= 2^Wf
        # Stochastic sampling, section 3: +1 (binary) or nonzero (ternary) iff r < align(v,
        # frm, B), i.e. iff the weight (binary) or |w| (ternary) is >= T(r), with
        # T(r) = (r + 1) 2^k - offset for k = frm - B >= 0 (else (r >> -k) + 1 - offset).
        frm = cfg.weight_bits if self.binary else wf
        self.k = frm - bits
        self.offset = (1 << wf) if self.binary else 0
        self.w_lo = -one * (1 << (cfg.weight_bits - 1))
        self.w_hi = one * ((1 << (cfg.weight_bits - 1)) - 1)
        self.e_lo = -one * (1 << (cfg.err_bits - 1))
        self.e_hi = one * ((1 << (cfg.err_bits - 1)) - 1)
        self.h_lo = one * 0 if cfg.activation == "relu" else -one * (1 << f)
        self.h_hi = one * ((1 << f) - 1)
        self.h_top = one * (1 << f)
        self.o_lo, self.o_hi = -one * (1 << (f + 2)), one * ((1 << (f + 2)) - 1)
        self.err_gain = one * (1 << (cfg.err_frac - f + 1))
        self.one = one * (1 << f)
        self.inv_b = one * 2.0 ** -bits
        self.base = cfg.update_base_shift
        self.bias_step = one * 2.0 ** -self.base
        self.bias_shift = wf - f
        # Stochastic rounding compares the draw with the fraction: rho' = (top - rho) 2^-B.
        self.top = (1 << bits) - 1 + (0.5 if cfg.update_fraction == "round" else 0.0)
        self.stochastic_round = cfg.update_rounding == "stochastic"
        self._quant_tables()

    # -- tables ------------------------------------------------------------------------------

    def _factor(self, quant):
        """The update factor ``sign(x) 2^-(base + shift)`` of a quantizer output (0 for zero)."""
        factor = np.ldexp(1.0, -(self.base + quant.shift))
        return np.where(quant.is_zero, 0.0, np.where(quant.negative, -factor, factor)).astype(
            self.dtype)

    def _quant_tables(self):
        """The quantizer's update factor tabulated over every activation value (and every
        QUANT draw when stochastic)."""
        cfg, bits = self.cfg, self.cfg.rand_bits
        self.x_off = 1 << cfg.act_frac                 # activations and inputs: [-2^F, 2^F]
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

    def quant_factor(self, x, q):
        """Update factors of layer inputs ``x`` (float or int, any shape) with draws ``q``."""
        idx = np.asarray(x, dtype=np.int64) + self.x_off
        if self.q_split:
            return np.where(q < self.q_bound[idx], self.q_up[idx], self.q_table[idx])
        if self.q_stochastic:
            idx = (idx << self.q_bits) | q
        return self.q_table[idx]

    # -- pieces of a step -------------------------------------------------------------------

    def bias_a(self, b):
        """The bias in activation units: ``rshr(b, Wf - F)`` (or ``b << (F - Wf)``)."""
        s = self.bias_shift
        if s > 0:
            return np.floor((b + self.dtype(1 << (s - 1))) * self.dtype(2.0 ** -s))
        return b * self.dtype(1 << -s)

    def signs(self, w, u, v):
        """Signs of the transposed weights ``w`` (cols, M) with the column draws ``u`` (cols,)
        and row draws ``v`` (M,) of the step (``None`` when sampling deterministically)."""
        dtype = self.dtype
        if not self.stochastic:
            t = self.det_threshold
        else:
            r = np.bitwise_xor(u[:, None], v[None, :])
            if self.k >= 0:
                t = np.multiply(r, dtype(1 << self.k), dtype=dtype)
                t += dtype((1 << self.k) - self.offset)
            else:
                t = ((r >> -self.k) + (1 - self.offset)).astype(dtype)
        if self.binary:
            up = w >= t
            return np.subtract(up, ~up, dtype=dtype)
        return np.subtract(w >= t, w <= -t, dtype=dtype)

    def rounding(self, u2, v2):
        """``rho' = (top - rho) 2^-B`` for the weights (cols, M) and biases (M,) of a step."""
        dtype = self.dtype
        if not self.stochastic_round:
            # Round half up: floor(d 2^-S + 2^-1), plus the carry-in's 2^-(B+1) when round.
            half = dtype(self.top + 1 - (1 << (self.cfg.rand_bits - 1))) * self.inv_b
            return half, half
        rho = np.bitwise_xor(u2[:, None], v2[None, :])
        step = np.multiply(rho, -self.inv_b, dtype=dtype)
        step += dtype(self.top) * self.inv_b
        rho_b = (dtype(self.top) - v2.astype(dtype)) * self.inv_b
        return step, rho_b

    def block_draws(self, streams, steps):
        """The block's draws per key (``u``, ``v``, ``q``, ``u2``, ``v2``) and layer, int32
        ``(steps, size)``: each stream's draws of consecutive steps are consecutive."""
        cfg = self.cfg
        ns, ms = cfg.layers[:-1], cfg.layers[1:]
        cut = {}
        for key, stream, sizes in (("u", Stream.COL_SAMPLE, ns), ("v", Stream.ROW_SAMPLE, ms),
                                   ("q", Stream.QUANT, ns), ("u2", Stream.COL_ROUND, ns),
                                   ("v2", Stream.ROW_ROUND, ms)):
            blk = streams[stream].draws(steps * sum(sizes), cfg.rand_bits).reshape(
                steps, sum(sizes))
            if key != "q":
                blk = blk.astype(np.int32)
            edges = np.cumsum((0,) + tuple(sizes))
            cut[key] = [blk[:, lo:hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        return cut

    # -- the loop -----------------------------------------------------------------------------

    def run(self, net, X, labels, streams, block):
        """Train ``net`` (in place) on the samples ``X`` (int64, ``(S, N_0)``) in order; returns
        the output scores of every step, int64 ``(S, M_{L-1})``."""
        cfg, dtype = self.cfg, self.dtype
        last = cfg.n_layers - 1
        scales = cfg.scales
        wts = [np.ascontiguousarray(w.T, dtype=dtype) for w in net.weights]   # (N, M)
        bs = [b.astype(dtype) for b in net.biases]
        scores = np.zeros((len(X), cfg.layers[-1]), dtype=np.int64)
        half = [dtype(1 << (s - 1)) if s else dtype(0) for s in scales]
        inv = [dtype(2.0 ** -s) for s in scales]
        for start in range(0, len(X), block):
            stop = min(start + block, len(X))
            steps = stop - start
            cut = self.block_draws(streams, steps)
            x_block = X[start:stop]
            factor0 = self.quant_factor(x_block, cut["q"][0])
            targets = np.full((steps, cfg.layers[-1]), -1, dtype=dtype)
            targets[np.arange(steps), np.asarray(labels[start:stop])] = 1
            for k in range(steps):
                cols = np.flatnonzero(x_block[k])            # layer 0: nonzero inputs only
                w0 = wts[0][cols]
                signs, inputs, masks = [], [x_block[k, cols].astype(dtype)], []
                for layer in range(cfg.n_layers):
                    w = w0 if layer == 0 else wts[layer]
                    u = cut["u"][layer][k]
                    signs.append(self.signs(w, u[cols] if layer == 0 else u,
                                            cut["v"][layer][k]))
                    acc = inputs[-1] @ signs[-1]
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
                delta = np.maximum(self.one - t * y, 0)
                delta *= t * self.err_gain
                delta = np.minimum(np.maximum(delta, self.e_lo), self.e_hi)
                deltas = [None] * cfg.n_layers
                deltas[last] = delta
                for layer in range(last, 0, -1):
                    g = signs[layer] @ deltas[layer]
                    if scales[layer]:
                        g += half[layer]
                        g *= inv[layer]
                        np.floor(g, out=g)
                    g = np.minimum(np.maximum(g, self.e_lo), self.e_hi)
                    g *= masks[layer - 1]
                    deltas[layer - 1] = g
                for layer in range(cfg.n_layers):
                    if layer == 0:
                        w, factor = w0, factor0[k, cols]
                        u2 = cut["u2"][0][k][cols]
                    else:
                        w = wts[layer]
                        factor = self.quant_factor(inputs[layer], cut["q"][layer][k])
                        u2 = cut["u2"][layer][k]
                    rho, rho_b = self.rounding(u2, cut["v2"][layer][k])
                    step = np.multiply.outer(factor, deltas[layer])
                    step += rho
                    np.floor(step, out=step)
                    w += step
                    np.maximum(w, self.w_lo, out=w)
                    np.minimum(w, self.w_hi, out=w)
                    if layer == 0:
                        wts[0][cols] = w
                    b = bs[layer]
                    b += np.floor(deltas[layer] * self.bias_step + rho_b)
                    np.maximum(b, self.w_lo, out=b)
                    np.minimum(b, self.w_hi, out=b)
        net.weights[:] = [w.T.astype(np.int64) for w in wts]
        net.biases[:] = [b.astype(np.int64) for b in bs]
        return scores
