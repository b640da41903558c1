"""``fewmul train``: parse the command line, run :func:`fewmul.training.train`, report.

The loop, its defaults and its backends live in :mod:`fewmul.training`; this module only turns
arguments into a :class:`~fewmul.config.Config`, :class:`~fewmul.training.TrainOptions` and the
backend's settings, then prints, writes the JSON and the plot.
"""

import argparse
import sys
from pathlib import Path

from fewmul.config import ACTIVATIONS, FRACTION_MODES, QUANTIZER_MODES, SAMPLING_MODES
from fewmul.training import (
    BACKENDS,
    DEFAULTS,
    INIT_RANGES,
    ORDERS,
    TrainingMismatch,
    TrainOptions,
    default_config,
    plot,
    schedule_lr_range,
    summary_line,
    train,
)

__all__ = ["add_parser", "run", "config_from_args", "options_from_args", "DEMO_STEPS"]

DESCRIPTION = """\
Train an MLP on a bundled data set (scikit-learn's digits, iris, wine, breast_cancer; split 80/20
stratified, random_state 0) with binary or ternary connect and quantized back-propagation, on
the bit-exact golden model (default), the simulated RTL (--backend rtl) or a board on a serial
port (--backend board); rtl and board are checked against golden, weight by weight. Writes the
results as JSON and learning curves as PNG (into --out unless --json / --plot say otherwise).
The learning rate is 2^-LR_SHIFT for the first --lr-decay epochs, then halves every --lr-decay
epochs; the hardware's run-time range (--lr-range) is sized from that schedule unless given.
"""

EPILOG = """\
examples:
  fewmul train                                        # digits, 60 epochs, golden model
  fewmul train --backend rtl --epochs 1 --samples 200 # 200 samples on Verilator, checked
  # a ULX3S-85F built with --design system --data-capacity 1437 --baud 3000000:
  fewmul train --backend board --board ulx3s-85f --port /dev/ttyUSB0 --baud 3000000 \
--program --order keyed
"""

#: Options that only some backends use (refused on the others instead of being ignored).
BACKEND_OPTIONS = {"simulator": ("rtl",), "check_every": ("rtl", "board"),
                   **{name: ("board",) for name in ("port", "baud", "timeout", "board", "program",
                                                     "bitstream", "rows", "cols")}}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Every option's default in the help (unless its help names it or it has none); the
    description and the examples as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("(default" in text or action.default in (None, False, argparse.SUPPRESS)
                or not action.option_strings):
            return text
        default = action.default
        if isinstance(default, list):
            default = " ".join(map(str, default))
        return f"{text} (default: {default})".strip()


