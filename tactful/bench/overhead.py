"""Orchestration overhead: an offline support turn against a bare LangGraph graph of the same shape (same number
of no-op nodes, same fan-out, same checkpointer), plus the time split between the specialists and the
checkpointer.

Both graphs run on their own SQLite file through the product's checkpointer (``OneTripSqliteSaver``, an
``AsyncSqliteSaver``), in interleaved blocks so both see the same machine conditions; the reported per-turn times
are the medians of the block means. The split times each specialist called directly (no graph) and, inside the
real support turns, the wall time spent in the checkpointer's write (``aput``, ``aput_writes``) and read
(``aget_tuple``) calls.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.memory import InMemoryStore

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import IntentRequest, ReplyRequest, SentimentRequest
from tactful.agents.policy.checker import PolicyInputs, decide
from tactful.agents.state import SupportState
from tactful.bench.arguments import positive_int
from tactful.bench.common import JSON, Section, Target, progress, section
from tactful.bench.markdown import fmt, table
from tactful.graphs.checkpoint import tune_sqlite_saver
from tactful.graphs.runner import SupportRunner
from tactful.graphs.sqlite_saver import OneTripSqliteSaver, OneTripSqliteStore
from tactful.graphs.support import build_support_graph, compile_support_graph
from tactful.settings import Settings

TARGET_RATIO = 2.0
MIN_FULL_TURNS = 1000

MESSAGES = [
    "I forgot my password",
    "the reset link never arrived",
    "where is my order",
    "can you send your soc 2 report",
    "how much does the business plan cost",
    "my 2fa code isn't working",
    "I want to change the delivery address",
    "is there an outage right now",
]


class TimedSqliteSaver(OneTripSqliteSaver):
    """The product's SQLite checkpointer (``OneTripSqliteSaver``) that measures the wall time during which at
    least one write (``aput``, ``aput_writes``) is in flight — LangGraph issues writes concurrently, so their
    durations overlap and are not summed — and the time spent in reads (``aget_tuple``)."""

    write_s: float = 0.0
    writes: int = 0
    read_s: float = 0.0
    reads: int = 0
    _in_flight: int = 0
    _busy_since: float = 0.0

    def reset(self) -> None:
        self.write_s, self.writes, self.read_s, self.reads = 0.0, 0, 0.0, 0

    def _enter(self) -> None:
        if self._in_flight == 0:
            self._busy_since = time.perf_counter()
        self._in_flight += 1
        self.writes += 1

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.write_s += time.perf_counter() - self._busy_since

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._enter()
        try:
            return await super().aput(config, checkpoint, metadata, new_versions)
        finally:
            self._leave()

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._enter()
        try:
            await super().aput_writes(config, writes, task_id, task_path)
        finally:
            self._leave()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        start = time.perf_counter()
        try:
            return await super().aget_tuple(config)
        finally:
            self.read_s += time.perf_counter() - start
            self.reads += 1


@asynccontextmanager
async def _saver(path: Path) -> AsyncIterator[TimedSqliteSaver]:
    async with TimedSqliteSaver.from_conn_string(str(path)) as saver:
        assert isinstance(saver, TimedSqliteSaver)
        await saver.setup()
        await tune_sqlite_saver(saver, Settings())  # the product's pragmas, so the checkpoint cost is the product's
        yield saver


def bare_graph() -> StateGraph[Any, Any, Any, Any]:
    """Same nodes and edges (conditional ones included) as the support graph; every node returns nothing."""
    g: StateGraph[Any, Any, Any, Any] = StateGraph(SupportState)

    async def noop(state: SupportState) -> dict[str, object]:
        return {}

    for name in ("ingest", "input_guards", "intent", "sentiment", "policy", "decision_guards", "responder",
                 "output_guard", "handoff", "finish"):
        g.add_node(name, noop)
    g.add_edge(START, "ingest")
    g.add_conditional_edges("ingest", lambda s: "input_guards", ["input_guards", END])
    g.add_conditional_edges("input_guards", lambda s: ["intent", "sentiment"],
                            ["intent", "sentiment", "responder", "handoff"])
    g.add_edge(["intent", "sentiment"], "policy")
    g.add_edge("policy", "decision_guards")
    g.add_conditional_edges("decision_guards", lambda s: "responder", ["responder", "handoff"])
    g.add_conditional_edges("responder", lambda s: "output_guard", ["output_guard", "handoff"])
    g.add_conditional_edges("output_guard", lambda s: "finish", ["handoff", "finish"])
    g.add_edge("handoff", "finish")
    g.add_edge("finish", END)
    return g


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


async def _timed(n: int, offset: int, step: Callable[[int], Awaitable[object]]) -> float:
    start = time.perf_counter()
    for i in range(n):
        await step(offset + i)
    return (time.perf_counter() - start) / n


async def measure(ctx: TurnContext, *, turns: int = 1000, conversations: int = 50, block: int = 100) -> JSON:
    """Raw figures: per-turn times of both graphs, the ratio and the split (microseconds)."""
    per_conv = max(1, turns // conversations)
    block = max(1, min(block, turns))
    durability = ctx.settings.durability  # the bare graph runs on the support turn's durability: like with like
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp:
        async with (
            _saver(Path(tmp) / "support.db") as cp_a,
            OneTripSqliteStore.from_conn_string(str(Path(tmp) / "support.db")) as archive,
            _saver(Path(tmp) / "bare.db") as cp_b,
        ):
            await archive.setup()  # the support graph keeps its transcripts' archive as the service does
            # ... with the service's pragma (tactful/service/backend.py): without it every archive commit fsyncs,
            # which the service never does (it made the support turn ~2.5x slower than the product's here)
            await archive.conn.execute(f"PRAGMA synchronous={Settings().sqlite_synchronous.upper()}")
            runner = SupportRunner(compile_support_graph(cp_a, store=archive), lambda tenant: ctx)
            bare = bare_graph().compile(checkpointer=cp_b)
            # the same two graphs on an in-memory checkpointer: the difference is what SQLite costs
            mem_runner = SupportRunner(compile_support_graph(InMemorySaver(), store=InMemoryStore()),
                                       lambda tenant: ctx)
            mem_bare = bare_graph().compile(checkpointer=InMemorySaver())

            # A conversation handed to a person ends at ``ingest`` from then on (the bot stays silent): such
            # turns would make the support graph look cheap, so a handed-off conversation is replaced by a new one.
            generation: Counter[int] = Counter()
            mix: Counter[str] = Counter()

            async def support_turn(i: int) -> object:
                k = i // per_conv
                result = await runner.turn(f"c{k}.{generation[k]}", MESSAGES[i % len(MESSAGES)])
                mix[f"{result.mode}/{result.action}"] += 1
                if result.mode == "human":
                    generation[k] += 1
                return result

            async def bare_turn(i: int) -> object:
                conv = f"c{i // per_conv}"
                msg = {"role": "user", "text": MESSAGES[i % len(MESSAGES)], "turn": 0, "at": ""}
                return await bare.ainvoke({"messages": [msg]}, {"configurable": {"thread_id": conv}},
                                          durability=durability)

            mem_generation: Counter[int] = Counter()

            async def mem_support_turn(i: int) -> object:
                k = i // per_conv
                result = await mem_runner.turn(f"c{k}.{mem_generation[k]}", MESSAGES[i % len(MESSAGES)])
                if result.mode == "human":
                    mem_generation[k] += 1
                return result

            async def mem_bare_turn(i: int) -> object:
                msg = {"role": "user", "text": MESSAGES[i % len(MESSAGES)], "turn": 0, "at": ""}
                return await mem_bare.ainvoke({"messages": [msg]}, {"configurable": {"thread_id": f"c{i // per_conv}"}},
                                              durability=durability)

            # warm-up on a conversation of its own (lazy imports, first statements prepared)
            await runner.turn("warm-up", MESSAGES[0])
            await bare.ainvoke({"messages": [{"role": "user", "text": "hi", "turn": 0, "at": ""}]},
                               {"configurable": {"thread_id": "warm-up"}}, durability=durability)
            await mem_support_turn(0)
            await mem_bare_turn(0)
            cp_a.reset()
            cp_b.reset()
            mix.clear()
            # Interleave in blocks so both see the same machine conditions; the in-memory variants run every
            # other block (they only calibrate the checkpointer's share).
            s_times, b_times, ms_times, mb_times = [], [], [], []
            for k, start in enumerate(range(0, turns, block)):
                n = min(block, turns - start)
                s_times.append(await _timed(n, start, support_turn))
                b_times.append(await _timed(n, start, bare_turn))
                if k % 2 == 0:
                    ms_times.append(await _timed(n, start, mem_support_turn))
                    mb_times.append(await _timed(n, start, mem_bare_turn))
                progress(f"overhead: {start + n}/{turns} turns of each graph")
            support_s, bare_s = _median(s_times), _median(b_times)
            mem_support_s, mem_bare_s = _median(ms_times), _median(mb_times)
            nodes = len([n for n in bare.get_graph().nodes if not n.startswith("__")])
            checkpoint = {
                "sqlite_cost_us_per_support_turn": round((support_s - mem_support_s) * 1e6, 1),
                "sqlite_cost_us_per_bare_turn": round((bare_s - mem_bare_s) * 1e6, 1),
                "support_turn_in_memory_us": round(mem_support_s * 1e6, 1),
                "bare_turn_in_memory_us": round(mem_bare_s * 1e6, 1),
                "support_write_us_per_turn": round(cp_a.write_s / turns * 1e6, 1),
                "support_write_calls_per_turn": round(cp_a.writes / turns, 2),
                "support_read_us_per_turn": round(cp_a.read_s / turns * 1e6, 1),
                "bare_write_us_per_turn": round(cp_b.write_s / turns * 1e6, 1),
                "bare_write_calls_per_turn": round(cp_b.writes / turns, 2),
                "bare_read_us_per_turn": round(cp_b.read_s / turns * 1e6, 1),
            }

    concurrent = await _concurrent(ctx, turns=max(40, turns // 4))
    in_graph = await _in_graph(ctx, turns=max(50, turns // 2))
    split = await _split(ctx, n=max(200, turns // 2))
    # what SQLite adds to a support turn (writes, plus the reads it makes at the start of a turn)
    split["checkpoint_writes"] = round(
        max(0.0, checkpoint["sqlite_cost_us_per_support_turn"] - checkpoint["support_read_us_per_turn"]), 1
    )
    split["checkpoint_reads"] = checkpoint["support_read_us_per_turn"]
    split["graph_runtime_and_rest"] = round(max(0.0, support_s * 1e6 - sum(split.values())), 1)
    return {
        "turns": turns,
        "conversations": conversations,
        "turns_per_conversation": per_conv,
        "support_turns_by_outcome": dict(sorted(mix.items())),
        "checkpointer": "OneTripSqliteSaver (file)",
        "support_turn_us": round(support_s * 1e6, 1),
        "bare_turn_us": round(bare_s * 1e6, 1),
        "ratio": round(support_s / bare_s, 3),
        "nodes": nodes,
        "support_us_per_node": round(support_s * 1e6 / nodes, 1),
        "bare_us_per_node": round(bare_s * 1e6 / nodes, 1),
        "added_us_per_turn": round((support_s - bare_s) * 1e6, 1),
        "split_us": split,
        "in_graph_us": in_graph,
        "checkpoint": checkpoint,
        "concurrent": concurrent,
    }


async def _concurrent(ctx: TurnContext, *, turns: int, conversations: int = 8) -> JSON:
    """Support turns of ``conversations`` conversations at once, on SQLite and in memory: whether the
    checkpointer, a single connection that takes one call at a time, caps a worker's throughput (it does when
    a write is in flight nearly all the time and SQLite's rate stays far below the in-memory one)."""

    async def rate(runner: SupportRunner, saver: TimedSqliteSaver | None, tag: str) -> JSON:
        per = max(1, turns // conversations)

        async def one(c: int) -> None:
            generation = 0
            for j in range(per):
                result = await runner.turn(f"{tag}{c}.{generation}", MESSAGES[(c + j) % len(MESSAGES)])
                if result.mode == "human" or j % 5 == 4:
                    generation += 1

        await runner.turn(f"{tag}-warm-up", MESSAGES[0])
        if saver is not None:
            saver.reset()
        start = time.perf_counter()
        await asyncio.gather(*(one(c) for c in range(conversations)))
        elapsed = time.perf_counter() - start
        out: JSON = {"turns_per_s": round(per * conversations / elapsed, 1)}
        if saver is not None:
            out["write_in_flight_share"] = round(saver.write_s / elapsed, 2)
        return out

    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp:
        async with _saver(Path(tmp) / "concurrent.db") as saver:
            sqlite = await rate(SupportRunner(compile_support_graph(saver), lambda tenant: ctx), saver, "s")
    memory = await rate(SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx), None, "m")
    return {"conversations": conversations, "sqlite": sqlite, "in_memory": memory}


