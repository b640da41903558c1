"""The training loop of ``fewmul train``: options, tuned defaults, backends, the JSON report.

:func:`train` drives a *trainer* that a backend of :data:`BACKENDS` builds:

- ``golden``: the bit-exact numpy model (:mod:`fewmul.golden.mlp`) or, for ``arith float`` /
  float weights, the float reference (:mod:`fewmul.golden.float_ref`);
- ``rtl``: the engine's RTL in a cocotb simulation, checked against golden
  (:mod:`fewmul.train_rtl`, settings :class:`~fewmul.train_rtl.RtlSettings`);
- ``board``: a board (or a virtual board) on a serial port through the host driver, checked
  against golden (:mod:`fewmul.train_board`, settings :class:`~fewmul.train_board.BoardSettings`).

A backend is a function ``(cfg, dataset, options, settings) -> trainer``; a trainer has

- ``train_epoch(order, lr_shift)``: one online pass over the training samples ``order``
  (indices) with learning rate ``2^-lr_shift``;
- ``predict(split, rule)``: labels of ``split`` (``"train"`` / ``"test"``) under ``rule``
  (``"paper"``: real-valued weights; ``"multiplier_free"``: deterministic signs, integer);
- optionally ``summary()``: extra JSON fields of the run (cycles, checks, ...), and ``close()``.

- optionally ``train_keyed_epoch(order, lr_shift, key)``: the same pass when ``order`` is the
  keyed order of ``key`` (the board trains it from its on-chip data set with one EPOCH).

A trainer that compares with golden raises :class:`TrainingMismatch` (its ``summary`` holds the
run's figures so far). Sample order (``options.order``): ``"host"`` (default), epoch ``k``
visits the training set in ``np.random.default_rng(seed)``'s ``k``-th permutation; ``"keyed"``,
in ``fewmul.golden.order.epoch_order(n, epoch_key(seed, k))``, the order the chip generates
itself (``docs/datapath.md`` section 12). Every backend uses the same order, cut to its first
``options.samples`` when that is set. Learning-rate schedule: epoch
``k`` (from 0) uses ``lr_shift + k // lr_decay`` (constant when ``lr_decay`` is 0), see
``docs/datapath.md`` section 9; :func:`schedule_lr_range` sizes the hardware's run-time range
for it.
"""

import importlib
import time
from dataclasses import dataclass, replace

import numpy as np

from fewmul.config import Config
from fewmul.golden.mlp import INIT_RANGE
from fewmul.golden.schedule import epoch_config

__all__ = ["BACKENDS", "DEFAULTS", "INIT_RANGES", "SPLIT", "TUNED_CONFIG", "TrainOptions",
           "TrainingMismatch", "compare_network", "default_config", "default_init_range",
           "schedule_lr_range", "train", "plot", "title", "summary_line"]

#: Tuned defaults of a training run (what ``fewmul bench golden`` measures), on top of the
#: datapath defaults of :class:`fewmul.config.Config`. ``lr_shift`` is the first epoch's
#: learning-rate shift (``Config.lr_shift`` stays the hardware's reset value); the schedule
#: halves the rate every ``lr_decay`` epochs, so it needs ``lr_range >= (epochs - 1) // lr_decay``.
DEFAULTS = dict(dataset="digits", hidden=(256,), epochs=60, lr_shift=5, lr_decay=15)

#: Tuned half-width of the uniform initial weights, per weight mode (``float``: the float SGD
#: reference). Sampled binary weights near 0 are pure noise (P(+1) = 1/2), so binary connect
#: starts from larger weights; ternary weights near 0 sample to 0 and cost nothing.
INIT_RANGES = dict(binary=1.0, ternary=0.5, float=INIT_RANGE)

#: Further :class:`~fewmul.config.Config` fields of the tuned run (datapath choices the hardware
#: built for the run takes as well): the update's shifted-out fraction rounded, not truncated
#: (unbiased; in hardware one guard bit of the update's shift).
TUNED_CONFIG = dict(update_fraction="round")

#: How :func:`fewmul.golden.data.load` splits every data set (recorded in the JSON report):
#: stratified, 20 % test, scikit-learn's ``train_test_split`` with ``random_state`` 0.
SPLIT = dict(test_fraction=0.2, random_state=0, stratified=True)


#: The sample orders of :class:`TrainOptions`.
ORDERS = ("host", "keyed")


def default_init_range(weights):
    """The tuned initial range for ``weights`` (``binary``, ``ternary`` or ``float``)."""
    return INIT_RANGES[weights]


