"""Golden twin of ``fewmul.hw.tile_pipeline.TilePipeline``: one tile pass, bit-exact.

:func:`tile_pass` takes one command (the fields of ``tile_command_layout``, ``weights`` as an
``(R, C)`` array) and returns what the pipeline answers for it, composed of the tile functions
of :mod:`fewmul.golden.array` (``docs/datapath.md`` sections 3, 4, 5, 7, 8).
"""

import numpy as np

from .array import backward_partial, forward_partial, update_tile, update_tile_clips

__all__ = ["TILE_OPS", "tile_pass"]

#: Operation names, in the order of ``fewmul.hw.tile_pipeline.TileOp``'s values.
TILE_OPS = ("FORWARD", "TRAIN")


def tile_pass(cmd, cfg):
    """The pipeline's results for ``cmd``: ``{"acc", "grad"}`` for every operation, plus
    ``{"weights", "clips"}`` for ``TRAIN``.

    ``acc[i] = sum_j s[i,j] x[j]`` and ``grad[j] = sum_i s[i,j] δ[i]`` share the signs ``s``
    sampled from ``cmd["weights"]`` with ``u[j] XOR v[i]`` (deterministic signs if
    ``cmd["deterministic"]``); ``TRAIN`` also updates the tile at ``cmd["lr_offset"]``.
    """
    op = cmd["op"]
    if op not in TILE_OPS:
        raise ValueError(f"unknown tile operation {op!r}; choose one of {TILE_OPS}")
    w = np.asarray(cmd["weights"], dtype=np.int64).reshape(cfg.array_rows, cfg.array_cols)
    det = bool(cmd.get("deterministic", 0))
    out = {"acc": forward_partial(w, cmd["x"], cmd["u"], cmd["v"], cfg, det),
           "grad": backward_partial(w, cmd["delta"], cmd["u"], cmd["v"], cfg, det)}
    if op == "TRAIN":
        args = (w, cmd["delta"], cmd["x"], cmd["q"], cmd["u2"], cmd["v2"], cfg,
                cmd.get("lr_offset", 0))
        out["weights"] = update_tile(*args)
        out["clips"] = int(update_tile_clips(*args))
    return out
