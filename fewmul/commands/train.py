"""``fewmul train``: train an MLP on a bundled data set; JSON results and learning curves.

The loop is :func:`train` (reusable: ``fewmul bench`` and ``fewmul demo`` call it). It drives a
*trainer* built by a backend from :data:`BACKENDS`: ``golden`` is the bit-exact numpy model
(:mod:`fewmul.golden.mlp`) or, for ``--arith float`` / ``--weights float``, the float reference
(:mod:`fewmul.golden.float_ref`). A backend is a function ``(cfg, dataset, options) -> trainer``;
a trainer has

- ``train_epoch(order, lr_shift)``: one online pass over the training samples ``order``
  (indices) with learning rate ``2^-lr_shift``;
- ``predict(split, rule)``: labels of ``split`` (``"train"`` / ``"test"``) under ``rule``
  (``"paper"``: real-valued weights; ``"multiplier_free"``: deterministic signs, integer).

Sample order: epoch ``k`` visits the training set in ``np.random.default_rng(seed)``'s ``k``-th
permutation (host side; every backend uses the same order). Learning-rate schedule: epoch ``k``
(from 0) uses ``lr_shift + k // lr_decay`` (constant when ``lr_decay`` is 0), see
``docs/datapath.md`` section 9.
"""

import time
from dataclasses import dataclass, replace

import numpy as np

from fewmul.config import ACTIVATIONS, FRACTION_MODES, QUANTIZER_MODES, SAMPLING_MODES, Config
from fewmul.golden import data as datasets
from fewmul.golden.mlp import INIT_RANGE

__all__ = ["BACKENDS", "DEFAULTS", "default_config", "TrainOptions", "train", "plot",
           "add_parser", "run", "DEMO_STEPS"]

#: Tuned defaults of a training run (what ``fewmul bench golden`` measures), on top of the
#: datapath defaults of :class:`fewmul.config.Config`. ``lr_shift`` is the first epoch's
#: learning-rate shift (``Config.lr_shift`` stays the hardware's reset value); the schedule
#: halves the rate every ``lr_decay`` epochs, so it needs ``lr_range >= (epochs - 1) // lr_decay``.
DEFAULTS = dict(dataset="digits", hidden=(256,), epochs=60, lr_shift=5, lr_decay=15)

#: Tuned half-width of the uniform initial weights, per weight mode (``float``: the float SGD
#: reference). Sampled binary weights near 0 are pure noise (P(+1) = 1/2), so binary connect
#: starts from larger weights; ternary weights near 0 sample to 0 and cost nothing.
INIT_RANGES = dict(binary=1.0, ternary=0.5, float=INIT_RANGE)


def default_init_range(weights):
    """The tuned initial range for ``weights`` (``binary``, ``ternary`` or ``float``)."""
    return INIT_RANGES[weights]


#: Further :class:`~fewmul.config.Config` fields of the tuned run (datapath choices the hardware
#: built for the run takes as well): the update's shifted-out fraction rounded, not truncated
#: (unbiased; in hardware one guard bit of the update's shift).
TUNED_CONFIG = dict(update_fraction="round")


def default_config(**changes):
    """:class:`~fewmul.config.Config` with the tuned run defaults, then ``changes``."""
    cfg = Config()
    tuned = dict(layers=(cfg.layers[0], *DEFAULTS["hidden"], cfg.layers[-1]),
                 lr_shift=DEFAULTS["lr_shift"], **TUNED_CONFIG)
    return cfg.replace(**{**tuned, **changes})


