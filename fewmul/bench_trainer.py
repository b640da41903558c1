"""The whole trainer on each board: samples/s from on-chip data, against its roofline and a CPU.

For each point (a board, a network, a tile size ``K``), ``fewmul bench trainer``:

1. builds the whole trainer (UART, link, engine, the digits training set on chip) for the board
   with YoWASP Yosys + nextpnr and reads the post-route Fmax and the utilization;
2. trains ``--samples`` digits samples from on-chip data in Verilator (DATA, then EPOCH
   commands, ``fewmul.sim.tb_engine.epoch_bit_exact``), bit-exact with the golden model in the
   same order, and takes the clock cycles per sample from the EPOCH answers;
3. computes samples/s = one epoch's samples over its time: the cycles at the achieved Fmax, plus
   the link's per-epoch traffic (LR and EPOCH frames and their answers) at the baud rate; and the
   one-time upload of the data set at 115200 baud and at 3 Mbaud;
4. puts beside it the roofline of ``fewmul.hw.roofline`` (the chip's bound and the bound of this
   engine's shape) and, measured in the same run, the golden model's bit-exact samples per CPU
   second on one core for the same network.

Rows go to ``docs/results/trainer.json`` (keys of :data:`ROW_KEYS`), a table to
``docs/results.md`` and a plot to ``docs/img/trainer_roofline.png``. Timings are
measurements, never pass/fail.
"""

import json
import math
import time
from pathlib import Path

import numpy as np

from .protocol import DATA_HEADER_BYTES, DEFAULT_MAX_PAYLOAD, data_records_per_frame
from .training import default_config

__all__ = ["POINTS", "ROW_KEYS", "add_arguments", "run", "measure", "link_seconds",
           "upload_seconds", "golden_cpu_rate", "simulate_epoch", "make_row", "markdown", "plot",
           "chip_roofline"]

#: (board, network, K, extra Config fields) measured by default.
POINTS = (
    ("ulx3s-85f", (64, 64, 10), 8, {}),
    ("ulx3s-85f", (64, 256, 10), 8, {}),
    ("icebreaker", (64, 64, 10), 2, {"weight_bits": 8, "err_bits": 12, "err_frac": 8,
                                     "lr_shift": 3}),
)
#: The keys every row of ``docs/results/trainer.json`` has.
ROW_KEYS = ("board", "network", "lanes", "fits", "clock_mhz", "fmax_mhz", "cycles_per_sample",
            "samples_per_s", "roofline_cycles", "roofline_samples_per_s",
            "shape_roofline_cycles", "fraction_of_roofline", "bit_exact",
            "golden_cpu_samples_per_s", "upload_s_115200", "upload_s_3000000", "utilization")
#: The digits training set (80 % of 1797).
DIGITS_TRAIN = 1437
BAUDS = (115_200, 3_000_000)
BYTE_BITS = 10                                      # 8N1


def _frame(payload):
    return 6 + payload                              # SYNC, opcode, length, CRC


def upload_seconds(cfg, samples, baud, max_payload=DEFAULT_MAX_PAYLOAD):
    """Time of the DATA frames of ``samples`` samples and their answers at ``baud``."""
    frames = math.ceil(samples / data_records_per_frame(cfg.layers[0], max_payload))
    wire = frames * (_frame(DATA_HEADER_BYTES) + _frame(0)) + samples * (1 + cfg.layers[0])
    return wire * BYTE_BITS / baud


def link_seconds(cfg, baud):
    """The link's time per epoch: LR and EPOCH requests and their answers."""
    wire = _frame(1) + _frame(0) + _frame(8) + _frame(8 + 4 * cfg.n_layers)
    return wire * BYTE_BITS / baud


