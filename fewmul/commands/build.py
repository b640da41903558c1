"""``fewmul build``: a bitstream of the fewmul array, the multiplier baseline or the whole trainer
for a board.

Checks that the design fits the chip (``fewmul.boards.fit``, before synthesis), builds with YoWASP
Yosys/nextpnr through ``fewmul.boards.synth.build_design``, writes the bitstream and a JSON report
(``build.json`` beside it: board, device, design, PEs, achieved and constrained Fmax of the array
clock, nextpnr utilization, peak MAC/s = PEs x Fmax, bitstream path, Config) and prints a
one-screen summary. ``--program`` loads the bitstream with openFPGALoader when it is installed.
The trainer (``--design system``) is built with ``fewmul train``'s defaults (a 64-256-10 MLP,
``fewmul.training.default_config``) so that ``fewmul train --backend board`` runs on it as is.
"""

import json
from pathlib import Path

__all__ = ["add_parser", "run", "summary", "DEMO_STEPS"]


def add_parser(sub):
    from fewmul.boards.designs import DESIGNS
    from fewmul.boards.synth import BOARDS

    p = sub.add_parser("build", help="build a bitstream of the array for a board",
                       description="Build a bitstream of the fewmul array, the multiplier "
                                   "baseline or the whole trainer for a board, after checking "
                                   "that it fits; writes build.json beside it.")
    p.add_argument("--board", required=True, choices=list(BOARDS), help="target board")
    p.add_argument("--design", default="fewmul", choices=DESIGNS,
                   help="fewmul: the multiplier-free array; baseline: the multiplier array; "
                        "systolic: a systolic MAC array on the chip's DSP blocks (then LUTs); "
                        "system: the whole trainer on the UART (engine + array + host link), "
                        "what `fewmul train --backend board` trains on (default fewmul)")
    defaults = ", ".join(f"{name} {r}x{c}" for name, (r, c) in
                         ((b.name, b.array) for b in BOARDS.values()))
    p.add_argument("--rows", type=int, default=None,
                   help=f"array rows R (outputs; default: the board's, {defaults})")
    p.add_argument("--cols", type=int, default=None,
                   help="array columns C (inputs; default: the board's)")
    p.add_argument("--hidden", type=int, nargs="+", default=None, metavar="N",
                   help="system design: hidden layer sizes of the MLP (default: fewmul train's)")
    p.add_argument("--dataset", default=None,
                   help="system design: the data set whose inputs and classes size the MLP "
                        "(digits, mnist, iris, wine, breast_cancer; default: digits)")
    p.add_argument("--data-capacity", type=int, default=0, metavar="N",
                   help="system design: samples of the on-chip training set (DATA / EPOCH; "
                        "default 0, none)")
    p.add_argument("--baud", type=int, default=None,
                   help="system design: the UART's baud rate (default 115200; 3000000 for "
                        "the iCEBreaker's and ULX3S's USB UARTs at full speed)")
    p.add_argument("--weight-bits", type=int, default=None, help="stored weight width")
    p.add_argument("--act-bits", type=int, default=None, help="activation width")
    p.add_argument("--err-bits", type=int, default=None, help="error width")
    p.add_argument("--err-frac", type=int, default=None, help="error fraction bits")
    p.add_argument("--weights", choices=("binary", "ternary"), default=None,
                   help="weight sampling to {-1,+1} or {-1,0,+1}")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="array clock the PLL makes and nextpnr is held to (default: the board's)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    p.add_argument("--out", default=None, help="build directory (default build/<board>-<design>)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the build report here")
    p.add_argument("--program", action="store_true",
                   help="load the bitstream into the board with openFPGALoader")
    p.set_defaults(func=run)


def _shape(args):
    from fewmul.boards.synth import board
    rows, cols = board(args.board).array
    return (rows if args.rows is None else args.rows), (cols if args.cols is None else args.cols)


