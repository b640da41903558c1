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

__all__ = ["add_parser", "run", "config_from_args"]


def add_parser(sub):
    from fewmul.boards.synth import BOARDS
    from fewmul.commands.train import default_config
    from fewmul.config import FRACTION_MODES
    from fewmul.sim.virtual_board import DEFAULT_DIVISOR

    p = sub.add_parser("board", help="a virtual board: the board top simulated on a serial port",
                       description=__doc__.split("\n\n")[0])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = actions.add_parser("sim", help="serve the board's trainer, simulated, on a pty",
                           description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = default_config()
    s.add_argument("--board", required=True, choices=list(BOARDS), help="the board whose top "
                   "is simulated (it needs a UART)")
    s.add_argument("--hidden", type=int, nargs="+", default=list(defaults.layers[1:-1]),
                   metavar="N", help="hidden layer sizes (as fewmul train)")
    s.add_argument("--rows", type=int, default=4, help="array rows")
    s.add_argument("--cols", type=int, default=4, help="array columns")
    s.add_argument("--weights", choices=("binary", "ternary"), default=defaults.weights,
                   help="weight sampling (as fewmul train)")
    s.add_argument("--weight-bits", type=int, default=defaults.weight_bits,
                   help="stored weight width (as fewmul train)")
    s.add_argument("--lr-shift", type=int, default=defaults.lr_shift,
                   help="the engine's reset learning-rate shift (as fewmul train)")
    s.add_argument("--lr-range", type=int, default=defaults.lr_range,
                   help="run-time learning-rate shifts the engine accepts above --lr-shift")
    s.add_argument("--update-fraction", choices=FRACTION_MODES,
                   default=defaults.update_fraction, help="as fewmul train")
    s.add_argument("--config", metavar="JSON", default=None,
                   help="the whole Config as JSON (a file, e.g. the 'config' of a fewmul train "
                        "--json result); replaces the options above except --rows/--cols")
    s.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR,
                   help="UART clocks per bit of the simulated board (>= 4)")
    s.add_argument("--link", metavar="PATH", default=None,
                   help="also make PATH a symlink to the port (removed at exit)")
    s.set_defaults(func=run)


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
        sources = board_sources(args.board, cfg, divisor=args.divisor)
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