def golden_cpu_rate(cfg, steps=2000, seed=1):
    """Bit-exact golden training samples per CPU second on one core, digits, this network."""
    from threadpoolctl import threadpool_limits

    from .golden import data as datasets
    from .golden.mlp import init_network, train_epoch
    from .golden.rng import StreamSet
    ds = datasets.load("digits", cfg)
    net, streams = init_network(cfg), StreamSet(seed)
    idx = np.arange(steps) % len(ds.y_train)
    with threadpool_limits(limits=1):
        train_epoch(net, ds.x_train[idx[:200]], ds.y_train[idx[:200]], streams, cfg)
        cpu = time.process_time()
        train_epoch(net, ds.x_train[idx], ds.y_train[idx], streams, cfg)
        return steps / (time.process_time() - cpu)


def simulate_epoch(cfg, samples, build_dir, simulator="verilator"):
    """Train ``samples`` digits samples from on-chip data in ``simulator``, bit-exact with the
    golden model; returns the testbench's report (``epochs``: cycles and count of each;
    ``mismatches``: what differed, the row is then not bit-exact)."""
    from .hw.engine import EngineSystem
    from .sim.runner import SimulationFailed, run_testbench
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    result_json = build_dir / "result.json"
    result_json.unlink(missing_ok=True)
    params = dict(cfg=cfg.as_dict(), data="digits", samples=samples, check_every=0, seed=1,
                  result_json=str(result_json), data_capacity=samples)
    try:
        run_testbench(EngineSystem(cfg, data_capacity=samples), toplevel="engine_system",
                      test_module="fewmul.sim.tb_engine", simulator=simulator,
                      build_dir=build_dir, params=params, testcase="epoch_bit_exact",
                      extra_env={"COCOTB_LOG_LEVEL": "WARNING"})
    except SimulationFailed:
        if not result_json.exists():        # no report: not a mismatch but a broken run
            raise
    return json.loads(result_json.read_text())


def make_row(board, cfg, build, sim, golden_rate, roof, shape_roof, baud=3_000_000):
    """One row of ``docs/results/trainer.json`` from its measurements."""
    epochs = sim["epochs"] if sim else []
    cycles = (sum(e["cycles"] for e in epochs) / sum(e["count"] for e in epochs)
              if epochs else None)
    fmax = build.get("fmax_mhz") if build else None
    rate = None
    if cycles and fmax:
        epoch_s = DIGITS_TRAIN * cycles / (fmax * 1e6) + link_seconds(cfg, baud)
        rate = DIGITS_TRAIN / epoch_s
    roof_rate = roof.samples_per_s(fmax * 1e6) if (roof and fmax) else None
    return {
        "board": board,
        "network": "-".join(map(str, cfg.layers)),
        "lanes": cfg.array_rows,
        "fits": bool(build and build.get("fits", True) and fmax),
        "clock_mhz": build.get("constraint_mhz") if build else None,
        "fmax_mhz": fmax,
        "seed": build.get("seed") if build else None,
        "fmax_seeds_mhz": (build or {}).get("fmax_seeds_mhz", []),
        "meets_clock": bool(build and build.get("meets_timing")),
        "cycles_per_sample": round(cycles, 1) if cycles else None,
        "samples_per_s": round(rate) if rate else None,
        "roofline_cycles": roof.cycles if roof else None,
        "roofline_binds": roof.binds if roof else None,
        "roofline_samples_per_s": round(roof_rate) if roof_rate else None,
        "shape_roofline_cycles": shape_roof.cycles if shape_roof else None,
        "fraction_of_roofline": (round(roof.cycles / cycles, 3)
                                 if (roof and cycles) else None),
        "bit_exact": bool(sim) and not sim.get("mismatches"),
        "mismatches": (sim or {}).get("mismatches", [])[:5],
        "golden_cpu_samples_per_s": round(golden_rate) if golden_rate else None,
        "speedup_vs_golden_cpu": (round(rate / golden_rate, 1)
                                  if (rate and golden_rate) else None),
        "upload_s_115200": round(upload_seconds(cfg, DIGITS_TRAIN, 115_200), 3),
        "upload_s_3000000": round(upload_seconds(cfg, DIGITS_TRAIN, 3_000_000), 3),
        "tuned_run_s": (round(60 * DIGITS_TRAIN / rate, 2) if rate else None),
        "utilization": (build or {}).get("utilization"),
        "resources": _resources(build),
        "build_error": (build or {}).get("error"),
        "config": cfg.as_dict(),
    }