def default_config(**changes):
    """:class:`~fewmul.config.Config` with the tuned run defaults, then ``changes``."""
    cfg = Config()
    tuned = dict(layers=(cfg.layers[0], *DEFAULTS["hidden"], cfg.layers[-1]),
                 lr_shift=DEFAULTS["lr_shift"], **TUNED_CONFIG)
    return cfg.replace(**{**tuned, **changes})


class TrainingMismatch(AssertionError):
    """The hardware's weights or answers differ from the golden model's (or the run failed
    before it could compare). ``summary``: the run's figures so far (JSON-ready)."""

    def __init__(self, message, summary=None):
        super().__init__(message)
        self.summary = summary or {}


def compare_network(cfg, weights, biases, net, where, side="rtl"):
    """Mismatch lines (layer, index, ``side``'s value, golden value) of a network read back
    from the hardware (``weights``, ``biases`` per layer) against golden ``net``."""
    out = []
    for layer in range(cfg.n_layers):
        got_w = np.asarray(weights[layer], dtype=np.int64)
        for i, j in zip(*np.nonzero(got_w != net.weights[layer]), strict=True):
            out.append(f"{where}: layer {layer} weight [{i}, {j}]: {side} {got_w[i, j]}, "
                       f"golden {net.weights[layer][i, j]}")
        got_b = np.asarray(biases[layer], dtype=np.int64)
        for i in np.flatnonzero(got_b != net.biases[layer]):
            out.append(f"{where}: layer {layer} bias [{i}]: {side} {got_b[i]}, "
                       f"golden {net.biases[layer][i]}")
    return out


def _check_count(name, value, lo, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """Run-level choices that are not datapath configuration (validated on construction)."""

    dataset: str = DEFAULTS["dataset"]
    epochs: int = DEFAULTS["epochs"]
    arith: str = "fixed"                 # fixed: bit-exact golden; float: the paper's rule
    float_weights: bool = False          # plain float SGD baseline (implies arith float)
    init_range: float = None             # None: default_init_range of the run's weights
    lr_decay: int = DEFAULTS["lr_decay"]  # epochs per halving of the learning rate (0: constant)
    samples: int = None                  # train on the first N samples of each epoch (None: all)
    order: str = "host"                  # host: numpy permutations; keyed: the on-chip order
    settle_epochs: int = 0               # the last N epochs train with deterministic signs
    settle_shift: int = 0                # ... at a learning rate 2^settle_shift lower

    def __post_init__(self):
        _check_count("epochs", self.epochs, 1)
        _check_count("lr_decay", self.lr_decay, 0)
        _check_count("samples", self.samples, 1, allow_none=True)
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}; not {self.order!r}")
        if self.arith not in ("fixed", "float"):
            raise ValueError(f"arith must be one of fixed, float; not {self.arith!r}")
        if self.init_range is not None and not self.init_range > 0:
            raise ValueError(f"init_range must be positive, not {self.init_range!r}")
        self.schedule(Config())                      # checks settle_epochs and settle_shift
        if self.settle_epochs and (self.arith == "float" or self.float_weights):
            raise ValueError("the settling phase trains the fixed-point datapath with "
                             "deterministic signs: use --arith fixed (or --settle-epochs 0)")

    def schedule(self, cfg):
        """The run's :class:`fewmul.golden.schedule.Schedule` from ``cfg.lr_shift``."""
        from fewmul.golden.schedule import Schedule
        return Schedule(epochs=self.epochs, lr_shift=cfg.lr_shift, lr_decay=self.lr_decay,
                        settle_epochs=self.settle_epochs, settle_shift=self.settle_shift)

    def lr_shift(self, cfg, epoch):
        """The learning-rate shift of epoch ``epoch`` (from 0)."""
        return self.schedule(cfg).lr(epoch)

    def settling(self, epoch):
        """Whether epoch ``epoch`` (from 0) trains with deterministic signs."""
        return self.schedule(Config()).settling(epoch)

    def lr_shifts(self, cfg):
        """Every epoch's learning-rate shift, in order."""
        return [self.lr_shift(cfg, epoch) for epoch in range(self.epochs)]


def schedule_lr_range(lr_shift, options, minimum=Config.lr_range):
    """The run-time learning-rate range (``Config.lr_range``) the schedule of ``options`` needs
    when it starts at ``lr_shift`` (the decay's halvings and the settling phase's shift), at
    least ``minimum``."""
    return max(minimum, options.schedule(Config(lr_shift=lr_shift)).lr_range())


def _backend(module, name):
    def make(cfg, ds, options, settings):
        return getattr(importlib.import_module(module), name)(cfg, ds, options, settings)
    return make


