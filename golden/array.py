"""Golden twin of ``fewmul.hw.array.PEArray``: one ``R x C`` weight tile, bit-exact.

Tile-level functions compose the frozen block ops (``sampler``, ``quantizer``, ``update``):

- :func:`forward_partial`: ``acc[i] = sum_j s[i,j] x[j]`` (``docs/datapath.md`` sections 3, 5)
- :func:`backward_partial`: ``g[j] = sum_i s[i,j] δ[i]`` with the same signs (section 7)
- :func:`update_tile`: ``w = sat(w + round(δ Q(x)^T 2^-lr))`` (sections 4, 8), at the run-time
  learning rate ``lr = lr_shift + lr_offset`` (:func:`at_lr_offset`)

:class:`ArrayModel` replays the array's command stream (FORWARD, BACKWARD, UPDATE, LOAD, READ)
on a stored tile; the array testbench scores the RTL against it. Sums are exact int64.
"""

import numpy as np

from .quantizer import quantize
from .sampler import pe_random, sample_signs
from .update import clip_count, update_weights, weight_delta

__all__ = ["tile_signs", "forward_partial", "backward_partial", "update_tile",
           "update_tile_clips", "at_lr_offset",
           "ArrayModel", "OPS"]

#: Operation names, in the order of ``fewmul.hw.array.Op``'s values.
OPS = ("FORWARD", "BACKWARD", "UPDATE", "LOAD", "READ")


def tile_signs(w, u, v, cfg, deterministic=False):
    """Signs ``s`` (R, C) of tile ``w`` with column draws ``u`` (C,) and row draws ``v`` (R,).

    ``deterministic`` forces deterministic signs (inference); otherwise ``cfg.sampling`` rules.
    """
    return sample_signs(w, pe_random(u, v), cfg, deterministic=True if deterministic else None)


def forward_partial(w, x, u, v, cfg, deterministic=False):
    """Row partial sums ``acc[i] = sum_j s[i,j] x[j]`` of one tile (R,)."""
    s = tile_signs(w, u, v, cfg, deterministic)
    return (s * np.asarray(x, dtype=np.int64)[None, :]).sum(axis=1)


def backward_partial(w, delta, u, v, cfg, deterministic=False):
    """Column partial sums ``g[j] = sum_i s[i,j] δ[i]`` (C,), with the forward's signs."""
    s = tile_signs(w, u, v, cfg, deterministic)
    return (s * np.asarray(delta, dtype=np.int64)[:, None]).sum(axis=0)


def at_lr_offset(cfg, lr_offset):
    """``cfg`` at the run-time learning rate ``2^-(lr_shift + lr_offset)``, what the hardware's
    ``lr_offset`` port selects (``0 <= lr_offset <= cfg.lr_range``); the largest run-time shift
    ``lr_shift + lr_range`` stays the same, so the hardware's shifter range does not change."""
    lr_offset = int(lr_offset)
    if not 0 <= lr_offset <= cfg.lr_range:
        raise ValueError(f"lr_offset must be an integer in [0, {cfg.lr_range}] (cfg.lr_range), "
                         f"not {lr_offset!r}")
    return cfg.replace(lr_shift=cfg.lr_shift + lr_offset, lr_range=cfg.lr_range - lr_offset)


def update_tile(w, delta, x, q, u2, v2, cfg, lr_offset=0):
    """Updated tile: quantize ``x`` with draws ``q``, round with ``u2[j] XOR v2[i]``, learning
    rate ``2^-(lr_shift + lr_offset)`` (the quantizer does not depend on it)."""
    return update_weights(w, delta, quantize(x, q, cfg), pe_random(u2, v2),
                          at_lr_offset(cfg, lr_offset))


def update_tile_clips(w, delta, x, q, u2, v2, cfg, lr_offset=0):
    """How many weights of :func:`update_tile` (same arguments) saturate."""
    step = weight_delta(delta, quantize(x, q, cfg), pe_random(u2, v2),
                        at_lr_offset(cfg, lr_offset))
    return clip_count(w, step, cfg.weight_bits)


class ArrayModel:
    """Transaction-level model of the array: a stored tile and the five commands.

    A command is a dict with ``op`` (a name of :data:`OPS`) and the payload fields of
    ``fewmul.hw.array.command_layout`` it reads, plus, for UPDATE, ``lr_offset`` (the array's
    ``lr_offset`` port at the UPDATE's handshake; 0 when missing); :meth:`execute` returns the
    result dict (``op`` and ``acc``, ``grad`` or ``weights``) or ``None`` for UPDATE and LOAD.
    """

    def __init__(self, cfg, weights=None):
        self.cfg = cfg
        self.clips = 0                        # saturating weight updates so far (``clips``)
        shape = (cfg.array_rows, cfg.array_cols)
        self.weights = (np.zeros(shape, dtype=np.int64) if weights is None
                        else np.asarray(weights, dtype=np.int64).reshape(shape).copy())

    def _rotate(self, new_row):
        """Rows move towards row 0; ``new_row`` becomes row R-1. Returns the old row 0."""
        out = self.weights[0].copy()
        self.weights = np.concatenate([self.weights[1:], np.asarray(new_row)[None, :]])
        return out

    def execute(self, cmd):
        op, cfg, w = cmd["op"], self.cfg, self.weights
        det = bool(cmd.get("deterministic", 0))
        if op == "FORWARD":
            return {"op": op, "acc": forward_partial(w, cmd["x"], cmd["u"], cmd["v"], cfg, det)}
        if op == "BACKWARD":
            return {"op": op,
                    "grad": backward_partial(w, cmd["delta"], cmd["u"], cmd["v"], cfg, det)}
        if op == "UPDATE":
            args = (w, cmd["delta"], cmd["x"], cmd["q"], cmd["u2"], cmd["v2"], cfg,
                    cmd.get("lr_offset", 0))
            self.clips += update_tile_clips(*args)
            self.weights = update_tile(*args)
            return None
        if op == "LOAD":
            self._rotate(np.asarray(cmd["weights"], dtype=np.int64))
            return None
        if op == "READ":
            row = w[0].copy()
            self._rotate(row)
            return {"op": op, "weights": row}
        raise ValueError(f"unknown array operation {op!r}; choose one of {OPS}")
