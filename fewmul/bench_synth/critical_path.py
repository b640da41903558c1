"""What sets a build's Fmax: its critical path from nextpnr's report, named by design signals."""

import json
from pathlib import Path

from .log import build_dir_of, format_label

__all__ = ["critical_path", "critical_paths_table"]


def design_signal(cell):
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
            signal = design_signal(cell)
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
            cp = critical_path(build_dir_of(b, out))
            if cp is None:
                continue
            lines.append(f"| {device} | {format_label(tag)} | {design} | {b['rows']} x "
                         f"{b['cols']} | `{' -> '.join(cp['through'])}` | {cp['logic_ns']} | "
                         f"{cp['routing_ns']} |")
    return "\n".join(lines)