class GoldenTrainer:
    """The bit-exact golden model (``arith fixed``)."""

    def __init__(self, cfg, ds, options):
        from fewmul.golden.mlp import init_network
        from fewmul.golden.rng import StreamSet
        self.cfg, self.ds = cfg, ds
        self.net = init_network(cfg, init_range=options.init_range)
        self.streams = StreamSet(cfg.seed)

    def train_epoch(self, order, lr_shift, deterministic=False):
        from fewmul.golden.mlp import train_epoch
        train_epoch(self.net, self.ds.x_train[order], self.ds.y_train[order], self.streams,
                    epoch_config(self.cfg, lr_shift, deterministic))

    def predict(self, split, rule):
        from fewmul.golden.mlp import predict_fixed, predict_float
        x = self.ds.x_train if split == "train" else self.ds.x_test
        return (predict_float if rule == "paper" else predict_fixed)(self.net, x, self.cfg)


class FloatRefTrainer:
    """The float references: plain SGD (``float_weights``) or binary/ternary connect + QBP."""

    def __init__(self, cfg, ds, options):
        from fewmul.golden.float_ref import FloatNetwork, FloatTrainer
        from fewmul.golden.mlp import init_network
        self.ds = ds
        net = init_network(cfg, init_range=options.init_range)
        mode = "sgd" if options.float_weights else "connect"
        self.trainer = FloatTrainer(FloatNetwork(*net.float_weights(cfg)), cfg, mode,
                                    seed=cfg.seed)

    def train_epoch(self, order, lr_shift):
        self.trainer.eta = 2.0 ** -lr_shift
        self.trainer.train_epoch(self.ds.float_train[order], self.ds.y_train[order])

    def predict(self, split, rule):
        x = self.ds.float_train if split == "train" else self.ds.float_test
        return np.argmax(self.trainer.scores(x, deterministic=rule != "paper"), axis=-1)


def golden_backend(cfg, ds, options, settings=None):
    if settings is not None:
        raise ValueError("the golden backend takes no backend settings")
    if options.arith == "float" or options.float_weights:
        return FloatRefTrainer(cfg, ds, options)
    return GoldenTrainer(cfg, ds, options)


#: Backend name -> ``(cfg, dataset, options, settings) -> trainer``. Add an entry to add one.
BACKENDS = {"golden": golden_backend,
            "rtl": _backend("fewmul.train_rtl", "rtl_backend"),
            "board": _backend("fewmul.train_board", "board_backend")}


def check_schedule(cfg, options):
    """``ValueError`` unless the hardware built for ``cfg`` runs every shift of the schedule."""
    shifts = options.lr_shifts(cfg)
    if any(shift not in cfg.lr_shifts for shift in shifts):
        raise ValueError(
            f"the learning-rate schedule uses shifts {min(shifts)} .. {max(shifts)}, the "
            f"hardware accepts lr_shift .. lr_shift + lr_range = {cfg.lr_shift} .. "
            f"{cfg.lr_shift + cfg.lr_range}: raise lr_range to "
            f"{max(shifts) - cfg.lr_shift}, or use fewer epochs or a larger lr_decay")


def _weights_name(cfg, options):
    return "float" if options.float_weights else cfg.weights


def train(cfg, options=TrainOptions(), backend="golden", settings=None, progress=False,
          dataset=None):
    """Train under ``cfg`` / ``options`` on ``backend``; returns the JSON-ready result dict.

    ``cfg.layers[0]`` and ``cfg.layers[-1]`` are replaced by the data set's input and class
    counts. ``settings``: the backend's own settings (``None`` for golden). ``progress``: show a
    tqdm bar. ``dataset``: an already loaded :class:`~fewmul.golden.data.Dataset` (to save
    reloading in benchmarks). Raises :class:`TrainingMismatch` when a checked backend differs
    from golden, ``ValueError`` for options that do not fit together.
    """
    from fewmul.golden import data as datasets
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; not {backend!r}")
    if options.init_range is None:
        options = replace(options, init_range=default_init_range(_weights_name(cfg, options)))
    ds = dataset or datasets.load(options.dataset, cfg)
    cfg = cfg.replace(layers=(ds.n_features, *cfg.layers[1:-1], ds.n_classes))
    if not options.float_weights:           # the schedule must be one the hardware runs
        check_schedule(cfg, options)
    started_run = time.perf_counter()
    trainer = BACKENDS[backend](cfg, ds, options, settings)
    try:
        history, wall, cpu, steps = _epochs(trainer, cfg, ds, options, progress)
    finally:
        getattr(trainer, "close", lambda: None)()
    mf = "test_accuracy_multiplier_free"
    result = {
        "config": {**cfg.as_dict(), "dataset": ds.name, "epochs": options.epochs,
                   "backend": backend, "arith": "float" if options.float_weights else
                   options.arith, "weights": _weights_name(cfg, options),
                   "init_range": options.init_range, "lr_decay": options.lr_decay,
                   "settle_epochs": options.settle_epochs, "settle_shift": options.settle_shift,
                   "samples": options.samples, "order": options.order},
        "split": {**SPLIT, "train": len(ds.y_train), "test": len(ds.y_test)},
        "epochs": history,
        "test_accuracy": history[-1]["test_accuracy"],
        mf: history[-1][mf],
        "samples_per_second": steps / wall if wall else None,
        "samples_per_cpu_second": steps / cpu if cpu else None,
        "wall_seconds": time.perf_counter() - started_run,
    }
    result.update(getattr(trainer, "summary", dict)())
    return result