def add_parser(sub):
    from fewmul.golden import data as datasets
    defaults = default_config()
    p = sub.add_parser("train", help="train an MLP (golden model, simulated RTL or a board)",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    p.add_argument("--dataset", choices=datasets.DATASETS, default=DEFAULTS["dataset"],
                   help="scikit-learn's bundled data set")
    p.add_argument("--hidden", type=int, nargs="+", default=list(DEFAULTS["hidden"]),
                   metavar="N", help="hidden layer sizes")
    p.add_argument("--weights", choices=("binary", "ternary", "float"), default=defaults.weights,
                   help="sampled weights, or float: plain SGD baseline (implies --arith float)")
    p.add_argument("--sampling", choices=SAMPLING_MODES, default=defaults.sampling,
                   help="weight signs in training")
    p.add_argument("--quantizer", choices=QUANTIZER_MODES, default=defaults.quantizer,
                   help="rounding of layer inputs to powers of two")
    p.add_argument("--activation", choices=ACTIVATIONS, default=defaults.activation,
                   help="hidden activation: relu clip(z, 0, 1) or hard tanh clip(z, -1, 1)")
    p.add_argument("--arith", choices=("fixed", "float"), default="fixed",
                   help="fixed: bit-exact integer datapath; float: the paper's rule in float64")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                   help="passes over the training set")
    p.add_argument("--order", choices=ORDERS, default="host",
                   help="sample order of each epoch: host (numpy permutations) or keyed (the "
                        "order the chip generates; the board backend then uploads the data set "
                        "once with DATA and trains each epoch with one EPOCH; default host)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="train only the first N samples of each epoch (default: all)")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="seed of the initial weights, the random streams and the sample order")
    p.add_argument("--weight-bits", type=int, default=defaults.weight_bits,
                   help="stored weight width (range [-1, 1))")
    p.add_argument("--lr-shift", type=int, default=DEFAULTS["lr_shift"],
                   help="first epoch's learning rate 2^-LR_SHIFT")
    p.add_argument("--lr-decay", type=int, default=DEFAULTS["lr_decay"], metavar="EPOCHS",
                   help="halve the learning rate every EPOCHS epochs (0: constant)")
    p.add_argument("--settle-epochs", type=int, default=0, metavar="N",
                   help="the settling phase: the last N epochs train with deterministic signs, "
                        "the signs the chip predicts with (multiplier-free rule; "
                        "docs/results.md, 'settling'); 10 with --settle-shift 2 is the tuned one")
    p.add_argument("--settle-shift", type=int, default=0, metavar="S",
                   help="the settling epochs' learning rate is 2^S lower than the schedule's")
    p.add_argument("--lr-range", type=int, default=None, metavar="N",
                   help="run-time learning-rate shifts LR_SHIFT .. LR_SHIFT + N the hardware "
                        "accepts (default: what the schedule needs, (EPOCHS - 1) // LR_DECAY "
                        "+ SETTLE_SHIFT, "
                        f"at least {defaults.lr_range})")
    p.add_argument("--rand-bits", type=int, default=defaults.rand_bits,
                   help="bits of every random draw")
    p.add_argument("--update-fraction", choices=FRACTION_MODES, default=defaults.update_fraction,
                   help="fraction bits of the update's shift: truncate (floor, biased down) or "
                        "round (half up, unbiased)")
    p.add_argument("--init-range", type=float, default=None,
                   help="initial weights uniform in [-R, R] (default: "
                        + ", ".join(f"{v} for {k}" for k, v in INIT_RANGES.items()) + ")")
    p.add_argument("--backend", choices=tuple(BACKENDS), default="golden",
                   help="golden: numpy model; rtl: the engine simulated; board: a serial port")
    rtl = p.add_argument_group("rtl and board backends")
    rtl.add_argument("--check-every", type=int, default=None, metavar="N",
                     help="compare every weight with golden every N samples, and at the end of "
                          "every epoch (default: rtl 100, board 0 = end of epoch only)")
    rtl.add_argument("--simulator", choices=("icarus", "verilator"), default=None,
                     help="rtl backend: HDL simulator (default: verilator)")
    board = p.add_argument_group("board backend")
    board.add_argument("--port", default=None,
                       help="the board's serial port (e.g. /dev/ttyUSB1, or the /dev/pts/N "
                            "that `fewmul board sim` prints)")
    board.add_argument("--baud", type=int, default=None,
                       help="baud rate of the board's UART (default: 115200, the board tops')")
    board.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="how long to wait for each answer (default: 2, or 30 on a "
                            "pseudo-terminal /dev/pts/N: a simulated board is slower)")
    board.add_argument("--board", default=None, metavar="NAME",
                       help="the board (for --program)")
    board.add_argument("--program", action="store_true",
                       help="load the board's system bitstream with openFPGALoader first")
    board.add_argument("--bitstream", default=None, metavar="PATH",
                       help="the bitstream --program loads (default: the one `fewmul build "
                            "--board NAME --design system` wrote for this array)")
    board.add_argument("--rows", type=int, default=None,
                       help="array rows of the bitstream --program looks for (default: the "
                            "board's)")
    board.add_argument("--cols", type=int, default=None,
                       help="array columns of the bitstream --program looks for")
    out = p.add_argument_group("output")
    out.add_argument("--out", default="results", metavar="DIR",
                     help="folder of the JSON and the plot (train-<dataset>-<backend>.json/png)")
    out.add_argument("--json", metavar="PATH", default=None,
                     help="write the JSON here instead (default: in --out)")
    out.add_argument("--plot", metavar="PATH", default=None,
                     help="write the PNG learning curves here instead (default: in --out)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def options_from_args(args):
    """The :class:`~fewmul.training.TrainOptions` of parsed ``fewmul train`` arguments."""
    return TrainOptions(dataset=args.dataset, epochs=args.epochs, arith=args.arith,
                        float_weights=args.weights == "float", init_range=args.init_range,
                        lr_decay=args.lr_decay, samples=args.samples, order=args.order,
                        settle_epochs=args.settle_epochs, settle_shift=args.settle_shift)


def config_from_args(args, options):
    """The :class:`~fewmul.config.Config` of parsed arguments (``lr_range`` sized from the
    schedule of ``options`` unless given)."""
    defaults = default_config()
    lr_range = args.lr_range
    if lr_range is None:
        lr_range = schedule_lr_range(args.lr_shift, options, minimum=defaults.lr_range)
    changes = dict(layers=(defaults.layers[0], *args.hidden, defaults.layers[-1]),
                   sampling=args.sampling, seed=args.seed, weight_bits=args.weight_bits,
                   lr_shift=args.lr_shift, lr_range=lr_range, rand_bits=args.rand_bits,
                   activation=args.activation, quantizer=args.quantizer,
                   update_fraction=args.update_fraction)
    if args.weights != "float":
        changes["weights"] = args.weights
    return defaults.replace(**changes)


def _check_backend_options(args):
    for name, backends in BACKEND_OPTIONS.items():
        value = getattr(args, name)
        if value not in (None, False) and args.backend not in backends:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to --backend {' / '.join(backends)} only, not "
                             f"--backend {args.backend}")


