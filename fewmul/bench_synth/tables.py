"""The markdown tables of the sweep: every build, the best of each design, the marginal cost of
a PE."""

from .log import format_label, point_tag
from .settings import MULTIPLIER_DESIGNS

__all__ = ["KINDS", "results_tables", "per_pe_costs", "seeds_meeting", "dsp_used", "yosys_kinds"]


KINDS = {
    "LUT": ("SB_LUT4", "LUT4"),
    "carry": ("SB_CARRY", "CCU2C"),
    "FF": ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFESR", "SB_DFFR", "SB_DFFER", "SB_DFFS",
           "SB_DFFES", "SB_DFFSS", "SB_DFFESS", "TRELLIS_FF"),
    "DSP": ("SB_MAC16", "MULT18X18D"),
    "RAM": ("SB_RAM40_4K", "SB_SPRAM256KA", "DP16KD", "TRELLIS_DPR16X4"),
}


def seeds_meeting(fmax_seeds, constraint_mhz):
    """`` 1 of 3 seeds meet 75 MHz`` when not every seed of a configuration meets its clock
    (the best is chosen by seed 1, so its median may miss), else ``""``."""
    meeting = fmax_seeds["seeds_meeting"]
    if len(meeting) == len(fmax_seeds["seeds"]):
        return ""
    return (f" {len(meeting)} of {len(fmax_seeds['seeds'])} seeds meet "
            f"{constraint_mhz:.0f} MHz")


def dsp_used(report):
    u = report.get("utilization", {})
    for key in ("MULT18X18D", "ICESTORM_DSP"):
        if key in u:
            return u[key]["used"]
    return 0


def yosys_kinds(report):
    """``{"LUT": n, "carry": n, "FF": n, ...}`` of a build's Yosys cell counts (flat)."""
    cells = report.get("cells", {})
    return {kind: sum(cells.get(t, 0) for t in types) for kind, types in KINDS.items()}


def router_mark(point):
    """`` (router2)`` when the build used nextpnr's router2 (router1 is nextpnr's default)."""
    opts = point.get("nextpnr_opts", [])
    return " (router2)" if "router2" in opts else ""


def point_order(p):
    return (p["device"], point_tag(p), p["design"], p["pes"], p["rows"])


def results_tables(log, best):
    rows = ["| device | format | design | R x C | PEs | logic cells | LUT4 / carry / FF (Yosys) "
            "| DSP | Fmax MHz (seed 1) | clock MHz | fits + timing | peak GMAC/s |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    points = sorted((p for p in log.points.values() if p["seed"] == 1), key=point_order)
    for p in points:
        fmt = format_label(point_tag(p))
        if p.get("fits"):
            used, available = p["logic_cells"]["used"], p["logic_cells"]["available"]
            y = yosys_kinds(p)
            rows.append(
                f"| {p['device']} | {fmt} | {p['design']} | {p['rows']} x {p['cols']} | "
                f"{p['pes']} | {used} / {available} ({100 * used / available:.0f} %) | "
                f"{y['LUT']} / {y['carry']} / {y['FF']} | {dsp_used(p)} | "
                f"{p['fmax_mhz']:.1f}{router_mark(p)} | {p['constraint_mhz']:.0f} | "
                f"{'yes' if p['passes'] else 'misses timing'} | "
                f"{p['peak_macs_per_s'] / 1e9:.2f} |")
        else:
            rows.append(f"| {p['device']} | {fmt} | {p['design']} | {p['rows']} x {p['cols']} | "
                        f"{p['pes']} | does not fit / build | | | | | no | |")
    summary = ["| device | format | design | best R x C | PEs | logic cells | Fmax MHz min / "
               "median / max (seeds) | peak GMAC/s (PEs x median Fmax) | fewmul / best "
               "multiplier design |",
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
            multipliers = {d: peaks[d] for d in MULTIPLIER_DESIGNS if peaks.get(d)}
            if design == "fewmul" and multipliers:
                rival = max(multipliers, key=multipliers.get)
                ratio = f"{peaks['fewmul'] / multipliers[rival]:.2f} x ({rival})"
            used, available = b["logic_cells"]["used"], b["logic_cells"]["available"]
            summary.append(
                f"| {device} | {fmt} | {design} | {b['rows']} x {b['cols']} | {b['pes']} | "
                f"{used} / {available} ({100 * used / available:.0f} %) | "
                f"{s['min']:.1f} / {s['median']:.1f} / {s['max']:.1f} ({len(s['seeds'])})"
                f"{seeds_meeting(s, b['constraint_mhz'])} | "
                f"{b['peak_macs_per_s'] / 1e9:.2f} | {ratio} |")
    return "\n".join(summary), "\n".join(rows)


def per_pe_costs(log):
    """Markdown table: the marginal cost of a PE of each (device, format, design), the slope
    of logic cells and Yosys LUT4 / carry / FF counts between the two largest fitted seed-1
    builds with different PE counts (it includes the share of trees and column units the
    added rows or columns bring)."""
    series = {}
    for p in sorted((p for p in log.points.values() if p["seed"] == 1 and p.get("fits")),
                    key=point_order):
        series.setdefault((p["device"], point_tag(p), p["design"]), []).append(p)
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
        ya, yb = yosys_kinds(a), yosys_kinds(b)
        cells = (b["logic_cells"]["used"] - a["logic_cells"]["used"]) / d
        lines.append(f"| {device} | {format_label(tag)} | {design} | {a['rows']} x {a['cols']} "
                     f"and {b['rows']} x {b['cols']} | {cells:.0f} | "
                     f"{(yb['LUT'] - ya['LUT']) / d:.0f} | {(yb['carry'] - ya['carry']) / d:.0f} "
                     f"| {(yb['FF'] - ya['FF']) / d:.0f} |")
    return "\n".join(lines)