def _epoch_order(order_rng, cfg, ds, options, epoch):
    """``(indices, key)`` of epoch ``epoch``: the key is ``None`` for the host order."""
    if options.order == "keyed":
        from fewmul.golden.order import epoch_key, epoch_order
        key = epoch_key(cfg.seed, epoch)
        return epoch_order(len(ds.y_train), key)[:options.samples], key
    return order_rng.permutation(len(ds.y_train))[:options.samples], None


def _epochs(trainer, cfg, ds, options, progress):
    order_rng = np.random.default_rng(cfg.seed)
    history, wall, cpu, steps = [], 0.0, 0.0, 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=options.epochs, unit="epoch", desc=f"train {ds.name}")

    def accuracy(split, rule):
        labels = ds.y_train if split == "train" else ds.y_test
        return float(np.mean(trainer.predict(split, rule) == labels))

    try:
        for epoch in range(options.epochs):
            order, key = _epoch_order(order_rng, cfg, ds, options, epoch)
            started, started_cpu = time.perf_counter(), time.process_time()
            keyed = getattr(trainer, "train_keyed_epoch", None)
            settle = {"deterministic": True} if options.settling(epoch) else {}
            if key is not None and keyed is not None:
                keyed(order, options.lr_shift(cfg, epoch), key, **settle)
            else:
                trainer.train_epoch(order, options.lr_shift(cfg, epoch), **settle)
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            steps += len(order)
            history.append({"epoch": epoch + 1, "lr_shift": options.lr_shift(cfg, epoch),
                            "settling": options.settling(epoch),
                            "train_accuracy": accuracy("train", "paper"),
                            "test_accuracy": accuracy("test", "paper"),
                            "test_accuracy_multiplier_free": accuracy("test", "multiplier_free")})
            if bar is not None:
                bar.set_postfix(test=f"{history[-1]['test_accuracy']:.3f}")
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return history, wall, cpu, steps


def title(result):
    """One-line name of a run: data set, layers, weights, arithmetic, weight width."""
    c = result["config"]
    name = f"{c['dataset']} {'-'.join(map(str, c['layers']))}"
    if c["weights"] == "float":
        return f"{name} float SGD"
    if c["arith"] == "float":
        return f"{name} {c['weights']} connect, float arithmetic"
    return f"{name} {c['weights']} {c['sampling']} w{c['weight_bits']}"


def has_multiplier_free(result):
    """Whether the multiplier-free figure says something of its own (not for float SGD, whose
    deterministic test rule is its paper rule)."""
    return result["config"]["weights"] != "float"


def summary_line(result):
    """The one line ``fewmul train`` prints about a result."""
    mf = (f" (multiplier-free {100 * result['test_accuracy_multiplier_free']:.2f} %)"
          if has_multiplier_free(result) else "")
    rate = ""
    if result["samples_per_second"]:
        rate = (f", {result['samples_per_second']:.0f} samples/s "
                f"({result['samples_per_cpu_second']:.0f} per CPU second)")
    return (f"{title(result)}, {result['config']['backend']}: test accuracy "
            f"{100 * result['test_accuracy']:.2f} %{mf}{rate}, {result['wall_seconds']:.1f} s")


def plot(result, path):
    """PNG learning curves (accuracy per epoch) of a :func:`train` result."""
    import matplotlib
    matplotlib.use("Agg")

    from matplotlib import pyplot as plt
    epochs = [e["epoch"] for e in result["epochs"]]
    curves = [("train_accuracy", "train (paper rule)"), ("test_accuracy", "test (paper rule)")]
    if has_multiplier_free(result):
        curves.append(("test_accuracy_multiplier_free", "test (multiplier-free)"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in curves:
        ax.plot(epochs, [100 * e[key] for e in result["epochs"]], label=label, marker="o",
                markersize=3)
    ax.set_title(title(result))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    from fewmul.results import save_figure
    return save_figure(fig, path, dpi=100)
