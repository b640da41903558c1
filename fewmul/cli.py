"""The ``fewmul`` command line: one sub-command per module in ``fewmul.commands``.

Each command module defines ``add_parser(subparsers)`` (registering its arguments and a ``run``
function as the default ``func``); ``run(args)`` returns the process exit code.
"""

import argparse
import importlib
import sys

__all__ = ["main", "COMMANDS", "command_modules"]

COMMANDS = ("doctor", "demo", "train", "sim", "build", "board", "bench", "formal")


def command_modules():
    """The modules of :data:`COMMANDS` that exist, in order."""
    for name in COMMANDS:
        try:
            yield importlib.import_module(f"fewmul.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fewmul.commands.{name}":
                raise


def _parser():
    parser = argparse.ArgumentParser(
        prog="fewmul",
        description="Multiplier-free on-chip neural-network training for FPGAs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        module.add_parser(sub)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
