"""Weight sampling to {-1, +1} or {-1, 0, +1} (``docs/datapath.md`` section 3)."""

import numpy as np

from .fixed import align

__all__ = ["sample_signs", "pe_random"]


def pe_random(col_draws, row_draws):
    """The per-PE draw matrix ``r[i, j] = u[j] XOR v[i]`` (rows: outputs).

    Leading dimensions broadcast: draws of shape ``(K, N)`` and ``(K, M)`` give ``(K, M, N)``,
    the matrices of ``K`` steps at once.
    """
    return np.bitwise_xor(np.asarray(row_draws, dtype=np.int64)[..., :, None],
                          np.asarray(col_draws, dtype=np.int64)[..., None, :])


def sample_signs(w, r, cfg, deterministic=None):
    """Signs ``s`` (int64, same shape as ``w``) of weights ``w`` with per-weight draws ``r``.

    ``deterministic`` overrides ``cfg.sampling`` (inference always samples deterministically).
    """
    w = np.asarray(w, dtype=np.int64)
    if deterministic is None:
        deterministic = cfg.sampling == "deterministic"
    wf, bits = cfg.weight_frac, cfg.rand_bits
    if cfg.weights == "binary":
        if deterministic:
            return np.where(w >= 0, 1, -1).astype(np.int64)
        t = align(w + (1 << wf), cfg.weight_bits, bits)
        return np.where(np.asarray(r) < t, 1, -1).astype(np.int64)
    magnitude = np.abs(w)
    if deterministic:
        keep = 2 * magnitude >= (1 << wf)
    else:
        keep = np.asarray(r) < align(magnitude, wf, bits)
    return np.where(keep, np.sign(w), 0).astype(np.int64)
