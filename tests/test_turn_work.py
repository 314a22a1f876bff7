"""Work per turn: the runner reads the conversation's state once (LangGraph's own read at the start of the
run), hands its result over without a JSON round trip, and every routing function is a coroutine (a plain
function is run in a worker thread, a thread hop per edge)."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import RunnableConfig

from tactful.graphs.runner import SupportRunner, TurnResult
from tactful.graphs.support import build_support_graph, compile_support_graph
from tests.support_helpers import shared_context


class CountingSaver(InMemorySaver):
    reads = 0

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self.reads += 1
        return await super().aget_tuple(config)


async def test_a_turn_reads_the_state_once() -> None:
    saver = CountingSaver()
    ctx = shared_context()
    runner = SupportRunner(compile_support_graph(saver), lambda tenant: ctx)
    await runner.turn("w1", "how do I reset my password?")
    saver.reads = 0
    result = await runner.turn("w1", "and where is my order?")
    assert saver.reads == 1
    assert isinstance(result, TurnResult) and result.turn == 2


async def test_a_person_owned_turn_stays_silent_with_no_read_before_it() -> None:
    ctx = shared_context()
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    handed = await runner.turn("w2", "let me talk to a person")
    assert handed.action == "escalate" and handed.reply
    waiting = await runner.turn("w2", "hello? anyone there?")
    assert waiting.mode == "human" and waiting.action == "none" and waiting.reply is None


def test_every_routing_function_is_a_coroutine() -> None:
    branches: dict[str, Any] = build_support_graph().branches
    paths = [branch.path for by_name in branches.values() for branch in by_name.values()]
    assert set(branches) == {"finish", "human"}  # the edges ``aupdate_state(as_node=...)`` routes through
    assert all(p.func is None and p.afunc is not None for p in paths)
    graph = build_support_graph()
    routed = {"ingest", "input_guards", "decision_guards", "responder", "output_guard"}
    assert all(graph.nodes[name].ends for name in routed)  # these route themselves by ``Command``
