"""``fewmul demo``: the five-minute tour. Each step prints one line of the closing summary.

A step is a function ``fn(out_dir) -> str`` (the summary line; raise to fail). This module's own
steps come first, then every command module's ``DEMO_STEPS`` (a list of ``(title, fn)``), in the
order of :data:`fewmul.cli.COMMANDS`, so each part of fewmul adds its own step (train, RTL
training, bitstream) without editing this file.
"""

import importlib
import time
from pathlib import Path

STEPS = []


def all_steps():
    from fewmul.cli import COMMANDS
    steps = list(STEPS)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"fewmul.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fewmul.commands.{name}":
                raise
            continue
        steps += getattr(module, "DEMO_STEPS", [])
    return steps


def step(title):
    def register(fn):
        STEPS.append((title, fn))
        return fn
    return register


@step("tools")
def _tools(out):
    from fewmul.sim.tools import doctor
    bad = [s.name for s in doctor() if not s.ok]
    if bad:
        raise RuntimeError(f"missing tools: {', '.join(bad)} (run `fewmul doctor`)")
    return "all tools OK (fewmul doctor)"


@step("shifter RTL == golden")
def _shifter(out):
    from fewmul.hw.shifter import Shifter
    from fewmul.sim.runner import run_testbench
    lines = []
    for simulator in ("icarus", "verilator"):
        result = run_testbench(
            Shifter(width=16, max_shift=7, frac_bits=8), toplevel="shifter",
            test_module="fewmul.sim.tb_shifter", simulator=simulator,
            build_dir=out / f"shifter-{simulator}",
            params=dict(width=16, max_shift=7, frac_bits=8, seed=1, transactions=2000))
        lines.append(f"{simulator}: {result.tests} tests passed")
    return "bit-exact on " + ", ".join(lines)


@step("shifter bitstream (iCEBreaker)")
def _shifter_bitstream(out):
    from fewmul.boards.harness import RegisteredHarness
    from fewmul.boards.synth import synthesize
    from fewmul.hw.shifter import Shifter
    report = synthesize(RegisteredHarness(Shifter(width=16, max_shift=7, frac_bits=8)),
                        board_name="icebreaker", build_dir=out / "shifter-icebreaker")
    used, available = report.logic_cells()
    return (f"{used}/{available} LCs, Fmax {report.fmax_mhz:.1f} MHz, "
            f"{Path(report.bitstream).name} in {report.seconds:.0f} s")


def add_parser(sub):
    p = sub.add_parser("demo", help="train, check RTL == golden, build a bitstream")
    p.add_argument("--out", default="build/demo", help="where the demo writes its artefacts")
    p.set_defaults(func=run)


def run(args):
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary, failed = [], False
    for title, fn in all_steps():
        print(f"== {title}", flush=True)
        started = time.monotonic()
        try:
            line = fn(out)
            status = "OK  "
        except Exception as exc:           # the summary names the failing step and goes on
            line, status, failed = f"{type(exc).__name__}: {exc}", "FAIL", True
        summary.append(f"{status} {title:<32} {line} [{time.monotonic() - started:.0f} s]")
    print("\nfewmul demo summary")
    print("\n".join(summary))
    print(f"artefacts in {out}")
    return 1 if failed else 0
