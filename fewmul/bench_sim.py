"""Simulation speed of the PE array: clock cycles per second on Icarus and Verilator.

``fewmul bench sim``: for each array shape and simulator, build ``PEArray`` once and run the
cocotb module ``fewmul.sim.tb_array_bench``: (a) FORWARD every cycle with Python asleep until
the end (the simulator's own speed), (b) the scoreboarded random command mix of the array
testbench (Python wakes twice a cycle; golden model and scoreboard included). Build time is
reported separately. Figures go to a JSON file and to ``docs/results.md`` (section
``bench-sim``).
"""

import os
import platform
import tempfile
import time
from pathlib import Path

__all__ = ["run_bench", "markdown", "add_arguments", "run", "main"]

_PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"      # see tests/conftest.py: VERILATOR_PCH_FIX


def _one(shape, simulator, free_cycles, checked_commands, build_root):
    import json

    from fewmul.config import Config
    from fewmul.hw.array import PEArray
    from fewmul.sim.runner import run_testbench

    rows, cols = shape
    cfg = Config(array_rows=rows, array_cols=cols)
    out = Path(build_root) / f"array-{rows}x{cols}-{simulator}"
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "bench.json"
    dut = PEArray(cfg)
    params = dict(cfg=cfg.as_dict(), seed=1, transactions=checked_commands, idle=0.1,
                  backpressure=0.1, free_cycles=free_cycles, checked_commands=checked_commands,
                  out=str(json_path))
    flags = os.environ.get("MAKEFLAGS", "")
    if _PCH_FIX not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} {_PCH_FIX}".strip()
    started = time.perf_counter()
    run_testbench(dut, toplevel="pe_array", test_module="fewmul.sim.tb_array_bench",
                  simulator=simulator, build_dir=out, params=params)
    total = time.perf_counter() - started
    figures = json.loads(json_path.read_text())
    run_seconds = figures["free_running"]["seconds"] + figures["checked"]["seconds"]
    figures.update(shape=[rows, cols], pes=rows * cols, simulator=simulator,
                   total_seconds=total, build_and_startup_seconds=total - run_seconds)
    return figures


def run_bench(shapes=((8, 8), (16, 16)), simulators=("icarus", "verilator"),
              free_cycles=20000, checked_commands=2000, build_root=None):
    build_root = build_root or tempfile.mkdtemp(prefix="fewmul-bench-sim-")
    runs = [_one(tuple(shape), simulator, free_cycles, checked_commands, build_root)
            for shape in shapes for simulator in simulators]
    return {"runs": runs, "free_cycles": free_cycles, "checked_commands": checked_commands,
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count()}


def markdown(result):
    lines = ["PE array (`PEArray`, default widths) in simulation, one simulator process per run "
             f"on a shared {result['cpus']}-core machine: clock cycles per CPU second of the "
             "simulator process (it hosts Python too), and per wall second.", "",
             "| array | PEs | simulator | free-running cycles/CPU-s | (per wall s) | "
             "checked cycles/CPU-s | (per wall s) | checked commands/CPU-s | build + start (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        free, checked = r["free_running"], r["checked"]
        lines.append(f"| {r['shape'][0]}x{r['shape'][1]} | {r['pes']} | {r['simulator']} | "
                     f"{free['cycles_per_cpu_second']:,.0f} | {free['cycles_per_second']:,.0f} | "
                     f"{checked['cycles_per_cpu_second']:,.0f} | "
                     f"{checked['cycles_per_second']:,.0f} | "
                     f"{checked['commands_per_cpu_second']:,.0f} | "
                     f"{r['build_and_startup_seconds']:.0f} |")
    lines += ["", "Free-running: FORWARD every cycle, `result.ready` high, Python asleep until the "
              "end. Checked: the array testbench's random command mix (10 % idle cycles, 10 % "
              "back-pressure) with the golden tile model and scoreboard, Python waking twice a "
              "cycle."]
    return "\n".join(lines)


def _shape(text):
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"array shape must look like 8x8, not {text!r}") from None
    return rows, cols


def add_arguments(p):
    p.add_argument("--shapes", nargs="+", default=["8x8", "16x16"], metavar="RxC",
                   help="array shapes (default: 8x8 16x16)")
    p.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="both")
    p.add_argument("--cycles", type=int, default=20000,
                   help="free-running cycles per run (default: 20000)")
    p.add_argument("--commands", type=int, default=2000,
                   help="scoreboarded commands per run (default: 2000)")
    p.add_argument("--build", default="build/bench/sim", help="build directory root")
    p.add_argument("--json", metavar="PATH", default="build/bench/sim.json")
    p.add_argument("--no-results", action="store_true", help="do not rewrite docs/results.md")


def _command(args):
    parts = ["fewmul bench sim"]
    if args.shapes != ["8x8", "16x16"]:
        parts.append("--shapes " + " ".join(args.shapes))
    if args.simulator != "both":
        parts.append(f"--simulator {args.simulator}")
    if args.cycles != 20000:
        parts.append(f"--cycles {args.cycles}")
    if args.commands != 2000:
        parts.append(f"--commands {args.commands}")
    return " ".join(parts)


def run(args):
    return main(args, _command(args))


def main(args, command):
    from fewmul.results import update_section, write_json
    simulators = ("icarus", "verilator") if args.simulator == "both" else (args.simulator,)
    result = run_bench(shapes=[_shape(s) for s in args.shapes], simulators=simulators,
                       free_cycles=args.cycles, checked_commands=args.commands,
                       build_root=Path(args.build).resolve())
    result["command"] = command
    table = markdown(result)
    print(table)
    print(f"wrote {write_json(args.json, result)}")
    if not args.no_results:
        path = update_section("bench-sim", "PE array simulation speed", command, table)
        print(f"wrote {path}")
    return 0
