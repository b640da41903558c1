"""The ``fewmul`` command line: one sub-command per module in ``fewmul.commands``.

Each command module defines ``add_parser(subparsers)`` (registering its arguments and a ``run``
function as the default ``func``); ``run(args)`` returns the process exit code.

Errors a user can fix (a ``ValueError`` from a constructor that rejects a value, a missing tool,
a board that does not answer, ...) end the command with one line on stderr, ``fewmul <command>:
<message>``, and a non-zero exit status: 2 for invalid input, 1 for everything else.
``--debug`` (or ``FEWMUL_DEBUG=1``) shows the traceback instead.
"""

import argparse
import importlib
import os
import sys

__all__ = ["main", "COMMANDS", "command_modules", "user_errors"]

COMMANDS = ("doctor", "demo", "train", "sim", "build", "board", "bench", "formal")


def command_modules():
    """The modules of :data:`COMMANDS`, in order."""
    for name in COMMANDS:
        yield importlib.import_module(f"fewmul.commands.{name}")


def user_errors():
    """Exception classes whose message tells the user what to do (one line, exit status 1)."""
    from fewmul.boards.fit import DoesNotFit
    from fewmul.boards.synth import ProgrammerMissing, ProgrammingFailed, SynthesisFailed
    from fewmul.protocol import LinkError
    from fewmul.sim.tools import ToolError
    from fewmul.train_board import BoardError
    return (BoardError, LinkError, ProgrammerMissing, ProgrammingFailed, SynthesisFailed, ToolError,
            DoesNotFit, OSError)


def _parser():
    parser = argparse.ArgumentParser(
        prog="fewmul",
        description="Multiplier-free on-chip neural-network training for FPGAs.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also FEWMUL_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        module.add_parser(sub)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    debug = args.debug or os.environ.get("FEWMUL_DEBUG", "0") not in ("", "0")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ValueError as exc:
        if debug:
            raise
        print(f"fewmul {args.command}: {exc}", file=sys.stderr)
        return 2
    except user_errors() as exc:
        if debug:
            raise
        print(f"fewmul {args.command}: {exc}", file=sys.stderr)
        return 1
