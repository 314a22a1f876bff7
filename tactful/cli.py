"""The ``tactful`` command: one sub-command module per job, each registering itself on the parser."""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager

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


@contextmanager
def imports_without_gc() -> Iterator[None]:
    """Import a command's modules with the cyclic garbage collector paused, then freeze what they built.

    Importing ``tactful eval`` / ``chat`` creates ~120,000 long-lived objects (modules, classes, pydantic schemas)
    and almost no garbage (~1,600 unreachable objects); the collector, meanwhile, ran ~300 times and traversed
    them all twice — ~0.1-0.2 s of a ~1 s start-up. Paused, nothing is collected during the import; afterwards
    ``gc.freeze()`` moves what exists to the permanent generation (the later full collections of a long eval or
    chat skip it, and so do the interpreter's collections at exit, ~0.3 s), and collection resumes as before. No
    object's lifetime changes except that little import garbage, which stays. Does nothing when the collector is
    already off (whoever turned it off keeps it off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser with ``commands`` fully registered (all of them when None), the others as summaries."""
    parser = argparse.ArgumentParser(prog="tactful", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if commands is None or name in commands:
            if module in sys.modules:
                sys.modules[module].register(subparsers)
                continue
            with imports_without_gc():
                loaded = importlib.import_module(module)
            loaded.register(subparsers)
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
