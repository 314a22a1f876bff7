"""The ``tactful`` command: one sub-command module per job, each registering itself on the parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from tactful.errors import TactfulError

# Each module exposes ``register(subparsers)`` and sets ``func`` on its parser(s); func(args) -> exit code.
COMMAND_MODULES = [
    "tactful.commands.chat",
    "tactful.commands.intents",
    "tactful.commands.eval",
    "tactful.commands.marketing",
    "tactful.commands.serve",
    "tactful.commands.bench",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tactful", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except TactfulError as exc:
        print(f"tactful: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
