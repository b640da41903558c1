"""Data sets and the host-side input encoding (``docs/datapath.md`` section 1).

scikit-learn's bundled data sets (no download), split 80/20 stratified with ``random_state=0``.
Each feature is scaled to [0, 1] by its maximum absolute value over the *training* set (test
values above it are clipped), then encoded as ``x = round(v * (2^F - 1))``.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["DATASETS", "Dataset", "load", "encode"]

DATASETS = ("digits", "iris", "wine", "breast_cancer")


@dataclass(frozen=True)
class Dataset:
    """Encoded features (int64, ``(S, N)``, in [0, 2^F)) and labels (int64) of both splits;
    ``float_train`` / ``float_test`` are the same inputs as real values, ``x / 2^F`` (float64)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    float_train: np.ndarray
    float_test: np.ndarray
    n_classes: int

    @property
    def n_features(self):
        return self.x_train.shape[1]


def encode(v, act_frac):
    """``round(v * (2^F - 1))`` for ``v`` in [0, 1] (int64; half away from zero)."""
    scaled = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0) * ((1 << act_frac) - 1)
    return np.floor(scaled + 0.5).astype(np.int64)


def load(name, cfg):
    """Load, split and encode data set ``name`` (one of :data:`DATASETS`) for ``cfg``."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; not {name!r}")
    bunch = getattr(datasets, f"load_{name}")()
    features = np.asarray(bunch.data, dtype=np.float64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    f_train, f_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, stratify=labels, random_state=0)
    peak = np.abs(f_train).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    v_train = np.clip(f_train / peak, 0.0, 1.0)
    v_test = np.clip(f_test / peak, 0.0, 1.0)
    x_train, x_test = encode(v_train, cfg.act_frac), encode(v_test, cfg.act_frac)
    one = float(1 << cfg.act_frac)                    # the values the fixed-point model sees
    return Dataset(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   float_train=x_train / one, float_test=x_test / one,
                   n_classes=int(labels.max()) + 1)