async def _in_graph(ctx: TurnContext, *, turns: int) -> dict[str, float]:
    """Mean microseconds per turn of each node's own work measured inside the real support graph (in memory),
    and the rest of the turn (LangGraph's runtime, the runner): the split that calls the specialists directly
    leaves out what they cost where they run."""
    spent: dict[str, float] = defaultdict(float)

    def wrap(name: str, node: Any) -> Any:
        takes_runtime = "runtime" in inspect.signature(node).parameters

        async def timed(state: Any, runtime: Any) -> Any:
            start = time.perf_counter()
            try:
                return await node(state, runtime) if takes_runtime else await node(state)
            finally:
                spent[name] += time.perf_counter() - start

        timed.__name__ = name
        return timed

    runner = SupportRunner(build_support_graph(wrap=wrap).compile(checkpointer=InMemorySaver()), lambda t: ctx)
    await runner.turn("warm-up", MESSAGES[0])
    spent.clear()
    start = time.perf_counter()
    generation = 0
    for i in range(turns):
        result = await runner.turn(f"g{i // 10}.{generation}", MESSAGES[i % len(MESSAGES)])
        if result.mode == "human":
            generation += 1
    total = time.perf_counter() - start
    out = {name: round(s / turns * 1e6, 1) for name, s in sorted(spent.items())}
    out["nodes_total"] = round(sum(spent.values()) / turns * 1e6, 1)
    out["turn"] = round(total / turns * 1e6, 1)
    out["runtime_and_rest"] = round(out["turn"] - out["nodes_total"], 1)
    return out


