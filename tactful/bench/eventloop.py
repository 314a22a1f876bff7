"""Event loop: does one CPU-heavy turn stall a worker? A real ``tactful serve`` (offline engine, SQLite) gets a
message of emoji (which the sentiment lexicon handles slowly) while ``/healthz`` is probed.

Reported: ``/healthz`` latency before (the baseline, same worker, same run) and while the heavy turn runs, the
heavy turn's own time, and how many probes landed while it ran. The target is the latency the heavy turn *adds*
to ``/healthz`` (95th percentile): ~100 ms at most, i.e. no request holds the loop for longer than that.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tactful.bench.arguments import positive_int
from tactful.bench.common import JSON, Section, Target, ms, percentile, progress, section
from tactful.bench.markdown import fmt, table
from tactful.bench.serve import service

EMOJI = 4000
QUICK_EMOJI = 1000
BASELINE_PROBES = 20
ADDED_MS = 100.0
PROBE_EVERY_S = 0.05


async def probe(client: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    r = await client.get(f"{url}/healthz")
    r.raise_for_status()
    return time.perf_counter() - started


async def measure(url: str, *, emoji: int) -> JSON:
    async with httpx.AsyncClient(timeout=300) as client:
        await client.post(f"{url}/v1/conversations/bench-loop-warm/messages", json={"text": "hello there"})
        baseline = [await probe(client, url) for _ in range(BASELINE_PROBES)]
        started = time.perf_counter()
        heavy = asyncio.create_task(
            client.post(f"{url}/v1/conversations/bench-loop-heavy/messages", json={"text": "\U0001f638" * emoji})
        )
        during: list[float] = []
        while not heavy.done():
            await asyncio.sleep(PROBE_EVERY_S)
            latency = await probe(client, url)
            if not heavy.done():
                during.append(latency)
        answer = await heavy
        turn_s = time.perf_counter() - started
    return {
        "emoji": emoji,
        "turn_status": answer.status_code,
        "turn_s": round(turn_s, 2),
        "probes_during": len(during),
        "baseline_ms": {"p50": ms(statistics.median(baseline)), "max": ms(max(baseline))},
        "during_ms": {"p50": ms(percentile(during, 0.5)), "p95": ms(percentile(during, 0.95)),
                      "max": ms(max(during)) if during else None},
    }


def bench(*, quick: bool, emoji: int | None = None) -> JSON:
    started = time.perf_counter()
    emoji = emoji or (QUICK_EMOJI if quick else EMOJI)
    with tempfile.TemporaryDirectory(prefix="tactful-bench-loop-") as tmp_name:
        tmp = Path(tmp_name)
        with service(None, tmp / "data", tmp / "serve.log", database_url=None, schema=None) as (url, _):
            progress(f"eventloop: a turn of {emoji} emoji while /healthz is probed")
            data = asyncio.run(measure(url, emoji=emoji))
    during_p95 = data["during_ms"]["p95"]
    added = None if during_p95 is None else round(during_p95 - data["baseline_ms"]["p50"], 1)
    data["added_p95_ms"] = added
    targets = [
        Target("healthz_added_p95_ms", added, ADDED_MS, "max", unit="ms",
               note="95th-percentile /healthz during the heavy turn, less the baseline median"),
        Target("turn_answered", 1.0 if data["turn_status"] == 200 else 0.0, 1.0, "min",
               note="the heavy turn itself is answered"),
    ]
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    rows = [
        ["baseline", "", sec["baseline_ms"]["p50"], "", sec["baseline_ms"]["max"]],
        ["during the heavy turn", sec["probes_during"], sec["during_ms"]["p50"], sec["during_ms"]["p95"],
         sec["during_ms"]["max"]],
    ]
    return [
        f"One message of {sec['emoji']} emoji (answered {sec['turn_status']} in {fmt(sec['turn_s'])} s) while "
        "`/healthz` is probed on the same worker:",
        "",
        *table(["/healthz", "probes", "median ms", "p95 ms", "max ms"], rows),
    ]


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--eventloop-emoji", type=positive_int, default=None, metavar="N",
                       help=f"emoji in the heavy message (default {EMOJI}; {QUICK_EMOJI} with --quick)")


SECTION = Section(
    name="eventloop",
    title="One CPU-heavy turn, the rest of the worker",
    summary="/healthz latency while one turn does seconds of specialist CPU work",
    run=lambda args: bench(quick=args.quick, emoji=args.eventloop_emoji),
    render=render,
    options=options,
)