def add_arguments(p):
    p.add_argument("--points", default=None,
                   help="board/network/K,... e.g. ulx3s-85f/64-256-10/8 (default: "
                        + ", ".join(f"{b}/{'-'.join(map(str, n))}/{k}" for b, n, k, _ in POINTS)
                        + ")")
    p.add_argument("--samples", type=int, default=64,
                   help="digits samples trained bit-exact in Verilator per point")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--seeds", type=int, default=1,
                   help="build nextpnr seeds 1..SEEDS per point and report the median-Fmax "
                        "build, every seed's Fmax beside it (overrides --seed)")
    p.add_argument("--no-build", action="store_true",
                   help="reuse each point's build report (build/bench-trainer/...)")
    p.add_argument("--out", default="build/bench-trainer", help="build directory")
    p.add_argument("--json", default="docs/results/trainer.json", help="rows written here")
    p.add_argument("--no-results", action="store_true", help="do not rewrite docs/results.md")
    p.add_argument("--from-json", metavar="PATH", default=None,
                   help="re-render the table and the plot from rows written earlier (no build, "
                        "no simulation)")
    p.add_argument("--plot", default="docs/img/trainer_roofline.png", help="the plot's path")


def plot(rows, path):
    """Samples/s of each row that fits beside its bounds at the same Fmax (the chip's roofline,
    the tile shape's) and the golden model on one CPU core; log scale. Returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["fits"] and r["samples_per_s"]]
    series = [("chip roofline", lambda r: r["roofline_samples_per_s"], "#bbbbbb"),
              ("this tile's bound", lambda r: r["fmax_mhz"] * 1e6 / r["shape_roofline_cycles"],
               "#88aadd"),
              ("trainer, measured", lambda r: r["samples_per_s"], "#2255aa"),
              ("golden model, 1 CPU core", lambda r: r["golden_cpu_samples_per_s"], "#cc6633")]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    width = 0.8 / len(series)
    for i, (label, value, color) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(rows))]
        ax.bar(xs, [value(r) for r in rows], width, label=label, color=color)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{r['board']}\n{r['network']}, K={r['lanes']}\n{r['fmax_mhz']:.1f} MHz"
                        for r in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("training samples / s (digits, data on chip)")
    ax.grid(True, axis="y", which="both", lw=0.3)
    ax.legend(fontsize=8)
    from .results import save_figure
    return save_figure(fig, path)


def _points(spec):
    if not spec:
        return POINTS
    out = []
    defaults = {(b, n, k): f for b, n, k, f in POINTS}
    for item in spec.split(","):
        try:
            board, network, lanes = item.split("/")
            layers, lanes = tuple(int(v) for v in network.split("-")), int(lanes)
        except ValueError:
            raise ValueError(f"--points wants board/network/K, e.g. ulx3s-85f/64-64-10/8, "
                             f"not {item!r}") from None
        out.append((board, layers, lanes, defaults.get((board, layers, lanes), {})))
    return tuple(out)


def _build(board_name, cfg, out, seed, reuse):
    """The board's build report of the trainer (``{"fits": False, "error": ...}`` if the fit
    estimate refuses it or the build fails). ``reuse``: the report written earlier, and never a
    build (a build still running into the directory would be restarted under it)."""
    from .boards.designs import make_design
    from .boards.fit import DoesNotFit, check_fit
    from .boards.synth import SynthesisFailed, board, build_design
    report_path = Path(out) / "report.json"
    if reuse:
        if not report_path.exists():
            raise FileNotFoundError(f"--no-build: no build report at {report_path}; build it "
                                    f"first (this command without --no-build)")
        return json.loads(report_path.read_text())
    try:                                 # the fit estimate first, as fewmul build does
        check_fit(board(board_name), "system", cfg,
                  make_design("system", cfg, data_capacity=DIGITS_TRAIN))
        report = build_design(board_name, "system", cfg, build_dir=out, seed=seed,
                              data_capacity=DIGITS_TRAIN, baud=BAUDS[-1])
    except DoesNotFit as exc:
        report = {"fits": False, "error": str(exc)}
    except SynthesisFailed as exc:
        report = {"fits": False, "error": str(exc).splitlines()[0]}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2))
    return report


#: The utilization figures a row keeps (nextpnr's cell names), by family.
RESOURCES = ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "ICESTORM_LC",
             "ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP")


def _resources(build):
    util = (build or {}).get("utilization") or {}
    return {name: [util[name]["used"], util[name]["available"]]
            for name in RESOURCES if name in util}


def markdown(rows):
    """The table of ``docs/results.md`` for ``rows``."""
    def f(value, spec=",.0f"):
        return "-" if value is None else format(value, spec)
    lines = ["| board | network | K | fits | Fmax (clock) MHz | cycles / sample | samples/s | "
             "roofline: chip / this shape (cycles) | of the chip's roofline | bit-exact | "
             "golden, 1 CPU core | upload 115200 / 3M baud | resources |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        res = ", ".join(f"{name} {used}/{avail}" for name, (used, avail) in
                        r["resources"].items() if used)
        lines.append(
            f"| {r['board']} | {r['network']} | {r['lanes']} | {'yes' if r['fits'] else 'no'} | "
            f"{f(r['fmax_mhz'], '.1f')} ({f(r['clock_mhz'], '.0f')}){_seed_note(r)} | "
            f"{f(r['cycles_per_sample'], '.0f')} | {f(r['samples_per_s'])} | "
            f"{f(r['roofline_cycles'])} / {f(r['shape_roofline_cycles'])} "
            f"({r['roofline_binds']}) | {f(r['fraction_of_roofline'], '.0%')} | "
            f"{'yes' if r['bit_exact'] else 'NO'} | {f(r['golden_cpu_samples_per_s'])} | "
            f"{r['upload_s_115200']:.1f} s / {r['upload_s_3000000']:.2f} s | {res} |")
    lines += ["", "samples/s: one epoch of the digits training set (1,437 samples) from on-chip "
              "data at the achieved Fmax (with several nextpnr seeds, the median-Fmax build's, "
              "every seed's beside it), plus its LR and EPOCH frames at 3 Mbaud; the upload "
              "(once) is beside it. Cycles per sample: the EPOCH answers' cycles in Verilator, "
              "every answer and weight compared with the golden model in the same order (the "
              "bit-exact column; what differed is in the JSON). Roofline: "
              "`fewmul.hw.roofline` for the whole chip, and for this engine's K x K tile "
              "(`pes=(K, K)`)."]
    return "\n".join(lines)


def _seed_note(row):
    """``; seeds 1 / 2 / 3: a / b / c`` when the row was built with several nextpnr seeds."""
    seeds = [(seed, mhz) for seed, mhz in row.get("fmax_seeds_mhz", []) if mhz]
    if len(seeds) < 2:
        return ""
    return (f"; seeds {' / '.join(str(seed) for seed, _ in seeds)}: "
            f"{' / '.join(f'{mhz:.1f}' for _, mhz in seeds)}")


def _command(args):
    parts = ["fewmul bench trainer"]
    if args.points:
        parts.append(f"--points {args.points}")
    if getattr(args, "seeds", 1) != 1:
        parts.append(f"--seeds {args.seeds}")
    elif getattr(args, "seed", 1) != 1:
        parts.append(f"--seed {args.seed}")
    if args.samples != 64:
        parts.append(f"--samples {args.samples}")
    if args.no_build:
        parts.append("--no-build")
    return " ".join(parts)


def run(args):
    from .results import write_json
    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
    else:
        rows = measure(args)
        write_json(args.json, rows)
    if not args.no_results:
        _publish(rows, args)
    return 0


def _publish(rows, args):
    from .results import update_section
    table = markdown(rows)
    print(table)
    image = plot(rows, args.plot)
    figure = f"\n\n![samples/s against the roofline]({Path(image).relative_to('docs')})" \
        if Path(image).parts[0] == "docs" else ""
    # the command that measured the rows (a re-render shows it, not itself)
    command = rows[0].get("command") if rows else None
    if not command:
        command = "fewmul bench trainer --points " + ",".join(
            f"{r['board']}/{r['network']}/{r['lanes']}" for r in rows)
    path = update_section("bench-trainer", "The whole trainer on a board", command,
                          table + figure)
    print(f"wrote {path} and {image}")


def measure(args):
    """Build, simulate and measure every point of ``args.points``: the rows."""
    from .hw.engine import hidden_draws_per_cycle
    from .hw.roofline import Assumptions, roofline
    rows = []
    for board_name, layers, lanes, fields in _points(args.points):
        cfg = default_config().replace(layers=layers, array_rows=lanes, array_cols=lanes,
                                       **fields)
        tag = f"{board_name}-{'-'.join(map(str, layers))}-k{lanes}"
        builds = []
        for seed in _seeds(args):
            builds.append(_build(board_name, cfg, Path(args.out) / tag /
                                 ("" if seed == 1 else f"seed{seed}"), seed, args.no_build))
            if not builds[-1].get("fits", True):   # refused or failed: no seed will place it
                break
        build = median_build(builds)
        sim = simulate_epoch(cfg, args.samples, Path(args.out) / tag / "sim")
        golden = golden_cpu_rate(cfg)
        chip = _chip(board_name)
        roof = chip_roofline(cfg, chip)
        shape = roofline(cfg, chip, pes=(lanes, lanes),
                         assume=Assumptions(draws_per_cycle=hidden_draws_per_cycle(cfg)))
        row = make_row(board_name, cfg, build, sim, golden, roof, shape)
        row["command"] = _command(args)
        rows.append(row)
        print(json.dumps({k: row[k] for k in ROW_KEYS if k != "utilization"}))
    return rows


def _seeds(args):
    return [args.seed] if args.seeds == 1 else list(range(1, args.seeds + 1))


def median_build(builds):
    """The build of median Fmax of one point's nextpnr seeds (a real build: its bitstream is
    the one the row's figures are for), with every seed's Fmax in ``fmax_seeds_mhz``
    (``[[seed, MHz or None], ...]``). The first build if none fits."""
    fitted = sorted((b for b in builds if b.get("fmax_mhz")), key=lambda b: b["fmax_mhz"])
    chosen = dict(fitted[(len(fitted) - 1) // 2] if fitted else builds[0])
    chosen["fmax_seeds_mhz"] = [[b.get("seed"), b.get("fmax_mhz")] for b in builds]
    return chosen


def chip_roofline(cfg, chip, **assume):
    """The chip's roofline, with as many draws a cycle as keep the random numbers from binding:
    the draw rate is this engine's choice (``hidden_draws_per_cycle``, a few LUTs a draw), not a
    limit of the chip, so it must not lower the bound the trainer is measured against.
    ``assume``: further :class:`fewmul.hw.roofline.Assumptions` fields."""
    from .hw.roofline import Assumptions, roofline
    per_cycle = 1
    while True:
        roof = roofline(cfg, chip, assume=Assumptions(draws_per_cycle=per_cycle, **assume))
        if roof.binds != "rng":
            return roof
        per_cycle += 1


def _chip(board_name):
    from .boards.synth import board
    return board(board_name).device