def config_from_args(args):
    """The Config of a build: Config's defaults (``system``: ``fewmul train``'s), the array
    shape (default: the board's), the number format and weights given."""
    from fewmul.boards.designs import FORMAT_FIELDS, array_config, format_fields
    fields = format_fields(**{name: getattr(args, name, None) for name in FORMAT_FIELDS})
    if getattr(args, "weights", None) is not None:
        fields["weights"] = args.weights
    rows, cols = _shape(args)
    hidden = getattr(args, "hidden", None)
    dataset = getattr(args, "dataset", None)
    if getattr(args, "design", None) == "system":
        from fewmul.training import default_config
        cfg = default_config()
        inputs, classes = cfg.layers[0], cfg.layers[-1]
        if dataset is not None:
            from fewmul.golden import data as datasets
            ds = datasets.load(dataset, cfg)
            inputs, classes = ds.n_features, ds.n_classes
        fields["layers"] = (inputs, *(cfg.layers[1:-1] if hidden is None else hidden), classes)
        return cfg.replace(array_rows=rows, array_cols=cols, **fields)
    for option, value in (("--hidden", hidden), ("--dataset", dataset),
                          ("--baud", getattr(args, "baud", None)),
                          ("--data-capacity", getattr(args, "data_capacity", 0) or None)):
        if value is not None:
            raise ValueError(f"{option} applies to --design system only")
    return array_config(rows, cols, **fields)


def summary(report):
    """The one-screen text of a build report."""
    used, available = report["logic_cells"]["used"], report["logic_cells"]["available"]
    interesting = [(k, v) for k, v in sorted(report["utilization"].items())
                   if v["used"] and k not in ("SB_GB", "DCCA", "TRELLIS_IO", "SB_IO")]
    lines = [
        f"{report['design']} array {report['rows']}x{report['cols']} = {report['pes']} PEs on "
        f"{report['board']} ({report['device']})",
        f"  Fmax      {report['fmax_mhz']:.1f} MHz achieved, {report['constraint_mhz']:.1f} MHz "
        f"clock: {'meets timing' if report['meets_timing'] else 'FAILS timing'}",
        f"  logic     {used}/{available} ({100 * used / available:.0f} %)",
        *(f"  {k:<9} {v['used']}/{v['available']}" for k, v in interesting
          if k not in ("ICESTORM_LC", "TRELLIS_COMB", "LUT4")),
        f"  peak      {report['peak_macs_per_s'] / 1e9:.2f} GMAC/s (PEs x Fmax)",
        f"  bitstream {report['bitstream']} ({report['seconds']:.0f} s)",
    ]
    return "\n".join(lines)


def run(args):
    from fewmul.boards.designs import make_design
    from fewmul.boards.fit import check_fit
    from fewmul.boards.synth import (
        REPORT,
        board,
        build_design,
        build_dir,
        openfpgaloader,
        program,
    )
    from fewmul.results import write_json

    cfg = config_from_args(args)            # ValueError: one line from fewmul.cli
    if args.program:
        openfpgaloader()                    # ProgrammerMissing before a long build
    rows, cols = _shape(args)
    if args.baud is not None and args.baud <= 0:        # before a design exists
        raise ValueError(f"baud must be a positive integer, not {args.baud}")
    block = make_design(args.design, cfg, data_capacity=args.data_capacity)
    estimate = check_fit(board(args.board), args.design, cfg, block)  # DoesNotFit: before Yosys
    print(f"fit estimate: {estimate.logic} of {estimate.chip.logic} {estimate.chip.logic_name}, "
          f"{estimate.brams} of {estimate.chip.brams} {estimate.chip.bram_name}")
    out = Path(args.out) if args.out else build_dir(args.board, args.design, rows, cols)
    report = build_design(args.board, args.design, cfg, build_dir=out, seed=args.seed,
                          clock_mhz=args.clock_mhz, data_capacity=args.data_capacity,
                          baud=args.baud)
    print(summary(report))
    write_json(out / REPORT, report)
    print(f"  report    {out / REPORT}")
    if args.json:
        write_json(args.json, report)
        print(f"  report    {args.json}")
    if args.program:
        argv = program(args.board, report["bitstream"])
        print(f"  programmed with {' '.join(argv)}")
    return 0


def _bitstream_step(out):
    from fewmul.boards.designs import array_config
    from fewmul.boards.synth import build_design
    report = build_design("icebreaker", "fewmul", array_config(2, 2),
                          build_dir=out / "bitstream-icebreaker")
    (out / "bitstream-icebreaker" / "build.json").write_text(json.dumps(report, indent=2))
    used, available = report["logic_cells"]["used"], report["logic_cells"]["available"]
    return (f"fewmul 2x2 array: {used}/{available} LCs, Fmax {report['fmax_mhz']:.1f} MHz "
            f"(clock {report['constraint_mhz']:.0f}), {Path(report['bitstream']).name} in "
            f"{report['seconds']:.0f} s")


DEMO_STEPS = [("bitstream (iCEBreaker)", _bitstream_step)]
