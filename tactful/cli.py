"""The ``tactful`` command: one sub-command module per job, each registering itself on the parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Collection, Sequence

from tactful.errors import TactfulError

# Each module exposes ``register(subparsers)`` and sets ``func`` on its parser(s); func(args) -> exit code.
# Only the module of the command being run is imported (the others pull in scikit-learn, LangGraph, FastAPI...),
# so ``tactful --help`` lists them from the one-line summaries here.
COMMANDS = {
    "chat": ("tactful.commands.chat", "talk to the support graph in the terminal"),
    "intents": ("tactful.commands.intents", "fit and score the offline intent classifier"),
    "guards": ("tactful.commands.guards", "fit and score the prompt-injection detector"),
    "sentiment": ("tactful.commands.sentiment", "fit the sentiment reasoner's learned channel"),
    "eval": ("tactful.commands.eval", "replay scenario files against the graphs and gate the metrics"),
    "marketing": ("tactful.commands.marketing", "the marketing message generator"),
    "serve": ("tactful.commands.serve", "run the HTTP service (uvicorn)"),
    "bench": ("tactful.commands.bench", "run the benchmarks; one JSON object on stdout"),
    "seed": ("tactful.commands.seed", "fill a tenant with a month of simulated conversations and outcomes"),
    "report": ("tactful.commands.report", "write the live metrics of a tenant as a self-contained HTML report"),
    "tune": ("tactful.commands.tune", "propose policy thresholds from outcomes (replays stored turns)"),
}
COMMAND_MODULES = [module for module, _ in COMMANDS.values()]
DESCRIPTION = "tactful: empathetic support and marketing automation that knows when to hand over to a person."


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser with ``commands`` fully registered (all of them when None), the others as summaries."""
    parser = argparse.ArgumentParser(prog="tactful", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if commands is None or name in commands:
            importlib.import_module(module).register(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named by the first argument that is not an option, if it is one of ours."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    parser = build_parser([command] if command else [])
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
