"""What grows with a conversation lives in the graph's store; the checkpointed state keeps windows, and the
packet, the conversation read and the runner's history still see every message."""

from __future__ import annotations

from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from tactful.agents.archive import WINDOW, forget, namespace, records
from tactful.agents.state import append_messages, append_or_trim
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tests.server_helpers import in_process, service_settings
from tests.support_helpers import shared_context

# Different questions that each get an answer (none restates the last, none asks for a person).
QUESTIONS = [
    "how do I reset my password?",
    "ok. where is my order right now?",
    "fine. how do I download last month's invoice?",
    "and how can I change the card I pay with?",
    "can I change where the parcel gets delivered?",
    "how do I turn on two-factor sign in?",
    "the export button on the dashboard does nothing",
    "how do I sign in with okta?",
]
TURNS = 16  # 32 messages: past the transcript's window of 20


def runner_with(store: InMemoryStore | None) -> SupportRunner:
    ctx = shared_context()
    return SupportRunner(compile_support_graph(InMemorySaver(), store=store), lambda tenant: ctx)


async def talk(runner: SupportRunner, conversation: str, turns: int = TURNS) -> None:
    for i in range(turns):
        await runner.turn(conversation, QUESTIONS[i % len(QUESTIONS)])


def test_a_trim_keeps_the_last_items_and_appending_goes_on() -> None:
    assert append_or_trim(["a", "b", "c"], [{"keep_last": 2}, "d"]) == ["b", "c", "d"]  # type: ignore[list-item]
    assert append_or_trim(["a"], [{"keep_last": 5}]) == ["a"]  # type: ignore[list-item]
    msgs = [{"role": "user", "text": str(i), "turn": i, "at": ""} for i in range(1, 4)]
    trimmed = append_messages(msgs, [{"keep_last": 1}, {"role": "user", "text": "x", "turn": 0, "at": ""}])  # type: ignore[list-item]
    assert [m["text"] for m in trimmed] == ["3", "x"] and trimmed[-1]["turn"] == 4  # stamped after the window


async def test_the_state_keeps_windows_and_the_history_has_every_message() -> None:
    store = InMemoryStore()
    archived, whole = runner_with(store), runner_with(None)
    await talk(archived, "a1")
    await talk(whole, "a1")
    values = await archived.values("a1")
    reference = await whole.values("a1")
    assert values is not None and reference is not None
    assert len(reference["messages"]) == 2 * TURNS  # no store: everything stays in state, as before
    assert len(values["messages"]) <= WINDOW["messages"] < 2 * TURNS
    assert len(values.get("tried", [])) <= WINDOW["tried"] < len(reference["tried"])
    history = await archived.history("a1", values)
    assert [(m["role"], m["text"], m["turn"]) for m in history["messages"]] == [
        (m["role"], m["text"], m["turn"]) for m in reference["messages"]
    ]
    assert history["tried"] == reference["tried"]
    assert history["guard_log"] == reference.get("guard_log", [])
    assert len(await records(store, "default:a1")) == TURNS  # one record per turn


async def test_a_late_handoff_packet_carries_the_whole_transcript() -> None:
    runner = runner_with(InMemoryStore())
    await talk(runner, "a2")
    result = await runner.turn("a2", "let me talk to a person please")
    assert result.mode == "human" and result.handoff is not None
    transcript = result.handoff["transcript"]
    assert len(transcript) == 2 * TURNS + 1  # every earlier message and this request
    assert transcript[0]["text"] == QUESTIONS[0] and transcript[-1]["text"] == "let me talk to a person please"
    assert len(result.handoff["tried"]) > WINDOW["tried"]


async def test_forget_deletes_a_conversations_archive_only() -> None:
    store = InMemoryStore()
    runner = runner_with(store)
    await talk(runner, "gone.1", turns=2)
    await talk(runner, "kept", turns=2)
    await forget(store, "default:gone.1")
    assert await records(store, "default:gone.1") == []
    assert len(await records(store, "default:kept")) == 2
    assert "." not in namespace("default:gone.1")[-1]  # a store's namespace labels may not hold dots


async def test_conversation_read_returns_every_message_past_the_window(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (_, client):
        for i in range(TURNS):
            r = await client.post("/v1/conversations/long/messages", json={"text": QUESTIONS[i % len(QUESTIONS)]})
            assert r.status_code == 200, r.text
        body = (await client.get("/v1/conversations/long")).json()
    assert len(body["messages"]) == 2 * TURNS
    assert [m["text"] for m in body["messages"] if m["role"] == "user"] == [
        QUESTIONS[i % len(QUESTIONS)] for i in range(TURNS)
    ]
