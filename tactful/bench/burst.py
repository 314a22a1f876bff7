"""Burst: many messages posted at once to one conversation of a real ``tactful serve`` worker (offline engine,
SQLite, and PostgreSQL with ``DATABASE_URL``) — what a chat front end that double-texts does to the service.

The per-conversation lock must serialize them: every answered message is a turn of its own, numbered 1..n in
order, stored once; a message refused after waiting past the lock's bound (409) leaves nothing stored, so a retry
with its ``message_id`` runs normally. Reported: the statuses, the turn order, what was stored, and how long the
first and the last message waited (the queue drains at the single-turn rate). ``--burst-lock-timeout`` shortens
the bound to see the refusals at work.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tactful.bench.arguments import positive_float, positive_int
from tactful.bench.common import JSON, Section, Target, ms, progress, section
from tactful.bench.markdown import fmt, table
from tactful.bench.serve import drop_schema, service
from tactful.settings import Settings

MESSAGES = 50
QUICK_MESSAGES = 16
DEFAULT_LOCK_TIMEOUT_S = Settings.model_fields["turn_lock_timeout_s"].default
TEXTS = (
    "how do I reset my password?",
    "where is my order? it was due yesterday",
    "can I change the delivery address on my order",
    "the app shows an error when I upload files",
    "how do I update my card details",
)


async def burst(base: str, *, messages: int) -> JSON:
    """``messages`` posts at once to one new conversation, then what the conversation holds."""
    conversation = f"bench-burst-{uuid.uuid4().hex[:6]}"

    async def post(client: httpx.AsyncClient, i: int) -> tuple[int, float, int | None]:
        started = time.perf_counter()
        r = await client.post(f"{base}/v1/conversations/{conversation}/messages",
                              json={"text": f"{TEXTS[i % len(TEXTS)]} (message {i})", "message_id": f"b{i}"})
        turn = r.json().get("turn") if r.status_code == 200 else None
        return r.status_code, time.perf_counter() - started, turn

    limits = httpx.Limits(max_connections=messages, max_keepalive_connections=messages)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await client.post(f"{base}/v1/conversations/{conversation}-warmup/messages", json={"text": TEXTS[0]})
        started = time.perf_counter()
        results = await asyncio.gather(*(post(client, i) for i in range(messages)))
        elapsed = time.perf_counter() - started
        stored = (await client.get(f"{base}/v1/conversations/{conversation}")).json()
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    turns = sorted(t for _, _, t in results if t is not None)
    waits = [wait for _, wait, _ in results]
    users = [m for m in stored.get("messages", []) if m["role"] == "user"]
    return {
        "messages": messages,
        "statuses": statuses,
        "answered": statuses.get("200", 0),
        "refused": messages - statuses.get("200", 0),
        "turns_out_of_order": sum(1 for i, t in enumerate(turns, start=1) if t != i),
        "stored_user_messages": len(users),
        "distinct_message_ids": len({m.get("message_id") for m in users}),
        "wall_s": round(elapsed, 2),
        "wait_ms": {"min": ms(min(waits)), "p50": ms(statistics.median(waits)), "max": ms(max(waits))},
    }


def _backend(name: str, tmp: Path, *, messages: int, lock_timeout_s: float | None,
             database_url: str | None) -> JSON:
    schema = f"tactful_bench_{uuid.uuid4().hex[:10]}" if database_url else None
    data_dir = tmp / name
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"TACTFUL_TURN_LOCK_TIMEOUT_S": str(lock_timeout_s)} if lock_timeout_s is not None else {}
    result: JSON = {"status": "ok", "database": name}
    try:
        with service(None, data_dir, tmp / f"serve-{name}.log", database_url=database_url, schema=schema,
                     env=env) as (url, _):
            progress(f"burst[{name}]: {messages} messages at once to one conversation")
            result.update(asyncio.run(burst(url, messages=messages)))
    finally:
        if database_url and schema:
            try:
                drop_schema(database_url, schema)
            except Exception as exc:  # a leftover schema must not hide the measurement (or its error)
                result["cleanup_error"] = f"{type(exc).__name__}: {exc}"
    return result


def bench(*, quick: bool, messages: int | None = None, lock_timeout_s: float | None = None,
          database_url: str | None = None) -> JSON:
    """The ``burst`` section: SQLite always, PostgreSQL when ``database_url`` is given."""
    started = time.perf_counter()
    messages = messages or (QUICK_MESSAGES if quick else MESSAGES)
    # the worker starts without the caller's TACTFUL_* settings: the bound is the setting's default unless given
    bound = lock_timeout_s if lock_timeout_s is not None else float(DEFAULT_LOCK_TIMEOUT_S)
    backends: JSON = {}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="tactful-bench-burst-") as tmp_name:
        for name, url in (("sqlite", None), ("postgres", database_url)):
            if name == "postgres" and not url:
                backends[name] = {"status": "skipped", "skipped": "skipped: DATABASE_URL not set"}
                continue
            try:
                b = backends[name] = _backend(name, Path(tmp_name), messages=messages, lock_timeout_s=lock_timeout_s,
                                              database_url=url)
            except Exception as exc:
                backends[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                progress(f"burst[{name}]: error: {exc}")
                targets.append(Target(f"{name}.turns_out_of_order", None, 0, "max"))
                continue
            targets += [
                Target(f"{name}.turns_out_of_order", b["turns_out_of_order"], 0, "max",
                       note="answered messages are turns 1..n, no gaps or repeats"),
                Target(f"{name}.stored_not_answered", abs(b["stored_user_messages"] - b["answered"]), 0, "max",
                       note="each answered message stored once, nothing of a refused one"),
            ]
            if lock_timeout_s is None:
                targets.append(Target(f"{name}.refused", b["refused"], 0, "max",
                                      note=f"the queue drains inside the {bound:g} s bound"))
    data: JSON = {"engine": "offline", "messages": messages, "turn_lock_timeout_s": bound, "backends": backends}
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    rows = []
    for name, b in sec["backends"].items():
        if b.get("status") != "ok":
            rows.append([name, b.get("skipped") or b.get("error"), "", "", "", "", ""])
            continue
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(b["statuses"].items()))
        rows.append([name, statuses, b["turns_out_of_order"], b["stored_user_messages"], b["wait_ms"]["min"],
                     b["wait_ms"]["p50"], b["wait_ms"]["max"]])
    return [
        f"{sec['messages']} messages posted at once to one conversation (offline engine; lock bound "
        f"{fmt(sec['turn_lock_timeout_s'])} s):",
        "",
        *table(["database", "statuses", "turns out of order", "user messages stored", "shortest wait ms",
                "median wait ms", "longest wait ms"], rows),
    ]


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--burst-messages", type=positive_int, default=None, metavar="N",
                       help=f"messages posted at once (default {MESSAGES}; {QUICK_MESSAGES} with --quick)")
    group.add_argument("--burst-lock-timeout", type=positive_float, default=None, metavar="S",
                       help="the worker's TACTFUL_TURN_LOCK_TIMEOUT_S (default: the setting's own, 30 s)")


SECTION = Section(
    name="burst",
    title="One conversation, many messages at once",
    summary="messages posted at once to one conversation: the per-conversation lock serializes them",
    run=lambda args: bench(quick=args.quick, messages=args.burst_messages, lock_timeout_s=args.burst_lock_timeout,
                           database_url=args.database_url),
    render=render,
    options=options,
)
