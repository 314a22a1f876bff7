"""The handoff as a human-in-the-loop pause: the support graph waits in ``human`` on an ``interrupt()`` whose
value is the packet; ``Command(resume=...)`` is a person's reply or the hand-back; the HTTP service answers the
same pause, also on conversations handed off before the pause existed. Also the JSON run context and the
LangChain-style messages LangGraph tooling sends."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from tactful.agents.chat_messages import to_message
from tactful.agents.handoff.human import BACK_TO_BOT, HumanAnswer
from tactful.errors import InputError
from tactful.graphs.context import resolve_context, run_context
from tactful.graphs.support import compile_support_graph
from tactful.service.turns import TurnService
from tests.server_helpers import in_process, service_settings, services_of
from tests.support_helpers import shared_context

HUMAN = {"text": "let me talk to a person"}
CONFIG = {"configurable": {"thread_id": "t1"}}


def user(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_handoff_pauses_on_the_packet_and_a_resume_answers_it() -> None:
    graph = compile_support_graph(InMemorySaver())
    ctx = shared_context()
    out = await graph.ainvoke(user("let me talk to a person"), CONFIG, context=ctx)
    assert out["mode"] == "human"
    snapshot = await graph.aget_state(CONFIG)
    assert snapshot.next == ("human",)
    (pause,) = snapshot.interrupts
    assert pause.value == out["handoff"]

    await graph.ainvoke(user("hello? anyone?"), CONFIG, context=ctx)
    snapshot = await graph.aget_state(CONFIG)
    assert snapshot.interrupts and snapshot.values["messages"][-1]["text"] == "hello? anyone?"
    assert snapshot.values["messages"][-1]["role"] == "user"  # no bot reply while a person owns it

    await graph.ainvoke(Command(resume="Hi, my card is 4242 4242 4242 4242"), CONFIG, context=ctx)
    snapshot = await graph.aget_state(CONFIG)
    last = snapshot.values["messages"][-1]
    assert last["role"] == "human_agent" and "4242 4242" not in last["text"]
    assert snapshot.interrupts, "a reply keeps the conversation with the person"

    await graph.ainvoke(Command(resume={"action": "return", "agent": "ana"}), CONFIG, context=ctx)
    snapshot = await graph.aget_state(CONFIG)
    assert snapshot.next == () and not snapshot.interrupts
    assert {k: snapshot.values.get(k) for k in BACK_TO_BOT} == BACK_TO_BOT
    again = await graph.ainvoke(user("I forgot my password"), CONFIG, context=ctx)
    assert again["mode"] == "bot" and again["reply"]


async def test_an_invalid_answer_fails_the_run_and_leaves_the_pause() -> None:
    graph = compile_support_graph(InMemorySaver())
    ctx = shared_context()
    await graph.ainvoke(user("let me talk to a person"), CONFIG, context=ctx)
    with pytest.raises(InputError, match="action"):
        await graph.ainvoke(Command(resume={"action": "shout"}), CONFIG, context=ctx)
    with pytest.raises(InputError, match="needs some text"):
        HumanAnswer.read({"action": "reply", "text": "  "})
    assert (await graph.aget_state(CONFIG)).next == ("human",)


async def test_the_service_answers_the_same_pause(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (app, client):
        graph = services_of(app).turns.runner.graph
        config = TurnService.config("default", "h1")
        await client.post("/v1/conversations/h1/messages", json=HUMAN)
        paused = await graph.aget_state(config)
        hid = (await client.get("/v1/handoffs")).json()["items"][0]["id"]
        await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "Ana here.", "agent": "ana"})
        after_reply = await graph.aget_state(config)
        await client.post("/v1/events", json={"conversation_id": "h1", "events": [{"type": "failed_payment"}]})
        after_events = await graph.aget_state(config)
        await client.post(f"/v1/handoffs/{hid}/return", json={"agent": "ana"})
        returned = await graph.aget_state(config)
    assert paused.interrupts and paused.interrupts[0].value["reason"] == paused.values["handoff"]["reason"]
    assert after_reply.interrupts and after_reply.values["messages"][-1]["role"] == "human_agent"
    assert after_events.interrupts, "an update to a handed-off conversation leaves it paused"
    assert returned.next == () and returned.values["mode"] == "bot"


async def test_a_handed_off_conversation_without_a_pending_pause_is_paused_again_and_answered(
    tmp_path: Path,
) -> None:
    """A crash between a state update and the pause leaves a handed-off thread with no interrupt pending."""
    async with in_process(service_settings(tmp_path)) as (app, client):
        graph = services_of(app).turns.runner.graph
        config = TurnService.config("default", "old")
        await client.post("/v1/conversations/old/messages", json=HUMAN)
        values = (await graph.aget_state(config)).values
        await graph.aupdate_state(config, {"mode": "human", "handoff": values["handoff"]}, as_node="human")
        legacy = await graph.aget_state(config)
        hid = (await client.get("/v1/handoffs")).json()["items"][0]["id"]
        replied = await client.post(f"/v1/handoffs/{hid}/reply", json={"text": "Ana here."})
        resolved = await client.post(f"/v1/handoffs/{hid}/resolve", json={})
        bot = (await client.post("/v1/conversations/old/messages", json={"text": "how do I reset my password?"}))
    assert legacy.next == ("human",) and not legacy.interrupts
    assert replied.status_code == 200 and resolved.status_code == 200
    assert bot.json()["mode"] == "bot" and bot.json()["reply"]


def test_langchain_messages_are_read_into_the_transcript_shape() -> None:
    assert to_message({"role": "user", "content": "hi"})["text"] == "hi"
    assert to_message({"type": "human", "content": [{"type": "text", "text": "a"}, {"type": "image"}]})["text"] == "a"
    from_object = to_message(HumanMessage(content="yo", id="m-1"))
    assert from_object["role"] == "user" and from_object.get("message_id") == "m-1"
    assert to_message({"role": "assistant", "content": "ok"})["role"] == "bot"
    with pytest.raises(InputError, match="role"):
        to_message({"role": "tool", "content": "x"})
    with pytest.raises(InputError, match="some text"):
        to_message({"role": "user", "content": "  "})


async def test_a_json_run_context_resolves_to_the_cached_tenant_context() -> None:
    assert run_context(None).tenant == "default"
    with pytest.raises(InputError, match="unknown keys"):
        run_context({"tenant": "acme", "policy_dir": "/etc"})
    with pytest.raises(InputError, match="engine"):
        run_context({"engine": "gpt"})
    with pytest.raises(InputError, match="tenant"):
        run_context({"tenant": "../etc"})
    first = await resolve_context({"tenant": "default", "engine": "offline"})
    second = await resolve_context({"engine": "offline"})
    assert first is second and first.engine.name == "offline"
