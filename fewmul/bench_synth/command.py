"""``fewmul bench synth``'s command line: arguments, the run, the docs section."""

import sys
from pathlib import Path

from .area import area_breakdown, breakdown_table
from .build import build_point
from .critical_path import critical_paths_table
from .log import PointLog, build_dir_of, format_label, format_of, point_tag
from .plots import plots
from .rows import best_rows, merge_rows
from .search import best_build, sweep
from .settings import COMMAND, DESIGNS, DEVICES, shapes_for
from .tables import per_pe_costs, results_tables

__all__ = ["add_arguments", "invocation", "main", "run", "write_docs"]


def add_arguments(p):
    p.add_argument("--weight-bits", type=int, default=None,
                   help="stored weight width (default: Config's)")
    p.add_argument("--err-bits", type=int, default=None, help="error width (default: Config's)")
    p.add_argument("--err-frac", type=int, default=None,
                   help="error fraction bits (default: Config's, at most err_bits - 2)")
    p.add_argument("--devices", default=",".join(DEVICES),
                   help=f"comma-separated devices (default {','.join(DEVICES)})")
    p.add_argument("--designs", default=",".join(DESIGNS),
                   help=f"comma-separated designs (default {','.join(DESIGNS)})")
    p.add_argument("--router", choices=("router1", "router2"), default=None,
                   help="nextpnr router (default: nextpnr's, router1); recorded in each point, "
                        "not in its key")
    p.add_argument("--seeds", type=int, default=3,
                   help="nextpnr seeds at the largest passing configuration (default 3)")
    p.add_argument("--quick", action="store_true", help="two small points per device, 1 seed")
    p.add_argument("--out", default="build/bench-synth", help="build directories and log")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write the best build of each design per device")
    p.add_argument("--no-docs", action="store_true",
                   help="do not rewrite docs/results.md and docs/img/")
    p.add_argument("--points", default=None, metavar="DEVICE/DESIGN/RxC,...",
                   help="build exactly these points (seeds 1..--seeds) into the log, then report")
    p.add_argument("--breakdown", default=",".join(DEVICES), metavar="DEVICES",
                   help="devices whose best fewmul build gets a per-module area table "
                        "(Yosys again, minutes on a big ECP5 array; '' for none)")
    p.add_argument("--section", default="bench-synth", metavar="NAME",
                   help="the docs/results.md section to write (default bench-synth; another name "
                        "keeps that section when the log holds only some designs)")
    p.add_argument("--rows-json", default="docs/results/synth.json", metavar="PATH",
                   help="merge the best configurations into this JSON list (with the docs; "
                        "default docs/results/synth.json)")
    p.add_argument("--note", default="", help="a paragraph appended to the docs section")
    p.add_argument("--title", default=None,
                   help="the docs section's title (default: the sweep's, with the section name "
                        "when it is not bench-synth)")
    p.add_argument("--note-file", default=None, metavar="PATH",
                   help="append this file's text to the docs section (after --note)")
    p.add_argument("--report-only", action="store_true",
                   help="build nothing: report from the builds already logged in --out")


def main(args, command=None):
    """Entry point of ``fewmul bench synth`` (``command`` reproduces it in docs/results.md)."""
    return run(args, command)


def invocation(argv=None):
    """The ``fewmul bench synth ...`` command line this process runs (what docs/results.md
    shows above the section), or :data:`COMMAND` when not run from the ``fewmul`` CLI."""
    import shlex
    argv = sys.argv if argv is None else argv
    if not argv or Path(argv[0]).name != "fewmul" or argv[1:3] != ["bench", "synth"]:
        return COMMAND
    return " ".join(["fewmul", *(shlex.quote(a) for a in argv[1:])])


