"""``fewmul board sim``: a virtual board on a serial port (the board's top in Verilator).

Builds the trainer (``system`` design) in the board's own top, PLL stood in for, into a Verilator
model behind a pseudo-terminal (``fewmul.sim.virtual_board``), prints the port it serves
(``/dev/pts/N``, the first line of stdout) and runs until Ctrl-C or SIGTERM. Anything that talks
to a board's UART talks to it: ``fewmul train --backend board --port /dev/pts/N`` or
``fewmul.host.Device(SerialTransport(port))`` (the host's baud rate does not matter on a pty).
The network and array are chosen like ``fewmul train``'s (the same defaults), so the trainer on
the port is the one the training run expects.
"""

import argparse
import json
import signal
import sys
import time

__all__ = ["add_parser", "run", "config_from_args", "add_config_arguments", "add_netlist_arguments",
           "run_netlist"]


def add_parser(sub):
    from fewmul.boards.synth import BOARDS
    from fewmul.sim.virtual_board import DEFAULT_DIVISOR

    p = sub.add_parser("board", help="a virtual board: the board top simulated on a serial port",
                       description=__doc__.split("\n\n")[0])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = actions.add_parser("sim", help="serve the board's trainer, simulated, on a pty",
                           description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--board", required=True, choices=list(BOARDS), help="the board whose top "
                   "is simulated (it needs a UART)")
    add_config_arguments(s)
    s.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR,
                   help="UART clocks per bit of the simulated board (>= 4)")
    s.add_argument("--data-capacity", type=int, default=0, metavar="N",
                   help="samples of the on-chip data set (DATA / EPOCH, `fewmul train --order "
                        "keyed`)")
    s.add_argument("--link", metavar="PATH", default=None,
                   help="also make PATH a symlink to the port (removed at exit)")
    s.set_defaults(func=run)


def add_config_arguments(p, *, hidden=None, rows=4, cols=4):
    """The trainer's options (``fewmul train``'s defaults; ``hidden`` None: its hidden layer)."""
    from fewmul.commands.train import default_config
    from fewmul.config import FRACTION_MODES
    defaults = default_config()
    p.add_argument("--hidden", type=int, nargs="+",
                   default=list(defaults.layers[1:-1]) if hidden is None else hidden,
                   metavar="N", help="hidden layer sizes (as fewmul train)")
    p.add_argument("--rows", type=int, default=rows, help="array rows")
    p.add_argument("--cols", type=int, default=cols, help="array columns")
    p.add_argument("--weights", choices=("binary", "ternary"), default=defaults.weights,
                   help="weight sampling (as fewmul train)")
    p.add_argument("--weight-bits", type=int, default=defaults.weight_bits,
                   help="stored weight width (as fewmul train)")
    p.add_argument("--lr-shift", type=int, default=defaults.lr_shift,
                   help="the engine's reset learning-rate shift (as fewmul train)")
    p.add_argument("--lr-range", type=int, default=defaults.lr_range,
                   help="run-time learning-rate shifts the engine accepts above --lr-shift")
    p.add_argument("--update-fraction", choices=FRACTION_MODES,
                   default=defaults.update_fraction, help="as fewmul train")
    p.add_argument("--config", metavar="JSON", default=None,
                   help="the whole Config as JSON (a file, e.g. the 'config' of a fewmul train "
                        "--json result); replaces the options above except --rows/--cols")


def config_from_args(args):
    """The Config of the simulated trainer (``fewmul train``'s defaults, then the options)."""
    from fewmul.commands.train import default_config
    from fewmul.config import Config
    shape = dict(array_rows=args.rows, array_cols=args.cols)
    if args.config:
        with open(args.config) as f:
            raw = json.load(f)
        raw = raw.get("config", raw)
        known = {k: v for k, v in raw.items() if k in Config.__dataclass_fields__ and
                 Config.__dataclass_fields__[k].init}
        return Config.from_dict({**known, **shape})
    defaults = default_config()
    return default_config(layers=(defaults.layers[0], *args.hidden, defaults.layers[-1]),
                          weights=args.weights, weight_bits=args.weight_bits,
                          lr_shift=args.lr_shift, lr_range=args.lr_range,
                          update_fraction=args.update_fraction, **shape)


def _describe(cfg):
    return (f"trainer {'-'.join(map(str, cfg.layers))} {cfg.weights}, "
            f"{cfg.array_rows}x{cfg.array_cols} array")


def run(args):
    from fewmul.sim.tools import ToolError
    from fewmul.sim.virtual_board import (
        VirtualBoard,
        VirtualBoardError,
        board_sources,
        build_model,
    )

    def say(text):
        print(f"fewmul board sim: {text}", file=sys.stderr, flush=True)

    try:
        cfg = config_from_args(args)
        sources = board_sources(args.board, cfg, divisor=args.divisor,
                                data_capacity=args.data_capacity)
        say(f"building the {args.board} top with the {_describe(cfg)} (Verilator; cached)")
        exe = build_model(sources, log=say)
        board = VirtualBoard(exe, sources, link=args.link)
    except (ValueError, OSError, VirtualBoardError, ToolError) as exc:
        say(str(exc).splitlines()[0] if isinstance(exc, ValueError | OSError) else str(exc))
        return 2
    print(board.port, flush=True)
    say(f"{args.board} {_describe(cfg)} on {board.port}"
        + (f" (also {args.link})" if args.link else "")
        + f"; UART divisor {args.divisor} (the host's baud rate does not matter); "
          "stop with Ctrl-C")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        stats = board.wait()
    except KeyboardInterrupt:
        stats = board.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
        board.stop()
    if stats.get("returncode") != 0:
        say(f"the model exited with status {stats.get('returncode')}")
        return 1
    say(f"stopped after {stats['cycles']} cycles ({stats['cycles_per_second'] / 1e6:.2f} M "
        f"cycles/s while running), {stats['bytes_in']} bytes in, {stats['bytes_out']} out, "
        f"{stats['framing_errors']} framing errors")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# -- fewmul sim --netlist: the synthesized trainer on the same host path ----------------------

