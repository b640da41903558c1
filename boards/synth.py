"""The one place that runs synthesis: amaranth-boards platform -> YoWASP Yosys/nextpnr -> report.

:func:`synthesize` builds any elaboratable for a board of :data:`BOARDS` without needing a
programmer (``do_build=False`` then ``execute_local``), asks nextpnr for its JSON report and
Yosys for cell statistics, and returns a :class:`SynthReport` (utilization straight from
nextpnr, achieved and constrained Fmax per clock net, bitstream path).
"""

import importlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fewmul.sim.tools import synthesis_env

__all__ = ["Board", "BOARDS", "SynthReport", "SynthesisFailed", "board", "synthesize"]


@dataclass(frozen=True)
class Board:
    name: str
    platform: str          # "module:Class" in amaranth_boards
    family: str            # "ice40" | "ecp5"
    device: str            # short chip name used in reports: "ice40up5k", "ecp5-85f"
    bitstream_ext: str

    def make_platform(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)()


BOARDS = {b.name: b for b in [
    Board("icebreaker", "icebreaker:ICEBreakerPlatform", "ice40", "ice40up5k", "bin"),
    Board("ulx3s-85f", "ulx3s:ULX3S_85F_Platform", "ecp5", "ecp5-85f", "bit"),
]}


def board(name):
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}") from None


class SynthesisFailed(RuntimeError):
    """Yosys or nextpnr failed; the message names the log to read."""


@dataclass
class SynthReport:
    board: str
    device: str
    utilization: dict
    fmax: dict                       # {clock net: {"achieved": MHz, "constraint": MHz}}
    bitstream: str
    cells: dict = field(default_factory=dict)
    seconds: float = 0.0
    seed: int = 1

    @property
    def fmax_mhz(self):
        """Achieved Fmax of the slowest clock (the design's main clock)."""
        return min(v["achieved"] for v in self.fmax.values()) if self.fmax else None

    @property
    def constraint_mhz(self):
        return min(v["constraint"] for v in self.fmax.values()) if self.fmax else None

    def logic_cells(self):
        """(used, available) of the chip's basic logic resource."""
        key = {"ice40": "ICESTORM_LC", "ecp5": "TRELLIS_COMB"}[BOARDS[self.board].family]
        u = self.utilization[key]
        return u["used"], u["available"]

    def as_dict(self):
        d = asdict(self)
        d["fmax_mhz"] = self.fmax_mhz
        d["constraint_mhz"] = self.constraint_mhz
        return d


def synthesize(top, *, board_name, build_dir, name="top", seed=1, nextpnr_opts=()):
    """Place and route ``top`` for ``board_name`` into ``build_dir``; return a SynthReport."""
    target = board(board_name)
    platform = target.make_platform()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    report_path = build_dir / f"{name}.report.json"
    stat_path = build_dir / f"{name}.stat.json"
    for stale in (report_path, stat_path):
        stale.unlink(missing_ok=True)
    opts = ["--report", report_path.name, "--timing-allow-fail", "--seed", str(seed),
            *nextpnr_opts]
    plan = platform.build(top, name=name, build_dir=str(build_dir), do_build=False,
                          nextpnr_opts=" ".join(opts),
                          script_after_synth=f"tee -q -o {stat_path.name} stat -json")
    started = time.monotonic()
    try:
        plan.execute_local(str(build_dir), env=synthesis_env())
    except Exception as exc:
        raise SynthesisFailed(f"synthesis of {name} for {board_name} failed: {exc}; see the "
                              f"logs in {build_dir}") from exc
    seconds = time.monotonic() - started
    if not report_path.exists():
        raise SynthesisFailed(f"nextpnr wrote no report at {report_path}")
    report = json.loads(report_path.read_text())
    cells = {}
    if stat_path.exists():
        stat = json.loads(stat_path.read_text())
        cells = stat.get("design", {}).get("num_cells_by_type", {})
    bitstream = build_dir / f"{name}.{target.bitstream_ext}"
    if not bitstream.exists():
        raise SynthesisFailed(f"no bitstream at {bitstream}")
    fmax = {net: {"achieved": v["achieved"], "constraint": v["constraint"]}
            for net, v in report.get("fmax", {}).items()}
    return SynthReport(board=board_name, device=target.device,
                       utilization=report["utilization"], fmax=fmax, bitstream=str(bitstream),
                       cells=cells, seconds=round(seconds, 2), seed=seed)