def run(args, command=None):
    from fewmul.boards.designs import array_config, format_fields, format_tag
    from fewmul.results import write_json

    devices = [d for d in args.devices.split(",") if d]
    designs = [d for d in args.designs.split(",") if d]
    for device in devices:
        if device not in DEVICES:
            print(f"fewmul bench synth: unknown device {device!r}; choose from "
                  f"{', '.join(DEVICES)}", file=sys.stderr)
            return 2
    try:
        fmt = format_fields(weight_bits=args.weight_bits, err_bits=args.err_bits,
                            err_frac=args.err_frac)
        tag = format_tag(array_config(1, 1, **fmt))
    except ValueError as exc:
        print(f"fewmul bench synth: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    log = PointLog(out / ("points-quick.jsonl" if args.quick else "points.jsonl"),
               offline=args.report_only)
    seeds = 1 if args.quick else args.seeds
    if args.points:
        for point in args.points.split(","):
            device, design, shape = point.split("/")
            rows, cols = (int(n) for n in shape.split("x"))
            if device not in DEVICES or design not in DESIGNS:
                print(f"fewmul bench synth: bad point {point!r}", file=sys.stderr)
                return 2
            for seed in range(1, seeds + 1):
                build_point(device, design, rows, cols, seed, out, log, fmt=fmt,
                            router=args.router)
        log.offline = True                     # report from the log, like --report-only
    if not log.offline:
        for device in devices:
            for design in designs:
                shapes = shapes_for(device, design, args.quick)
                print(f"== {device} {format_label(tag)} {design}", flush=True)
                sweep(device, design, shapes, seeds=seeds, out=out, log=log, fmt=fmt,
                      router=args.router)
    # The report: every format logged for these devices (the one swept first), from the log.
    log.offline = True
    best = {}
    for device in devices:
        tags = [tag] + sorted({point_tag(p) for p in log.points.values()
                               if p.get("device") == device} - {tag})
        for t in tags:
            t_fmt = fmt if t == tag else format_of(log, device, t)
            if t_fmt is None:
                continue
            best[device, t] = {}
            for design in designs:
                shapes = shapes_for(device, design, args.quick)
                shape, builds = sweep(device, design, shapes, seeds=seeds, out=out, log=log,
                                      fmt=t_fmt)
                best[device, t][design] = best_build(builds) if shape else None
    if args.json:
        write_json(args.json, {(f"{d}/{t}" if t else d): b for (d, t), b in best.items()})
        print(f"wrote {args.json}")
    summary, table = results_tables(log, best)
    print(summary)
    if not args.no_docs and not args.quick:
        write_docs(args, log, best, out, summary, table, command or invocation())
    return 0


def write_docs(args, log, best, out, summary, table, command):
    """The ``bench-synth`` section of docs/results.md and its plots, from the log and the best
    builds ``{(device, format tag): {design: build or None}}``."""
    from fewmul.results import RESULTS, update_section

    prefix = "synth" if args.section == "bench-synth" else args.section.replace("-", "_")
    paths = plots(log, RESULTS.parent / "img", prefix)
    images = "\n".join(f"![{p.stem}](img/{p.name})" for p in paths)
    areas = []
    for (device, t), designs_best in best.items():
        b = designs_best.get("fewmul")
        if b is None or device not in args.breakdown.split(","):
            continue
        family = "ice40" if device.startswith("ice40") else "ecp5"
        try:
            table_area = breakdown_table(area_breakdown(build_dir_of(b, out), family))
        except Exception as exc:                       # the sweep's numbers still count
            table_area = f"(breakdown failed: {exc})"
        areas.append(f"Where the area of the fewmul {b['rows']} x {b['cols']} array "
                     f"({format_label(t)}) on {device} goes (Yosys, hierarchy kept; the "
                     f"flat build differs slightly):\n\n{table_area}\n")
    formats = "; ".join(f"`{format_label(t)}`" + (" (Config's defaults)" if not t else "")
                        for t in sorted({t for _, t in best}))
    body = (f"Best configuration of each design and number format: of the builds that fit "
            f"the chip and meet the array clock (iCE40UP5K: "
            f"{DEVICES['ice40up5k']['clock_mhz']} MHz, ECP5-85F: "
            f"{DEVICES['ecp5-85f']['clock_mhz']} MHz), the one with the highest peak MAC/s "
            f"(PEs x seed-1 Fmax); Fmax over the nextpnr seeds built for it. Formats: "
            f"`W<w> E<e>.<f>` = <w>-bit weights, "
            f"<e>-bit errors with <f> fraction bits, 8-bit activations "
            f"(`--weight-bits`, `--err-bits`, `--err-frac`): {formats}.\n\n"
            f"{summary}\n\nEvery build of the sweep (nextpnr seed 1; the design sits in "
            f"the board top: PLL, status LEDs and a registered harness that feeds every "
            f"command bit from a shift chain and folds every result bit):\n\n{table}\n\n"
            f"Marginal cost of a PE (slope between the two largest builds of a series; it "
            f"carries the share of adder trees and column units that the added rows or "
            f"columns bring):\n\n{per_pe_costs(log)}\n\nWhat sets Fmax: the "
            f"critical path of each best build (nextpnr; the design signals it passes "
            f"through, `pe_i_j.x` is the column's issue register seen at a PE's "
            f"port):\n\n{critical_paths_table(best, out)}\n\n"
            + "\n".join(areas) + f"\n{images}\n"
            + "".join(f"\n{text}\n" for text in _notes(args)))
    title = getattr(args, "title", None)
    if not title:
        title = "Synthesis: training PEs per chip (fewmul vs multiplier baseline)"
        if args.section != "bench-synth":
            title += f" ({args.section})"
    update_section(args.section, title, command, body)
    print(f"updated {RESULTS}")
    merge_rows(args.rows_json, best_rows(best))
    print(f"updated {args.rows_json}")


def _notes(args):
    """The paragraphs ``--note`` and ``--note-file`` append to the docs section."""
    notes = [args.note] if args.note else []
    if getattr(args, "note_file", None):
        notes.append(Path(args.note_file).read_text().strip())
    return notes

