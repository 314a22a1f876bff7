"""``tactful chat``: a terminal conversation with the support graph, showing each decision.

Interactive by default; with ``--json`` it reads one message per line from stdin (plain text, or a JSON object
``{"text", "events", "context"}``) and prints one JSON turn result per line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.table import Table

from tactful.agents.state import AccountContext, Event
from tactful.errors import InputError
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner, TurnResult
from tactful.graphs.support import compile_support_graph
from tactful.graphs.tracing import install_trace_masking
from tactful.settings import load_settings


class ChatLine(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    text: str
    events: list[Event] = []
    context: AccountContext | None = None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("chat", help="talk to the support graph in the terminal")
    p.add_argument("--context", type=Path, help="JSON or YAML file with the account and channel context")
    p.add_argument("--json", action="store_true", help="read messages from stdin, print JSON turn results")
    p.add_argument("--conversation", default=None, help="conversation id (default: a new one)")
    p.add_argument("--engine", choices=["offline", "openai", "scripted"], default=None)
    p.set_defaults(func=run)


def load_context_file(path: Path) -> AccountContext:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read context file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"context file {path} is not valid JSON/YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"context file {path} must hold an object of account fields")
    try:
        return ChatLine.model_validate({"text": "", "context": data}).context or {}
    except ValidationError as exc:
        raise InputError(f"context file {path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc


def parse_line(raw: str, lineno: int) -> ChatLine | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.startswith("{"):
        try:
            return ChatLine.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "line"
            raise InputError(f"stdin line {lineno}: {where}: {err['msg']}") from exc
    return ChatLine(text=raw)


def show(console: Console, result: TurnResult) -> None:
    table = Table(show_header=False, box=None, padding=(0, 1))
    if result.intent:
        i = result.intent
        runner = f" (runner-up {i['runner_up']['label']} {i['runner_up']['confidence']:.2f})" if i["runner_up"] else ""
        table.add_row("intent", f"{i['label']} {i['confidence']:.2f}{runner} [{i['risk']} risk, {i['source']}]")
    if result.sentiment:
        s = result.sentiment
        table.add_row(
            "sentiment",
            f"{s['label']} score {s['score']:+.2f} frustration {s['frustration']:.2f} urgency {s['urgency']:.2f} "
            f"trend {s['trend']} markers {', '.join(s['markers']) or '-'}",
        )
    if result.decision:
        d = result.decision
        table.add_row("decision", f"{d['action']} by rule {d['rule']} ({d['reason']})")
        used = [f"{f['name']}={f['value']}" for f in d["factors"] if f["effect"] != "considered"]
        table.add_row("factors", ", ".join(used) or "-")
    for g in result.guards:
        if g["tripped"]:
            table.add_row("guard", f"[bold red]{g['guard']}[/] {g['reason']} ({g['effect']}): {g['detail']}")
    console.print(table)
    if result.reply:
        console.print(f"[bold cyan]bot[/] {result.reply}")
    if result.handoff:
        h = result.handoff
        console.print(
            f"[bold yellow]handoff[/] queue={h['queue']} priority={h['priority']} reason={h['reason']} "
            f"completeness={h['completeness']:.0%}"
        )
    if result.mode == "human" and not result.reply:
        console.print("[dim](a person owns this conversation now; the bot stays silent)[/]")


async def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.engine:
        overrides["engine"] = args.engine
    settings = load_settings(**overrides)
    install_trace_masking(settings)
    ctx = build_context(settings)
    runner = SupportRunner(compile_support_graph(InMemorySaver(), store=InMemoryStore()), lambda tenant: ctx)
    context = load_context_file(args.context) if args.context else None
    conversation = args.conversation or uuid.uuid4().hex[:12]
    console = Console(stderr=False)
    first = True
    if args.json:
        for lineno, raw in enumerate(sys.stdin, start=1):
            line = parse_line(raw, lineno)
            if line is None:
                continue
            merged = {**(context or {}), **(line.context or {})} if (first or line.context) else None
            result = await runner.turn(conversation, line.text, events=line.events, context=merged or None)  # type: ignore[arg-type]
            first = False
            print(result.model_dump_json(), flush=True)
        return 0
    console.print(f"[dim]conversation {conversation} — type a message, Ctrl-D to quit[/]")
    while True:
        try:
            raw = input("you> ")
        except EOFError:
            return 0
        try:
            line = parse_line(raw, 0)
        except InputError as exc:
            console.print(f"[red]{exc}[/]")
            continue
        if line is None:
            continue
        result = await runner.turn(
            conversation, line.text, events=line.events, context=context if first else line.context
        )
        first = False
        show(console, result)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
