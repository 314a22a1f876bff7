"""Capacity: how many live conversations ``tactful serve`` holds — open conversations with think time, the way a
chat front end loads a worker — with 1 worker on SQLite and 1 and 2 workers on one PostgreSQL.

Each step opens ``n`` conversations over one think time; each person waits ``think`` seconds on average
(uniformly 0.5–1.5×) between a reply and their next message, for ``duration`` seconds. With several workers the
conversations are spread over them round-robin (as a load balancer would); every worker shares one database.
The worker runs the offline engine (a turn's latency is the service's own) on the default durability. A step
is within target when its p99 latency is at most 300 ms with no errors; the capacity is the largest such step.
The workers, the clients and PostgreSQL share this machine's cores: on a small machine two workers cannot show
twice the capacity of one (the report states the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from tactful.bench.arguments import positive_float
from tactful.bench.arguments import steps as step_list
from tactful.bench.common import (
    JSON,
    Section,
    Target,
    machine_jiffies,
    ms,
    percentile,
    process_cpu_s,
    progress,
    section,
)
from tactful.bench.load import drive
from tactful.bench.markdown import table
from tactful.bench.serve import drop_schema, service

TARGET_CONVERSATIONS = 1000
TARGET_P99_MS = 300.0
FULL_STEPS = (250, 500, 1000)
QUICK_STEPS = (20, 40)
THINK_S = 15.0


async def open_step(bases: list[str], *, conversations: int, think_s: float, duration_s: float,
                    drain_s: float = 30.0) -> JSON:
    """``conversations`` people talking to ``bases`` (round-robin), each thinking ~``think_s`` between turns."""
    rec, unfinished, started, ended = await drive(bases, conversations=conversations, duration_s=duration_s,
                                                  drain_s=drain_s, think_s=think_s, stagger_s=think_s)
    ok = [r for r in rec.rows if r[2] == "200"]
    latencies = [e - s for s, e, _, _, _ in ok]
    errors = len(rec.rows) - len(ok) + unfinished
    return {
        "conversations": conversations,
        "think_time_s": think_s,
        "offered_turns_per_s": round(conversations / think_s, 1),
        "wall_s": round(ended - started, 2),
        "turns_ok": len(ok),
        "errors": errors,
        "throughput_turns_per_s": round(len(ok) / max(1e-9, ended - started), 1),
        "latency_ms": {"p50": ms(percentile(latencies, 0.5)), "p90": ms(percentile(latencies, 0.9)),
                       "p99": ms(percentile(latencies, 0.99)), "max": ms(max(latencies, default=None))},
    }


def _run(name: str, workers: int, tmp: Path, *, steps: tuple[int, ...], think_s: float, duration_s: float,
         database_url: str | None) -> JSON:
    schema = f"tactful_bench_{uuid.uuid4().hex[:10]}" if database_url else None
    data_dir = tmp / f"{name}-{workers}"
    data_dir.mkdir(parents=True, exist_ok=True)
    out: JSON = {"database": name, "workers": workers, "steps": []}
    try:
        with ExitStack() as stack:
            served = [stack.enter_context(service(None, data_dir, tmp / f"serve-{name}-{workers}-{i}.log",
                                                  database_url=database_url, schema=schema))
                      for i in range(workers)]
            bases = [url for url, _ in served]
            asyncio.run(open_step(bases, conversations=2, think_s=0.2, duration_s=1.0))  # warm-up
            for n in steps:
                progress(f"capacity[{name} × {workers}]: {n} open conversations, ~{think_s:g} s think time, "
                         f"{duration_s:g} s")
                cpu0 = [process_cpu_s(p.pid) or 0.0 for _, p in served]
                j0 = machine_jiffies()
                step = asyncio.run(open_step(bases, conversations=n, think_s=think_s, duration_s=duration_s))
                cpu = sum((process_cpu_s(p.pid) or 0.0) - c for (_, p), c in zip(served, cpu0, strict=True))
                j1 = machine_jiffies()
                if step["turns_ok"]:
                    step["server_cpu_ms_per_turn"] = round(1000 * cpu / step["turns_ok"], 1)
                if j0 and j1 and j1[1] > j0[1]:
                    step["machine_busy_share"] = round((j1[0] - j0[0]) / (j1[1] - j0[1]), 2)
                out["steps"].append(step)
                progress(f"capacity[{name} × {workers}]: {n}: p50/p99 {step['latency_ms']['p50']}/"
                         f"{step['latency_ms']['p99']} ms, {step['errors']} errors")
    finally:
        if database_url and schema:
            try:
                drop_schema(database_url, schema)
            except Exception as exc:
                out["cleanup_error"] = f"{type(exc).__name__}: {exc}"
    good = [s["conversations"] for s in out["steps"]
            if s["errors"] == 0 and s["latency_ms"]["p99"] is not None and s["latency_ms"]["p99"] <= TARGET_P99_MS]
    out["capacity"] = max(good, default=0)
    return out


def bench(*, quick: bool, steps: tuple[int, ...] | None = None, think_s: float | None = None,
          duration_s: float | None = None, database_url: str | None = None) -> JSON:
    """The ``capacity`` section: SQLite with one worker; PostgreSQL with one and two when ``database_url``."""
    started = time.perf_counter()
    steps = steps or (QUICK_STEPS if quick else FULL_STEPS)
    think_s = think_s or (3.0 if quick else THINK_S)
    duration_s = duration_s or (2 * think_s if quick else 3 * think_s)
    runs: list[JSON] = []
    with tempfile.TemporaryDirectory(prefix="tactful-bench-capacity-") as tmp:
        plans: list[tuple[str, int, str | None]] = [("sqlite", 1, None)]
        if database_url:
            plans += [("postgres", 1, database_url), ("postgres", 2, database_url)]
        for name, workers, url in plans:
            try:
                runs.append(_run(name, workers, Path(tmp), steps=steps, think_s=think_s, duration_s=duration_s,
                                 database_url=url))
            except Exception as exc:
                runs.append({"database": name, "workers": workers, "status": "error",
                             "error": f"{type(exc).__name__}: {exc}", "capacity": 0, "steps": []})
    targets = [Target(f"{r['database']}x{r['workers']}.capacity", r["capacity"], TARGET_CONVERSATIONS, "min",
                      note=f"open conversations with p99 <= {TARGET_P99_MS:g} ms, ~{think_s:g} s think time")
               for r in runs]
    data: JSON = {"engine": "offline", "think_time_s": think_s, "step_duration_s": duration_s,
                  "steps": list(steps), "cpu_count": os.cpu_count(), "runs": runs}
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    rows = [[f"{r['database']} × {r['workers']}", s["conversations"], s["offered_turns_per_s"],
             s["throughput_turns_per_s"], s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["errors"],
             s.get("server_cpu_ms_per_turn"), s.get("machine_busy_share")]
            for r in sec["runs"] for s in r["steps"]]
    lines = [f"Open conversations, ~{sec['think_time_s']:g} s think time, offline engine, {sec['cpu_count']} cores "
             "shared by the workers, the clients and the database:", ""]
    lines += table(["workers", "conversations", "offered turns/s", "turns/s", "p50 ms", "p99 ms", "errors",
                    "server CPU ms/turn", "machine busy"], rows)
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--capacity-steps", type=step_list, default=None, metavar="LIST",
                       help=f"open conversations per step (default {','.join(map(str, FULL_STEPS))})")
    group.add_argument("--capacity-think-s", type=positive_float, default=None, metavar="S",
                       help=f"mean think time between a reply and the next message (default {THINK_S:g})")
    group.add_argument("--capacity-duration", type=positive_float, default=None, metavar="S",
                       help="seconds per step (default 3 think times)")


SECTION = Section(
    name="capacity",
    title="Live-conversation capacity",
    summary="open conversations with think time one worker (and two on PostgreSQL) hold within p99 300 ms",
    run=lambda args: bench(quick=args.quick, steps=args.capacity_steps, think_s=args.capacity_think_s,
                           duration_s=args.capacity_duration, database_url=args.database_url),
    render=render,
    options=options,
)
