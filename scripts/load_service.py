"""A quick, bounded loopback load run against one ``tactful serve`` worker (offline engine).

Starts the service in a child process on a free 127.0.0.1 port — SQLite in a temporary directory, or
PostgreSQL in a throw-away schema with ``--database-url`` — then:

1. *throughput*: ``--concurrency`` clients, each holding its own conversations (``--turns-per-conversation``
   messages each, one after another), until ``--requests`` turns are done: turns/s and latency percentiles;
2. *one conversation*: ``--burst`` messages posted at once to a single conversation: how the per-conversation
   lock serializes them (statuses, turn order, latency spread, 409s).

Prints one JSON object. Example::

    python scripts/load_service.py --requests 400 --concurrency 16
    python scripts/load_service.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
TEXTS = [
    "how do I reset my password?",
    "where is my order? it was due yesterday",
    "can I change the delivery address on my order",
    "the app shows an error when I upload files",
    "how do I update my card details",
    "thanks, that worked",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tactful.cli", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"server not ready:\n{log.read_text()}")


async def throughput(base: str, *, requests: int, concurrency: int, per_conversation: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(requests))

    async def client_loop(client: httpx.AsyncClient, worker: int) -> None:
        conversation, sent = f"load-{worker}-{uuid.uuid4().hex[:6]}", 0
        for i in counter:
            if sent == per_conversation:
                conversation, sent = f"load-{worker}-{uuid.uuid4().hex[:6]}", 0
            started = time.perf_counter()
            r = await client.post(
                f"{base}/v1/conversations/{conversation}/messages",
                json={"text": TEXTS[(i + sent) % len(TEXTS)], "message_id": f"m{i}"},
            )
            latencies.append(time.perf_counter() - started)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            sent += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        # warm-up: first requests pay for lazy imports and connection set-up
        await client.post(f"{base}/v1/conversations/warmup/messages", json={"text": TEXTS[0]})
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, w) for w in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "statuses": statuses,
        "seconds": round(elapsed, 2),
        "turns_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(1000 * percentile(latencies, 0.5), 1),
            "p90": round(1000 * percentile(latencies, 0.9), 1),
            "p99": round(1000 * percentile(latencies, 0.99), 1),
            "max": round(1000 * max(latencies), 1),
        },
    }


async def one_conversation(base: str, *, burst: int) -> dict[str, Any]:
    conversation = f"burst-{uuid.uuid4().hex[:6]}"

    async def post(client: httpx.AsyncClient, i: int) -> tuple[int, float, int | None]:
        started = time.perf_counter()
        r = await client.post(
            f"{base}/v1/conversations/{conversation}/messages",
            json={"text": f"{TEXTS[i % 5]} (message {i})", "message_id": f"b{i}"},
        )
        turn = r.json().get("turn") if r.status_code == 200 else None
        return r.status_code, time.perf_counter() - started, turn

    limits = httpx.Limits(max_connections=burst, max_keepalive_connections=burst)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(post(client, i) for i in range(burst)))
        elapsed = time.perf_counter() - started
        conversation_body = (await client.get(f"{base}/v1/conversations/{conversation}")).json()
    statuses: dict[int, int] = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    turns = sorted(t for _, _, t in results if t is not None)
    waits = [lat for _, lat, _ in results]
    users = [m for m in conversation_body.get("messages", []) if m["role"] == "user"]
    return {
        "messages": burst,
        "statuses": statuses,
        "turns_are_1_to_n": turns == list(range(1, len(turns) + 1)),
        "stored_user_messages": len(users),
        "distinct_message_ids": len({m.get("message_id") for m in users}),
        "seconds": round(elapsed, 2),
        "latency_ms": {
            "min": round(1000 * min(waits), 1),
            "p50": round(1000 * statistics.median(waits), 1),
            "max": round(1000 * max(waits), 1),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--turns-per-conversation", type=int, default=4)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--turn-lock-timeout", type=float, default=None, help="TACTFUL_TURN_LOCK_TIMEOUT_S")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tactful-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACTFUL_") and k != "DATABASE_URL"}
    env.update(
        {
            "TACTFUL_DATA_DIR": str(tmp / "data"),
            "TACTFUL_RATE_LIMIT_PER_MINUTE": "0",
            "TACTFUL_ENGINE": "offline",
        }
    )
    if args.turn_lock_timeout is not None:
        env["TACTFUL_TURN_LOCK_TIMEOUT_S"] = str(args.turn_lock_timeout)
    schema = None
    if args.database_url:
        schema = f"tactful_load_{uuid.uuid4().hex[:10]}"
        env.update({"DATABASE_URL": args.database_url, "TACTFUL_DATABASE_SCHEMA": schema})
    port = free_port()
    proc = start_server(env, port, tmp / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        report = {
            "database": "postgres" if args.database_url else "sqlite",
            "workers": 1,
            "engine": "offline",
            "throughput": asyncio.run(
                throughput(
                    base,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    per_conversation=args.turns_per_conversation,
                )
            ),
            "one_conversation": asyncio.run(one_conversation(base, burst=args.burst)),
        }
    except BaseException:
        log = tmp / "server.log"
        print(f"server log ({log}):\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if schema and args.database_url:
            import psycopg

            with psycopg.connect(args.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