async def _split(ctx: TurnContext, *, n: int) -> dict[str, float]:
    """Mean microseconds of each specialist's work, called directly (no graph)."""
    off = ctx.offline
    out: dict[str, float] = {}

    def clock(name: str, fn: Callable[[int], object]) -> None:
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        out[name] = round((time.perf_counter() - start) / n * 1e6, 1)

    clock("classification", lambda i: off.classify_now(IntentRequest(turn_key="b", text=MESSAGES[i % 8])))
    clock("sentiment", lambda i: off.assess_now(SentimentRequest(turn_key="b", text=MESSAGES[i % 8], turn=1)))
    inputs = PolicyInputs(intent="password_reset", confidence=0.9, margin=0.8, risk="low", out_of_scope=False,
                          frustration=0.1, urgency=0.0, score=0.0, trend="steady", value=0.0, tier="free",
                          prior_escalations=0, failures=0, clarifications=0)
    clock("policy", lambda i: decide(ctx.bundle, inputs, options=[]))
    guards = ctx.guards
    clock("guards", lambda i: (guards.input_checks(MESSAGES[i % 8], turn=1, injection_attempts=0),
                               guards.output_check("You can reset it from the sign-in page.", turn=1)))
    req = ReplyRequest(turn_key="b", action="respond", tone="standard",
                       intent={"label": "password_reset", "confidence": 0.9, "runner_up": None,
                               "out_of_scope": False, "risk": "low", "queue": "account_access",
                               "source": "offline"},
                       sentiment=None, decision=None, context={}, messages=[])
    clock("templating", lambda i: off.render(req))
    return out


