"""Crash-resume on the default durability (``exit``: one checkpoint at the end of a turn): a turn logged but
stopped before its graph checkpointed runs again before the conversation's next message, once; a turn whose
checkpoint was written but whose record was not is recorded from the checkpoint, not run again."""

from __future__ import annotations

from pathlib import Path

from tactful.settings import Settings
from tests.server_helpers import assert_linear_history, in_process, service_settings, services_of

FIRST = {"text": "how do I reset my password?", "message_id": "m-1"}
SECOND = {"text": "and where is my order?", "message_id": "m-2"}


def test_the_default_durability_checkpoints_once_per_turn() -> None:
    assert Settings().durability == "exit"


async def test_a_logged_turn_a_crash_stopped_runs_again_before_the_next_message(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (app, client):
        turns = services_of(app).turns
        # What a process killed while the graph ran leaves behind: the log, and no checkpoint of the turn.
        request = {"text": FIRST["text"], "message_id": "m-1", "events": [], "context": None,
                   "fingerprint": None, "person_id": None}
        await turns.store.begin_turn("default", "lost", request, at="2026-01-01T00:00:00+00:00")
        assert (await turns.runner.values("lost")) is None
        second = await client.post("/v1/conversations/lost/messages", json=SECOND)
        retry = await client.post("/v1/conversations/lost/messages", json=FIRST)
        conversation = (await client.get("/v1/conversations/lost")).json()
        pending = await turns.store.pending_turn("default", "lost")
    assert second.status_code == 200 and second.json()["turn"] == 2
    assert retry.status_code == 200 and retry.json()["turn"] == 1  # the stored result: the turn ran once
    assert [m["text"] for m in conversation["messages"] if m["role"] == "user"] == [FIRST["text"], SECOND["text"]]
    assert_linear_history(conversation, {"m-1": retry.json(), "m-2": second.json()})
    assert pending is None


async def test_a_checkpointed_turn_without_its_record_is_recorded_not_run_again(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (app, client):
        turns = services_of(app).turns
        request = {"text": FIRST["text"], "message_id": "m-1", "events": [], "context": None,
                   "fingerprint": None, "person_id": None}
        # The graph finished (its checkpoint is written) and the process died before the turn was recorded.
        await turns.store.begin_turn("default", "late", request, at="2026-01-01T00:00:00+00:00")
        ran = await turns.runner.turn("late", FIRST["text"], message_id="m-1")
        assert await turns.store.last_turn("default", "late") == 0
        retry = await client.post("/v1/conversations/late/messages", json=FIRST)
        conversation = (await client.get("/v1/conversations/late")).json()
    assert retry.status_code == 200 and retry.json()["turn"] == 1 and retry.json()["reply"] == ran.reply
    assert [m["role"] for m in conversation["messages"]] == ["user", "bot"]


async def test_a_finished_turn_leaves_no_log(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path)) as (app, client):
        r = await client.post("/v1/conversations/done/messages", json=FIRST)
        pending = await services_of(app).turns.store.pending_turn("default", "done")
    assert r.status_code == 200 and pending is None
