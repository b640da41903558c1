"""Float reference trainers of the same MLP (numpy float64, ``np.random``), for comparison.

Same layer sizes, per-layer scales ``2^-S_l``, activation, output clamp, L2-SVM error, learning
rate ``2^-lr_shift``, initial weights and online sample order as the fixed-point golden model
(:mod:`fewmul.golden.mlp`); only the arithmetic differs:

- ``sgd``: plain SGD on real-valued weights (no sampling, no quantization, no clipping), the
  multiplier-full baseline. Its update ``w += eta δ x`` is the same rule as the fixed-point
  model's, i.e. SGD with a per-layer learning rate ``eta 2^S_l`` on the gradient.
- ``connect``: the paper's binary / ternary connect with quantized back-propagation in float:
  weights sampled per step (``cfg.weights``, ``cfg.sampling``), the same signs forward and
  backward, the layer input rounded stochastically (``cfg.quantizer``) to a power of two with the
  exponent clipped to ``[-max_shift, 0]``, weights and biases clipped to [-1, 1].
"""

import numpy as np

__all__ = ["FloatNetwork", "FloatTrainer", "MODES"]

MODES = ("sgd", "connect")


class FloatNetwork:
    """Real-valued weights ``(M, N)`` and biases ``(M,)`` per layer (float64 lists)."""

    def __init__(self, weights, biases):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64) for b in biases]


class FloatTrainer:
    """Online float training of ``net`` (a :class:`FloatNetwork`) under ``cfg``.

    ``mode``: one of :data:`MODES`; ``seed`` seeds ``np.random.default_rng`` (sampling and
    quantizer draws only; the sample order is the caller's).
    """

    def __init__(self, net, cfg, mode, seed=0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; not {mode!r}")
        self.net, self.cfg, self.mode = net, cfg, mode
        self.rng = np.random.default_rng(seed)
        self.eta = 2.0 ** -cfg.lr_shift
        self.lo = 0.0 if cfg.activation == "relu" else -1.0
        self.scales = [2.0 ** -s for s in cfg.scales]

    # -- the pieces ---------------------------------------------------------------------------

    def sample(self, w, deterministic=False):
        """Sampled weights in {-1, 0, +1} (binary/ternary connect, ALGORITHM §2)."""
        if self.cfg.weights == "binary":
            if deterministic or self.cfg.sampling == "deterministic":
                return np.where(w >= 0, 1.0, -1.0)
            return np.where(self.rng.random(w.shape) < np.clip((w + 1) / 2, 0, 1), 1.0, -1.0)
        if deterministic or self.cfg.sampling == "deterministic":
            return np.where(np.abs(w) >= 0.5, np.sign(w), 0.0)
        return np.where(self.rng.random(w.shape) < np.abs(w), np.sign(w), 0.0)

    def quantize(self, x):
        """Power-of-two rounding of the layer input (ALGORITHM §3), exponent in [-max_shift, 0]."""
        a = np.abs(x)
        k = np.floor(np.log2(np.where(a > 0, a, 1.0)))
        if self.cfg.quantizer == "stochastic":
            up = self.rng.random(a.shape) < a / 2.0 ** k - 1
        else:
            up = a / 2.0 ** k >= 1.5
        k = np.clip(k + up, -self.cfg.max_shift, 0)
        return np.where(a > 0, np.sign(x) * 2.0 ** k, 0.0)

    def forward(self, weights, x):
        """Outputs and masks of every layer for input(s) ``x`` with the given weight matrices."""
        ys, masks = [x], []
        last = len(weights) - 1
        for layer, w in enumerate(weights):
            z = ys[-1] @ w.T * self.scales[layer] + self.net.biases[layer]
            if layer == last:
                ys.append(np.clip(z, -4.0, 4.0))
                masks.append(np.ones_like(z))
            else:
                ys.append(np.clip(z, self.lo, 1.0))
                masks.append(((z > self.lo) & (z < 1.0)).astype(np.float64))
        return ys, masks

    # -- training and evaluation ----------------------------------------------------------------

    def step(self, x, label):
        """One online step on ``x`` (values in [0, 1)); returns the output scores."""
        net = self.net
        if self.mode == "sgd":
            used = net.weights
        else:
            used = [self.sample(w) for w in net.weights]
        ys, masks = self.forward(used, x)
        t = -np.ones(ys[-1].shape)
        t[label] = 1.0
        delta = 2.0 * t * np.maximum(0.0, 1.0 - t * ys[-1])
        for layer in range(len(used) - 1, -1, -1):
            below = None
            if layer > 0:
                below = (delta @ used[layer]) * self.scales[layer] * masks[layer - 1]
            x_in = ys[layer]
            if self.mode == "connect":
                x_in = self.quantize(x_in)
                net.weights[layer] = np.clip(
                    net.weights[layer] + self.eta * np.outer(delta, x_in), -1.0, 1.0)
                net.biases[layer] = np.clip(net.biases[layer] + self.eta * delta, -1.0, 1.0)
            else:
                net.weights[layer] = net.weights[layer] + self.eta * np.outer(delta, x_in)
                net.biases[layer] = net.biases[layer] + self.eta * delta
            delta = below
        return ys[-1]

    def train_epoch(self, X, labels):
        """:meth:`step` over the rows of ``X`` in order; returns the scores ``(S, M)``."""
        return np.array([self.step(x, label) for x, label in zip(X, labels, strict=True)])

    def scores(self, X, deterministic=False):
        """Test-time scores: real-valued weights (the paper's rule), or deterministic signs."""
        if deterministic and self.mode == "connect":
            weights = [self.sample(w, deterministic=True) for w in self.net.weights]
        else:
            weights = self.net.weights
        ys, _ = self.forward(weights, np.asarray(X, dtype=np.float64))
        return ys[-1]