def run(ctx: TurnContext, *, turns: int) -> dict[str, Any]:
    return asyncio.run(measure(ctx, turns=turns))


def bench(*, quick: bool, turns: int | None = None) -> JSON:
    """The ``overhead`` section: ≥ 1,000 turns of each graph in a full run (100 in ``--quick``)."""
    from tactful.graphs.context import build_context

    started = time.perf_counter()
    turns = turns or (100 if quick else MIN_FULL_TURNS)
    ctx = build_context(Settings(engine="offline"), cache=False)
    data = asyncio.run(measure(ctx, turns=turns, block=50 if quick else 100))
    note = None if turns >= MIN_FULL_TURNS else f"{turns} turns (a full run uses >= {MIN_FULL_TURNS})"
    targets = [Target("ratio", data["ratio"], TARGET_RATIO, "max", note=note)]
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    lines = table(
        ["", "support turn", "bare LangGraph turn", "ratio", "per node (support)", "nodes", "turns"],
        [["µs", sec["support_turn_us"], sec["bare_turn_us"], sec["ratio"], sec["support_us_per_node"],
          sec["nodes"], sec["turns"]]],
    )
    outcomes = sec.get("support_turns_by_outcome")
    if outcomes:
        lines += ["Support turns by outcome: " + ", ".join(f"{k} {v}" for k, v in outcomes.items())
                  + " (a handed-off conversation is replaced by a new one).", ""]
    split = sec.get("split_us", {})
    lines += ["Split of a support turn (µs; specialists called directly, checkpointer measured in the real turns):",
              ""]
    lines += table(list(split), [list(split.values())])
    cp = sec.get("checkpoint", {})
    if cp:
        lines += [
            f"Checkpointer: SQLite adds {fmt(cp.get('sqlite_cost_us_per_support_turn'))} µs to a support turn "
            f"(in memory: {fmt(cp.get('support_turn_in_memory_us'))} µs) and "
            f"{fmt(cp.get('sqlite_cost_us_per_bare_turn'))} µs to a bare turn "
            f"(in memory: {fmt(cp.get('bare_turn_in_memory_us'))} µs); "
            f"{fmt(cp.get('support_write_calls_per_turn'))} write calls per turn, a write in flight for "
            f"{fmt(cp.get('support_write_us_per_turn'))} µs of each support turn.",
            "",
        ]
    inside = sec.get("in_graph_us")
    if inside:
        lines += ["Inside the support graph (µs per turn, in memory; each node's own work, then LangGraph and the "
                  "runner):", ""]
        lines += table(list(inside), [list(inside.values())])
    conc = sec.get("concurrent")
    if conc:
        lines += [
            f"{conc['conversations']} conversations at once (offline, in process): SQLite "
            f"{fmt(conc['sqlite']['turns_per_s'])} turns/s with a checkpoint write in flight "
            f"{fmt(100 * conc['sqlite'].get('write_in_flight_share', 0))} % of the time; in memory "
            f"{fmt(conc['in_memory']['turns_per_s'])} turns/s.",
            "",
        ]
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--turns", type=positive_int, default=None, metavar="N",
                       help=f"turns of each graph (default {MIN_FULL_TURNS}; 100 with --quick)")


SECTION = Section(
    name="overhead",
    title="Orchestration overhead",
    summary="an offline support turn against a bare LangGraph graph of the same shape",
    run=lambda args: bench(quick=args.quick, turns=args.turns),
    render=render,
    options=options,
)