def add_netlist_arguments(p):
    """``fewmul sim``'s options of ``--netlist`` (a small trainer by default: it must fit)."""
    from fewmul.boards.synth import BOARDS
    from fewmul.sim.virtual_board import DEFAULT_DIVISOR
    g = p.add_argument_group("--netlist: the board build's netlist on the cell models")
    g.add_argument("--netlist", action="store_true",
                   help="synthesize the trainer for --board (Yosys, nextpnr) and train "
                        "--samples digits samples on its netlist, checked against golden")
    g.add_argument("--board", choices=list(BOARDS), default=None)
    g.add_argument("--samples", type=int, default=4, help="digits samples to train (default 4)")
    g.add_argument("--post-route", action="store_true",
                   help="simulate nextpnr's placed and routed netlist, not Yosys's")
    g.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR,
                   help=f"UART clocks per bit (default {DEFAULT_DIVISOR})")
    g.add_argument("--opt", type=int, default=1, choices=(0, 1, 2),
                   help="C++ optimisation level of the model: 0 compiles faster, 1 runs "
                        "faster (default 1)")
    g.add_argument("--out", default=None, help="build directory (default "
                   "build/netlist/<board>-<network>-<rows>x<cols>[-<format>])")
    add_config_arguments(g, hidden=[16], rows=2, cols=2)


def run_netlist(args):
    """``fewmul sim --netlist``: the exit status (0: bit-exact)."""
    from pathlib import Path

    from fewmul.boards.designs import format_tag
    from fewmul.boards.synth import SynthesisFailed
    from fewmul.protocol import LinkError
    from fewmul.results import write_json
    from fewmul.sim.netlist import NetlistError, netlist_sources, synthesize, train_bit_exact
    from fewmul.sim.tools import ToolError
    from fewmul.sim.virtual_board import VirtualBoard, VirtualBoardError, build_model

    def say(text):
        print(f"fewmul sim --netlist: {text}", file=sys.stderr, flush=True)

    if args.board is None:
        say("--board is required")
        return 2
    if args.simulator == "icarus":
        say("the netlist runs on Verilator (the virtual board's harness); see docs/netlist.md "
            "for Icarus")
        return 2
    if args.samples < 1:
        say(f"--samples must be at least 1, not {args.samples}")
        return 2
    try:
        cfg = config_from_args(args)
        network = "-".join(map(str, cfg.layers))
        tag = format_tag(cfg)
        out = Path(args.out or f"build/netlist/{args.board}-{network}-"
                               f"{cfg.array_rows}x{cfg.array_cols}" + (f"-{tag}" if tag else ""))
        say(f"building the {_describe(cfg)} for {args.board} in {out}")
        netlist = synthesize(args.board, cfg, build_dir=out, divisor=args.divisor,
                             post_route=args.post_route, log=say)
        logic = {k: v["used"] for k, v in netlist.utilization.items() if v["used"]}
        say(f"{netlist.stage} netlist {netlist.path} ({logic})")
        started = time.monotonic()
        exe = build_model(netlist_sources(netlist), out / "model", opt=f"-O{args.opt}")
        compile_seconds = time.monotonic() - started
        say(f"Verilator model with the {netlist.family} cell models: {compile_seconds:.0f} s")
        with VirtualBoard(exe, netlist_sources(netlist)) as board:
            try:
                result = train_bit_exact(board.port, cfg, samples=args.samples)
            except LinkError as exc:           # the netlist misbehaves: that is a finding
                result = {"samples": 0, "seconds": 0.0, "mismatches": [f"link: {exc}"]}
        stats = board.stats
    except (ValueError, OSError, VirtualBoardError, ToolError, NetlistError,
            SynthesisFailed) as exc:
        say(str(exc) if not isinstance(exc, ValueError | OSError) else
            str(exc).splitlines()[0])
        return 2
    report = {"board": args.board, "stage": netlist.stage, "config": cfg.as_dict(),
              "simulator": "verilator", "opt": f"-O{args.opt}", "utilization": netlist.utilization,
              "cells": netlist.cells, "compile_seconds": round(compile_seconds, 1),
              "bit_exact": not result["mismatches"], **result, **stats}
    write_json(out / "netlist-sim.json", report)
    if result["mismatches"]:
        say(f"NOT bit-exact: {len(result['mismatches'])} mismatches; first:\n  "
            + "\n  ".join(result["mismatches"][:10]))
        return 1
    print(f"{args.board} {netlist.stage} netlist ({network}, {cfg.array_rows}x{cfg.array_cols} "
          f"array): {result['samples']} digits samples bit-exact with golden; "
          f"{stats['cycles_per_second'] / 1e3:.1f} k cycles/s on Verilator "
          f"({result['seconds'] / result['samples']:.2f} s/sample); report "
          f"{out / 'netlist-sim.json'}")
    return 0
