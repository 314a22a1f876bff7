"""Load: concurrent conversations through a real ``tactful serve`` worker whose model is the fake OpenAI-compatible
server answering after 300 ms; the latency the service adds on top of the model, on SQLite and PostgreSQL.

Three processes on loopback: the fake model (``python -m tactful.bench.fake_openai``), one ``tactful serve`` worker
(``TACTFUL_ENGINE=openai`` pointed at the fake; SQLite in a temporary directory, or PostgreSQL in a throw-away
schema), and this one, the clients (one httpx ``AsyncClient`` with a connection per conversation).

A step of the ramp runs ``c`` conversations at once for a fixed time: each conversation posts its next message as
soon as the previous one is answered (no think time: ``c`` turns are in flight all the time), starting a new
conversation after ``turns_per_conversation`` messages. The added latency of a turn is its client-side latency
minus ``model_calls × model latency`` (the turn's own count of model calls). When the step's time is up, no new
message is sent; turns still in flight are awaited (bounded) and counted.

A full run adds one step of *open conversations with think time* on SQLite: 500 conversations, each person
waiting 15–45 s (30 s on average) between a reply and their next message — how a chat front end loads a worker.
It is reported beside the ramp, not scored: the target is read as concurrent turns (no think time).

Each step records the server's CPU time (all threads, and its busiest thread) and how busy the whole machine was,
because on a small machine the clients, the fake model and other work share the cores with the worker. The last
ramp step is profiled with py-spy (when installed): ``--gil`` samples, grouped by component.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Literal, NamedTuple

import httpx

from tactful.bench import profile
from tactful.bench.arguments import non_negative_float, positive_float
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
    thread_cpu_s,
)
from tactful.bench.economy import LONG_CONVERSATION
from tactful.bench.markdown import fmt, profile_lines, table
from tactful.bench.serve import drop_schema, fake_model, service

TARGET_CONCURRENCY = 500
TARGET_P99_ADDED_MS = 100.0
FULL_STEPS = (8, 50, 200, 500)
QUICK_STEPS = (4, 16)
OPEN_CONVERSATIONS = 500
THINK_S = 30.0
TURNS_PER_CONVERSATION = 5


# ---------------------------------------------------------------------------------------------- one step


class _Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple[float, float, str, int, bool]] = []  # start, end, status, model calls, degraded

    def add(self, start: float, end: float, status: str, calls: int = 0, degraded: bool = False) -> None:
        self.rows.append((start, end, status, calls, degraded))


async def _conversation_loop(client: httpx.AsyncClient, base: str, user: int, tag: str, stop_at: float,
                             delay: float, rec: _Recorder, think_s: float = 0.0) -> None:
    await asyncio.sleep(delay)
    pause = random.Random(user)
    sent = 0
    lines = LONG_CONVERSATION
    offset = (user * TURNS_PER_CONVERSATION) % len(lines)
    while time.perf_counter() < stop_at:
        conversation = f"bench-{tag}-{user}-{sent // TURNS_PER_CONVERSATION}"
        text = lines[(offset + sent % TURNS_PER_CONVERSATION) % len(lines)]
        started = time.perf_counter()
        try:
            r = await client.post(f"{base}/v1/conversations/{conversation}/messages",
                                  json={"text": text, "message_id": f"m{sent}"})
            ended = time.perf_counter()
            if r.status_code == 200:
                body = r.json()
                rec.add(started, ended, "200", int(body["usage"]["model_calls"]), bool(body.get("degraded")))
            else:
                rec.add(started, ended, str(r.status_code))
        except httpx.HTTPError as exc:
            rec.add(started, time.perf_counter(), type(exc).__name__)
        sent += 1
        if think_s:
            wait = pause.uniform(0.5 * think_s, 1.5 * think_s)
            if time.perf_counter() + wait >= stop_at:
                return
            await asyncio.sleep(wait)


class Driven(NamedTuple):
    rec: _Recorder
    unfinished: int
    started: float
    ended: float


async def drive(bases: Sequence[str], *, conversations: int, duration_s: float, drain_s: float, think_s: float,
                stagger_s: float) -> Driven:
    """``conversations`` people posting to ``bases`` (round-robin) for ``duration_s``, opening over ``stagger_s``
    and thinking ~``think_s`` between a reply and their next message; then at most ``drain_s`` for the turns
    in flight (those still unfinished are cancelled and counted)."""
    rec = _Recorder()
    tag = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=conversations + 8, max_keepalive_connections=conversations + 8)
    timeout = httpx.Timeout(duration_s + drain_s, connect=30.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        stop_at = started + duration_s
        tasks = [asyncio.create_task(_conversation_loop(client, bases[u % len(bases)], u, tag, stop_at,
                                                        stagger_s * u / conversations, rec, think_s))
                 for u in range(conversations)]
        _, pending = await asyncio.wait(tasks, timeout=duration_s + drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        ended = time.perf_counter()
    return Driven(rec, len(pending), started, ended)


async def run_step(base: str, *, concurrency: int, duration_s: float, model_latency_s: float,
                   drain_s: float, think_s: float = 0.0) -> JSON:
    """``concurrency`` conversations at once for ``duration_s``; then at most ``drain_s`` for the turns in
    flight. With ``think_s``, each person waits about that long between a reply and their next message."""
    # conversations open over the first second (or, with think time, over one think time), not in one burst
    stagger = think_s if think_s else min(1.0, duration_s / 4)
    rec, unfinished, started, ended = await drive([base], conversations=concurrency, duration_s=duration_s,
                                                  drain_s=drain_s, think_s=think_s, stagger_s=stagger)
    ok = [r for r in rec.rows if r[2] == "200"]
    latencies = [e - s for s, e, _, _, _ in ok]
    added = [e - s - calls * model_latency_s for s, e, _, calls, _ in ok]
    statuses: dict[str, int] = {}
    for row in rec.rows:
        statuses[row[2]] = statuses.get(row[2], 0) + 1
    if unfinished:
        statuses["unfinished"] = unfinished
    last_end = max((e for _, e, _, _, _ in ok), default=ended)
    calls = [c for _, _, _, c, _ in ok]
    out: JSON = {
        "concurrency": concurrency,
        "think_time_s": think_s,
        "duration_s": duration_s,
        "wall_s": round(ended - started, 2),
        "turns_ok": len(ok),
        "statuses": statuses,
        "errors": sum(v for k, v in statuses.items() if k != "200"),
        "throughput_turns_per_s": round(len(ok) / max(1e-9, last_end - started), 1),
        "model_calls_per_turn": round(sum(calls) / len(calls), 3) if calls else None,
        "degraded_turns": sum(1 for r in ok if r[4]),
        "latency_ms": {"p50": ms(percentile(latencies, 0.5)), "p90": ms(percentile(latencies, 0.9)),
                       "p99": ms(percentile(latencies, 0.99)), "max": ms(max(latencies, default=None))},
        "added_ms": {"p50": ms(percentile(added, 0.5)), "p90": ms(percentile(added, 0.9)),
                     "p99": ms(percentile(added, 0.99)), "max": ms(max(added, default=None))},
    }
    if think_s:
        out["offered_turns_per_s"] = round(concurrency / (think_s + model_latency_s), 1)
    return out


def _measured_step(proc: subprocess.Popen[bytes], url: str, **kwargs: float) -> JSON:
    """A step, with the server's CPU time (all threads; the busiest one) and the machine's busy share."""
    cpu0, threads0, jiffies0 = process_cpu_s(proc.pid), thread_cpu_s(proc.pid), machine_jiffies()
    step = asyncio.run(run_step(url, **kwargs))  # type: ignore[arg-type]
    cpu1, threads1, jiffies1 = process_cpu_s(proc.pid), thread_cpu_s(proc.pid), machine_jiffies()
    wall = step["wall_s"]
    if cpu0 is not None and cpu1 is not None and wall:
        used = cpu1 - cpu0
        busiest = max((v - threads0.get(k, 0.0) for k, v in threads1.items()), default=0.0)
        step["server_cpu"] = {
            "cpu_s": round(used, 2),
            "cores_used": round(used / wall, 2),
            "busiest_thread_share_of_wall": round(busiest / wall, 2),
            "cpu_ms_per_turn": round(1000 * used / step["turns_ok"], 1) if step["turns_ok"] else None,
        }
    if jiffies0 and jiffies1 and jiffies1[1] > jiffies0[1]:
        step["machine_busy_share"] = round((jiffies1[0] - jiffies0[0]) / (jiffies1[1] - jiffies0[1]), 2)
    return step


async def _sequential(base: str, *, turns: int, model_latency_s: float) -> JSON:
    """One conversation, one message at a time: the added latency of an idle worker."""
    tag = uuid.uuid4().hex[:6]
    added: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(turns):
            text = LONG_CONVERSATION[i % len(LONG_CONVERSATION)]
            conversation = f"bench-idle-{tag}-{i // TURNS_PER_CONVERSATION}"
            started = time.perf_counter()
            r = await client.post(f"{base}/v1/conversations/{conversation}/messages", json={"text": text})
            elapsed = time.perf_counter() - started
            r.raise_for_status()
            added.append(elapsed - r.json()["usage"]["model_calls"] * model_latency_s)
    return {"turns": turns, "added_ms": {"p50": ms(percentile(added, 0.5)), "max": ms(max(added))}}


# ---------------------------------------------------------------------------------------------- one backend


def _backend(name: str, model_url: str | None, tmp: Path, *, steps: tuple[int, ...], duration_s: float, drain_s: float,
             model_latency_s: float, database_url: str | None, profile_s: float | None, idle_turns: int,
             warmup_s: float, open_step: tuple[int, float, float] | None = None) -> JSON:
    schema = f"tactful_bench_{uuid.uuid4().hex[:10]}" if database_url else None
    data_dir = tmp / name
    data_dir.mkdir(parents=True, exist_ok=True)
    log = tmp / f"serve-{name}.log"
    result: JSON = {"status": "ok", "database": name, "workers": 1}
    try:
        with service(model_url, data_dir, log, database_url=database_url, schema=schema) as (url, proc):
            progress(f"load[{name}]: warm-up and an idle baseline")
            # warm-up: lazy imports, the first statements, connection set-up
            asyncio.run(run_step(url, concurrency=2, duration_s=warmup_s, model_latency_s=model_latency_s,
                                 drain_s=30))
            result["idle"] = asyncio.run(_sequential(url, turns=idle_turns, model_latency_s=model_latency_s))
            result["steps"] = []
            for i, c in enumerate(steps):
                progress(f"load[{name}]: {c} concurrent conversations for {duration_s:g} s")
                spy = None
                spy_out = tmp / f"profile-{name}-{c}.txt"
                if profile_s and i == len(steps) - 1:
                    spy = profile.record(proc.pid, seconds=min(profile_s, duration_s), out=spy_out)
                step = _measured_step(proc, url, concurrency=c, duration_s=duration_s,
                                      model_latency_s=model_latency_s, drain_s=drain_s)
                if profile_s and i == len(steps) - 1:
                    step["profile"] = profile.finish(spy, spy_out)
                result["steps"].append(step)
                progress(f"load[{name}]: {c} concurrent: {step['throughput_turns_per_s']} turns/s, "
                         f"p50/p99 added {step['added_ms']['p50']}/{step['added_ms']['p99']} ms, "
                         f"{step['errors']} errors")
            if open_step:
                conversations, think, seconds = open_step
                progress(f"load[{name}]: {conversations} open conversations, ~{think:g} s think time, "
                         f"for {seconds:g} s")
                step = _measured_step(proc, url, concurrency=conversations, duration_s=seconds,
                                      model_latency_s=model_latency_s, drain_s=drain_s, think_s=think)
                result["open_conversations"] = step
                progress(f"load[{name}]: open conversations: {step['throughput_turns_per_s']} turns/s, "
                         f"p50/p99 added {step['added_ms']['p50']}/{step['added_ms']['p99']} ms, "
                         f"{step['errors']} errors")
    finally:
        if database_url and schema:
            try:
                drop_schema(database_url, schema)
            except Exception as exc:  # a leftover schema must not hide the measurement
                result["cleanup_error"] = f"{type(exc).__name__}: {exc}"
    good = [s["concurrency"] for s in result["steps"]
            if s["errors"] == 0 and s["added_ms"]["p99"] is not None and s["added_ms"]["p99"] <= TARGET_P99_ADDED_MS]
    result["max_concurrency_within_target"] = max(good, default=0)
    return result


def bench(*, quick: bool, steps: tuple[int, ...] | None = None, duration_s: float | None = None,
          model_latency_ms: float = 300.0, database_url: str | None = None, profile_s: float | None = None,
          drain_s: float | None = None, open_conversations: bool | None = None,
          engine: Literal["openai", "offline"] = "openai") -> JSON:
    """The ``load`` section: SQLite always, PostgreSQL when ``database_url`` is given. ``engine="offline"`` runs
    the worker on the offline engine instead (no fake model; a turn's whole latency is the service's own)."""
    started = time.perf_counter()
    steps = steps or (QUICK_STEPS if quick else FULL_STEPS)
    duration_s = duration_s or (2.0 if quick else 10.0)
    drain_s = drain_s if drain_s is not None else (15.0 if quick else 35.0)
    if profile_s is None:
        profile_s = 0.0 if quick else 10.0
    latency_s = model_latency_ms / 1000 if engine == "openai" else 0.0
    if open_conversations is None:
        open_conversations = not quick
    open_step = (OPEN_CONVERSATIONS, THINK_S, 1.5 * THINK_S) if open_conversations else None
    backends: JSON = {}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="tactful-bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        model = fake_model(model_latency_ms, tmp / "fake-model.log") if engine == "openai" else nullcontext(None)
        with model as model_url:
            for name, url in (("sqlite", None), ("postgres", database_url)):
                if name == "postgres" and not url:
                    backends[name] = {"status": "skipped", "skipped": "skipped: DATABASE_URL not set"}
                    progress("load[postgres]: skipped: DATABASE_URL not set")
                    continue
                try:
                    data = _backend(name, model_url, tmp, steps=steps, duration_s=duration_s, drain_s=drain_s,
                                    model_latency_s=latency_s, database_url=url,
                                    profile_s=profile_s if profile.py_spy() else None,
                                    idle_turns=5 if quick else 10, warmup_s=0.5 if quick else 2.0,
                                    open_step=open_step if name == "sqlite" else None)
                except Exception as exc:
                    backends[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                    progress(f"load[{name}]: error: {exc}")
                    targets.append(Target(f"{name}.max_concurrency_within_p99", None, TARGET_CONCURRENCY, "min"))
                    continue
                backends[name] = data
                top = data["steps"][-1]
                targets.append(Target(f"{name}.max_concurrency_within_p99", data["max_concurrency_within_target"],
                                      TARGET_CONCURRENCY, "min",
                                      note=f"largest step with p99 added <= {TARGET_P99_ADDED_MS:g} ms and no errors"))
                targets.append(Target(f"{name}.p99_added_ms_at_{top['concurrency']}", top["added_ms"]["p99"],
                                      TARGET_P99_ADDED_MS, "max", unit="ms"))
    profile_note = None
    if profile_s and not profile.py_spy():
        profile_note = "skipped: py-spy is not installed (pip install py-spy)"
    data_out: JSON = {
        "engine": engine,
        "model_latency_ms": model_latency_ms if engine == "openai" else 0.0,
        "turns_per_conversation": TURNS_PER_CONVERSATION,
        "think_time_s": 0,
        "steps": list(steps),
        "step_duration_s": duration_s,
        "backends": backends,
    }
    if profile_note:
        data_out["profile"] = profile_note
    return section(targets, data_out, wall_s=time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------- report


def _step_row(s: JSON) -> list[object]:
    cpu = s.get("server_cpu") or {}
    return [s["concurrency"], s["turns_ok"], s["throughput_turns_per_s"], s["added_ms"]["p50"], s["added_ms"]["p99"],
            s["latency_ms"]["p99"], s["model_calls_per_turn"], s["errors"], cpu.get("cpu_ms_per_turn"),
            cpu.get("cores_used"), s.get("machine_busy_share")]


STEP_HEADER = ["concurrent", "turns", "turns/s", "added p50 ms", "added p99 ms", "latency p99 ms", "calls/turn",
               "errors", "server CPU ms/turn", "server cores", "machine busy"]


def render(sec: JSON) -> list[str]:
    model = ("offline engine (no model)" if sec.get("engine") == "offline"
             else f"Model latency {fmt(sec['model_latency_ms'])} ms")
    lines = [
        f"{model}; no think time; {sec['turns_per_conversation']} turns "
        f"per conversation; each step {fmt(sec['step_duration_s'])} s."
        + (f" Server profile {sec['profile']}." if sec.get("profile") else ""),
        "",
    ]
    for name, b in sec["backends"].items():
        if b.get("status") != "ok":
            lines += [f"**{name}**: {b.get('skipped') or b.get('error') or b.get('reason') or b.get('status')}", ""]
            continue
        idle = b.get("idle", {}).get("added_ms", {})
        lines += [f"**{name}** (1 worker; one conversation at a time: added p50 {fmt(idle.get('p50'))} ms):", ""]
        lines += table(STEP_HEADER, [_step_row(s) for s in b["steps"]])
        open_step = b.get("open_conversations")
        if open_step:
            lines += [
                f"Open conversations: {open_step['concurrency']} conversations, each person waiting "
                f"{fmt(open_step['think_time_s'] / 2)}–{fmt(1.5 * open_step['think_time_s'])} s between a reply and "
                f"their next message (offered ≈ {fmt(open_step.get('offered_turns_per_s'))} turns/s), "
                f"{fmt(open_step['duration_s'])} s — reported, not scored:",
                "",
            ]
            lines += table(STEP_HEADER, [_step_row(open_step)])
        for s in b["steps"]:
            if "profile" in s:
                prof = s["profile"]
                tool = prof.get("tool", "py-spy")
                lines += [f"py-spy profile of the server at {s['concurrency']} concurrent ({tool}; "
                          f"{fmt(prof.get('samples'))} samples), share by component:", ""]
                comps = prof.get("by_component", [])
                if comps:
                    lines += table([c["name"] for c in comps], [[f"{100 * c['share']:.1f} %" for c in comps]])
                lines += profile_lines(prof, key_self="self_by_function", key_pkg="self_by_package")
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--load-steps", type=step_list, default=None, metavar="LIST",
                       help="concurrent conversations per step (default "
                            f"{','.join(map(str, FULL_STEPS))}; {','.join(map(str, QUICK_STEPS))} with --quick)")
    group.add_argument("--load-duration", type=positive_float, default=None, metavar="S",
                       help="seconds per step (default 10; 2 with --quick)")
    group.add_argument("--model-latency-ms", type=non_negative_float, default=300.0, metavar="MS",
                       help="how long the fake model takes to answer (default 300)")
    group.add_argument("--load-engine", choices=["openai", "offline"], default="openai",
                       help="the worker's engine: openai against the fake model (default), or offline (no model: "
                            "the service's own throughput)")


SECTION = Section(
    name="load",
    title="Load",
    summary="concurrent conversations through a real tactful serve worker, SQLite and PostgreSQL",
    run=lambda args: bench(quick=args.quick, steps=args.load_steps, duration_s=args.load_duration,
                           model_latency_ms=args.model_latency_ms, database_url=args.database_url,
                           profile_s=0.0 if args.no_profile else None, engine=args.load_engine),
    render=render,
    options=options,
)