@dataclass(frozen=True)
class TrainOptions:
    """Run-level choices that are not datapath configuration."""

    dataset: str = DEFAULTS["dataset"]
    epochs: int = DEFAULTS["epochs"]
    arith: str = "fixed"                 # fixed: bit-exact golden; float: the paper's rule
    float_weights: bool = False          # plain float SGD baseline (implies arith float)
    init_range: float = None             # None: default_init_range of the run's weights
    lr_decay: int = DEFAULTS["lr_decay"]  # epochs per halving of the learning rate (0: constant)

    def lr_shift(self, cfg, epoch):
        """The learning-rate shift of epoch ``epoch`` (from 0)."""
        return cfg.lr_shift + (epoch // self.lr_decay if self.lr_decay else 0)


class GoldenTrainer:
    """The bit-exact golden model (``arith fixed``)."""

    def __init__(self, cfg, ds, options):
        from fewmul.golden.mlp import init_network
        from fewmul.golden.rng import StreamSet
        self.cfg, self.ds = cfg, ds
        self.net = init_network(cfg, init_range=options.init_range)
        self.streams = StreamSet(cfg.seed)

    def train_epoch(self, order, lr_shift):
        from fewmul.golden.mlp import train_epoch
        train_epoch(self.net, self.ds.x_train[order], self.ds.y_train[order], self.streams,
                    self.cfg.replace(lr_shift=lr_shift))

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


def golden_backend(cfg, ds, options):
    if options.arith == "float" or options.float_weights:
        return FloatRefTrainer(cfg, ds, options)
    return GoldenTrainer(cfg, ds, options)


def rtl_backend(cfg, ds, options):
    from fewmul.train_rtl import rtl_backend
    return rtl_backend(cfg, ds, options)


#: Backend name -> ``(cfg, dataset, options) -> trainer``. Add an entry to add a backend.
BACKENDS = {"golden": golden_backend, "rtl": rtl_backend}


def train(cfg, options=TrainOptions(), backend="golden", progress=False, dataset=None):
    """Train under ``cfg`` / ``options`` on ``backend``; returns the JSON-ready result dict.

    ``cfg.layers[0]`` and ``cfg.layers[-1]`` are replaced by the data set's input and class
    counts. ``progress``: show a tqdm bar. ``dataset``: an already loaded
    :class:`~fewmul.golden.data.Dataset` (to save reloading in benchmarks).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; not {backend!r}")
    if options.init_range is None:
        options = replace(options, init_range=default_init_range(
            "float" if options.float_weights else cfg.weights))
    ds = dataset or datasets.load(options.dataset, cfg)
    cfg = cfg.replace(layers=(ds.n_features, *cfg.layers[1:-1], ds.n_classes))
    if not options.float_weights:           # the schedule must be one the hardware runs
        shifts = [options.lr_shift(cfg, epoch) for epoch in range(options.epochs)]
        if any(shift not in cfg.lr_shifts for shift in shifts):
            raise ValueError(f"the learning-rate schedule uses shifts {min(shifts)} .. "
                             f"{max(shifts)}, the hardware accepts lr_shift .. lr_shift + "
                             f"lr_range = {cfg.lr_shift} .. {cfg.lr_shift + cfg.lr_range}: "
                             f"raise lr_range or lr_decay")
    trainer = BACKENDS[backend](cfg, ds, options)
    order_rng = np.random.default_rng(cfg.seed)
    history, wall, cpu = [], 0.0, 0.0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=options.epochs, unit="epoch", desc=f"train {ds.name}")

    def accuracy(split, rule):
        labels = ds.y_train if split == "train" else ds.y_test
        return float(np.mean(trainer.predict(split, rule) == labels))

    for epoch in range(options.epochs):
        order = order_rng.permutation(len(ds.y_train))
        started, started_cpu = time.perf_counter(), time.process_time()
        trainer.train_epoch(order, options.lr_shift(cfg, epoch))
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        history.append({"epoch": epoch + 1,
                        "train_accuracy": accuracy("train", "paper"),
                        "test_accuracy": accuracy("test", "paper"),
                        "test_accuracy_multiplier_free": accuracy("test", "multiplier_free")})
        if bar is not None:
            bar.set_postfix(test=f"{history[-1]['test_accuracy']:.3f}")
            bar.update()
    if bar is not None:
        bar.close()
    steps = options.epochs * len(ds.y_train)
    arith = "float" if options.float_weights else options.arith
    return {
        "config": {**cfg.as_dict(), "dataset": ds.name, "epochs": options.epochs,
                   "backend": backend, "arith": arith,
                   "weights": "float" if options.float_weights else cfg.weights,
                   "init_range": options.init_range, "lr_decay": options.lr_decay},
        "epochs": history,
        "test_accuracy": history[-1]["test_accuracy"] if history else None,
        "test_accuracy_multiplier_free":
            history[-1]["test_accuracy_multiplier_free"] if history else None,
        "samples_per_second": steps / wall if wall else None,
        "samples_per_cpu_second": steps / cpu if cpu else None,
    }


def plot(result, path):
    """PNG learning curves (accuracy per epoch) of a :func:`train` result."""
    import matplotlib
    matplotlib.use("Agg")
    from pathlib import Path

    from matplotlib import pyplot as plt
    epochs = [e["epoch"] for e in result["epochs"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("train_accuracy", "train (paper rule)"),
                       ("test_accuracy", "test (paper rule)"),
                       ("test_accuracy_multiplier_free", "test (multiplier-free)")):
        ax.plot(epochs, [100 * e[key] for e in result["epochs"]], label=label, marker="o",
                markersize=3)
    c = result["config"]
    ax.set_title(f"{c['dataset']} {'-'.join(map(str, c['layers']))} {c['weights']} "
                 f"{c['arith']} w{c['weight_bits']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _config(args):
    defaults = default_config()
    changes = dict(layers=(defaults.layers[0], *args.hidden, defaults.layers[-1]),
                   sampling=args.sampling, seed=args.seed, weight_bits=args.weight_bits,
                   lr_shift=args.lr_shift, lr_range=args.lr_range, rand_bits=args.rand_bits,
                   activation=args.activation, quantizer=args.quantizer,
                   update_fraction=args.update_fraction)
    if args.weights != "float":
        changes["weights"] = args.weights
    return defaults.replace(**changes)


def add_parser(sub):
    defaults = default_config()
    p = sub.add_parser("train", help="train an MLP (bit-exact golden model or float reference)")
    p.add_argument("--dataset", choices=datasets.DATASETS, default=DEFAULTS["dataset"])
    p.add_argument("--hidden", type=int, nargs="+", default=list(DEFAULTS["hidden"]),
                   metavar="N", help="hidden layer sizes (default: %(default)s)")
    p.add_argument("--weights", choices=("binary", "ternary", "float"), default=defaults.weights,
                   help="sampled weights, or float: plain SGD baseline (implies --arith float)")
    p.add_argument("--sampling", choices=SAMPLING_MODES, default=defaults.sampling)
    p.add_argument("--quantizer", choices=QUANTIZER_MODES, default=defaults.quantizer)
    p.add_argument("--activation", choices=ACTIVATIONS, default=defaults.activation)
    p.add_argument("--arith", choices=("fixed", "float"), default="fixed",
                   help="fixed: bit-exact integer datapath; float: the paper's rule in float64")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--weight-bits", type=int, default=defaults.weight_bits)
    p.add_argument("--lr-shift", type=int, default=DEFAULTS["lr_shift"],
                   help="learning rate 2^-LR_SHIFT (default: %(default)s)")
    p.add_argument("--lr-decay", type=int, default=DEFAULTS["lr_decay"], metavar="EPOCHS",
                   help="halve the learning rate every EPOCHS epochs, 0: constant "
                        "(default: %(default)s)")
    p.add_argument("--lr-range", type=int, default=defaults.lr_range, metavar="N",
                   help="run-time learning-rate shifts LR_SHIFT .. LR_SHIFT + N the hardware "
                        "accepts (default: %(default)s)")
    p.add_argument("--rand-bits", type=int, default=defaults.rand_bits,
                   help="bits of every random draw (default: %(default)s)")
    p.add_argument("--update-fraction", choices=FRACTION_MODES, default=defaults.update_fraction,
                   help="fraction bits of the update's shift: truncate (floor, biased down) or "
                        "round (half up, unbiased; default: %(default)s)")
    p.add_argument("--init-range", type=float, default=None,
                   help="initial weights uniform in [-R, R] (default: "
                        + ", ".join(f"{v} for {k}" for k, v in INIT_RANGES.items()) + ")")
    p.add_argument("--backend", choices=tuple(BACKENDS), default="golden")
    from fewmul.train_rtl import add_arguments as add_rtl_arguments
    add_rtl_arguments(p)
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--plot", metavar="PATH", help="write PNG learning curves")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    from fewmul.results import write_json
    if args.backend == "rtl":                  # RTL in simulation, checked against golden
        from fewmul.train_rtl import run as run_rtl
        return run_rtl(args)
    try:
        cfg = _config(args)
    except ValueError as exc:
        print(f"fewmul train: {exc}")
        return 2
    options = TrainOptions(dataset=args.dataset, epochs=args.epochs, arith=args.arith,
                           float_weights=args.weights == "float", init_range=args.init_range,
                           lr_decay=args.lr_decay)
    try:
        result = train(cfg, options, backend=args.backend, progress=not args.quiet)
    except ValueError as exc:
        print(f"fewmul train: {exc}")
        return 2
    c = result["config"]
    print(f"{c['dataset']} {'-'.join(map(str, c['layers']))} {c['weights']} {c['sampling']} "
          f"{c['arith']} w{c['weight_bits']}: test accuracy {100 * result['test_accuracy']:.2f} % "
          f"(multiplier-free {100 * result['test_accuracy_multiplier_free']:.2f} %), "
          f"{result['samples_per_second']:.0f} samples/s "
          f"({result['samples_per_cpu_second']:.0f} per CPU second)")
    if args.json:
        print(f"wrote {write_json(args.json, result)}")
    if args.plot:
        print(f"wrote {plot(result, args.plot)}")
    return 0


def _demo(out):
    options = TrainOptions(dataset="digits", epochs=3)
    result = train(default_config(), options)
    plot(result, out / "train-digits.png")
    return (f"digits {'-'.join(map(str, result['config']['layers']))}, {options.epochs} epochs: "
            f"test {100 * result['test_accuracy']:.1f} %, multiplier-free "
            f"{100 * result['test_accuracy_multiplier_free']:.1f} %, "
            f"{result['samples_per_cpu_second']:.0f} training samples per CPU second")


DEMO_STEPS = [("train digits (golden)", _demo)]
from fewmul.train_rtl import DEMO_STEPS as _RTL_DEMO_STEPS  # noqa: E402

DEMO_STEPS += _RTL_DEMO_STEPS