def _timeout(args):
    if args.timeout is not None:
        return args.timeout
    return 30.0 if args.port.startswith("/dev/pts/") else 2.0


def _settings(args):
    if args.backend == "rtl":
        from fewmul.train_rtl import RtlSettings
        return RtlSettings(simulator=args.simulator or "verilator",
                           check_every=100 if args.check_every is None else args.check_every,
                           quiet=args.quiet)
    if args.backend == "board":
        from fewmul.train_board import DEFAULT_BAUD, BoardSettings
        if args.port is None:
            raise ValueError("--backend board needs --port: the board's serial port (e.g. "
                             "/dev/ttyUSB1)")
        return BoardSettings(port=args.port, baud=args.baud or DEFAULT_BAUD,
                             timeout=_timeout(args),
                             check_every=args.check_every or 0, progress=not args.quiet)
    return None


def _program(args, cfg):
    from fewmul.boards.synth import program, system_bitstream
    if args.board is None:
        raise ValueError("--program needs --board NAME: the board to program")
    bitstream = system_bitstream(args.board, cfg, rows=args.rows, cols=args.cols,
                                 path=args.bitstream)
    argv = program(args.board, bitstream)
    print(f"programmed {args.board}: {' '.join(argv)}")


def run(args):
    from fewmul.results import write_json
    _check_backend_options(args)
    options = options_from_args(args)
    cfg = config_from_args(args, options)
    settings = _settings(args)
    dataset = None
    if args.program:
        from fewmul.golden import data as datasets
        dataset = datasets.load(options.dataset, cfg)
        _program(args, cfg.replace(layers=(dataset.n_features, *cfg.layers[1:-1],
                                           dataset.n_classes)))
    json_path = Path(args.json or Path(args.out) / f"train-{args.dataset}-{args.backend}.json")
    plot_path = Path(args.plot or Path(args.out) / f"train-{args.dataset}-{args.backend}.png")
    try:
        result = train(cfg, options, backend=args.backend, settings=settings,
                       progress=not args.quiet and args.backend != "rtl", dataset=dataset)
    except TrainingMismatch as exc:
        print(f"fewmul train --backend {args.backend}: {exc}", file=sys.stderr)
        print(f"wrote {write_json(json_path, exc.summary)}")
        return 1
    print(summary_line(result))
    if "bit_exact" in result:
        cycles = (f", {result['cycles_per_sample']:.0f} engine cycles/sample"
                  if result.get("cycles_per_sample") else "")
        print(f"{result['samples']} samples bit-exact with golden on {args.backend} "
              f"({result['checks']} full checks of every weight{cycles})")
    print(f"wrote {write_json(json_path, result)}")
    print(f"wrote {plot(result, plot_path)}")
    return 0


def _demo(out):
    options = TrainOptions(dataset="digits", epochs=3)
    result = train(default_config(), options)
    plot(result, out / "train-digits.png")
    return (f"digits {'-'.join(map(str, result['config']['layers']))}, {options.epochs} epochs: "
            f"test {100 * result['test_accuracy']:.1f} %, multiplier-free "
            f"{100 * result['test_accuracy_multiplier_free']:.1f} %, "
            f"{result['samples_per_cpu_second']:.0f} training samples per CPU second")


def _demo_rtl(out):
    """A short bit-exact RTL run: 40 digits samples on a 64-16-10 MLP, 4x4 array, Verilator."""
    from fewmul.config import Config
    from fewmul.train_rtl import RtlSettings, fast_build
    settings = RtlSettings(simulator="verilator", check_every=20, quiet=True,
                           build_dir=str(Path(out) / "train-rtl"))
    cfg = Config(layers=(64, 16, 10), array_rows=4, array_cols=4)
    with fast_build():
        result = train(cfg, TrainOptions(dataset="digits", epochs=1, samples=40), backend="rtl",
                       settings=settings)
    return (f"RTL (Verilator) == golden on {result['samples']} digits samples, "
            f"{result['cycles_per_sample']:.0f} cycles/sample, test accuracy after "
            f"them {100 * result['test_accuracy']:.1f} %, {result['seconds']:.0f} s")


DEMO_STEPS = [("train digits (golden)", _demo), ("train digits (RTL, Verilator)", _demo_rtl)]
