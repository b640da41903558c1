"""``fewmul sim``: the cocotb regression (every RTL-vs-golden testbench) through pytest.

``fewmul sim --netlist --board NAME``: the board build's netlist trained bit-exact instead
(``fewmul.commands.board.run_netlist``, ``docs/netlist.md``).
"""

import os
import subprocess
import sys

from fewmul.sim.tools import SIMULATORS


def add_parser(sub):
    p = sub.add_parser("sim", help="run the cocotb regression (RTL vs golden model)")
    p.add_argument("--simulator", choices=SIMULATORS + ("both",), default="both")
    p.add_argument("--waves", action="store_true", help="dump waves into each case's build dir")
    p.add_argument("-k", dest="pattern", help="only testbenches matching this pytest -k pattern")
    p.add_argument("--volume", type=float, help="scale random transaction counts")
    p.add_argument("-n", dest="jobs", default="auto", help="parallel workers (pytest-xdist)")
    from fewmul.commands.board import add_netlist_arguments
    add_netlist_arguments(p)
    p.set_defaults(func=run)


def command(args):
    cmd = [sys.executable, "-m", "pytest", "tests", "-m", "sim", "-q", "-n", str(args.jobs)]
    if args.pattern:
        cmd += ["-k", args.pattern]
    env = dict(os.environ)
    if args.simulator != "both":
        env["FEWMUL_SIMULATORS"] = args.simulator
    if args.waves:
        env["WAVES"] = "1"
    if args.volume is not None:
        env["FEWMUL_VOLUME"] = str(args.volume)
    return cmd, env


def run(args):
    if args.netlist:
        from fewmul.commands.board import run_netlist
        return run_netlist(args)
    cmd, env = command(args)
    print("$", " ".join(cmd))
    return subprocess.run(cmd, env=env).returncode
