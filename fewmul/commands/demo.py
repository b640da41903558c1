"""``fewmul demo``: the five-minute tour. Each step prints one line of the closing summary.

A step is a function ``fn(out_dir) -> str`` (the summary line; raise to fail). This module's own
steps come first, then every command module's ``DEMO_STEPS`` (a list of ``(title, fn)``), in the
order of :data:`fewmul.cli.COMMANDS`, so each part of fewmul adds its own step (train, RTL
training, bitstream) without editing this file.
"""

import time
from pathlib import Path

STEPS = []


def all_steps():
    from fewmul.cli import command_modules
    steps = list(STEPS)
    for module in command_modules():
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
