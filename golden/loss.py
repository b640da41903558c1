"""L2-SVM (squared hinge) output error (``docs/datapath.md`` section 7, ALGORITHM §4).

``C = sum_k max(0, 1 - t_k y_k)^2`` with ``t_k = +1`` for the label and -1 otherwise; the error
sent back is the **negative** gradient ``-dC/dy_k = 2 t_k max(0, 1 - t_k y_k)``: a compare, a
sign flip and a shift, no multiplier.
"""

import numpy as np

from .fixed import sat

__all__ = ["targets", "output_error"]


def targets(label, n_classes):
    """``t`` in {-1, +1}: +1 at ``label`` (int64, shape ``(n_classes,)``)."""
    t = np.full(n_classes, -1, dtype=np.int64)
    t[label] = 1
    return t


def output_error(y, label, cfg):
    """``δ[k] = sat(t[k] max(0, 2^F - t[k] y[k]) << (E - F + 1), err_bits)`` (int64, like ``y``).

    ``y``: output scores in activation units (the last layer's clamped ``y``).
    """
    y = np.asarray(y, dtype=np.int64)
    t = targets(label, y.shape[-1])
    margin = np.maximum(cfg.act_one - t * y, 0)       # t is +-1: a sign flip, not a product
    return sat(np.where(t > 0, margin, -margin) << (cfg.err_frac - cfg.act_frac + 1),
               cfg.err_bits)
