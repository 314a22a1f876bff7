"""The service against a misbehaving OpenAI-compatible server on loopback (real HTTP and SSE): every malformed
answer still gives the turn a reply, within three model requests, and a turn recorded as done always has its
reply — also when the graph itself fails, and when even the offline engine fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tactful.agents.engine.offline import OfflineEngine
from tactful.agents.engine.seam import DraftChunk, Engine, Fallback, ReplyRequest
from tactful.agents.responder.templates import load_templates
from tactful.bench.fake_openai import FAULTS, FakeModelConfig, FakeOpenAIServer
from tactful.settings import Settings
from tests.server_helpers import in_process, service_settings, services_of

HELLO = {"text": "i cant get in, the reset link never came", "message_id": "m-1"}


@pytest.fixture
def fake_model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(FakeModelConfig(latency_s=0.0)) as server:
        yield server


def model_settings(tmp_path: Path, server: FakeOpenAIServer, **overrides: Any) -> Settings:
    return service_settings(
        tmp_path,
        engine="openai",
        openai_base_url=server.base_url,
        openai_api_key="test-key",
        retry_backoff_base_s=0.01,
        retry_backoff_max_s=0.02,
        offline_confidence_skip=1.01,  # always ask the model for the analysis
        breaker_failures=100,
        **overrides,
    )


@pytest.mark.parametrize("fault", FAULTS)
async def test_every_malformed_answer_still_answers_the_turn_and_a_retry_replays_it(
    tmp_path: Path, fake_model: FakeOpenAIServer, fault: str
) -> None:
    fake_model.config.always = fault
    async with in_process(model_settings(tmp_path, fake_model)) as (app, client):
        first = await client.post("/v1/conversations/f1/messages", json=HELLO)
        assert first.status_code == 200, first.text
        sent = fake_model.config.calls
        fake_model.config.always = None  # the model is healthy again
        again = await client.post("/v1/conversations/f1/messages", json=HELLO)
        stored = await services_of(app).turns.store.turns("default", "f1")
    assert first.json()["reply"] and first.json()["degraded"] is True
    assert sent <= 3  # one budget for the whole turn
    assert again.status_code == 200 and again.json()["reply"] == first.json()["reply"]
    assert fake_model.config.calls == sent  # replayed from the record, not run again
    assert [t.result.reply for t in stored] == [first.json()["reply"]]


class _BrokenDraft:
    """An engine with a bug in its reply (not a model failure): the graph raises mid-turn."""

    name = "broken"

    def __init__(self, offline: Fallback) -> None:
        self.offline = offline

    def __getattr__(self, name: str) -> Any:
        return getattr(self.offline, name)

    async def draft(self, request: ReplyRequest) -> AsyncIterator[DraftChunk]:
        raise RuntimeError("a bug in the engine")
        yield DraftChunk(text="")  # pragma: no cover - makes this an async generator


def _broken(settings: Settings, offline: Fallback) -> Engine:
    engine: Engine = _BrokenDraft(offline)  # type: ignore[assignment]
    return engine


async def test_a_turn_whose_graph_fails_is_finished_offline_and_recorded_with_its_reply(tmp_path: Path) -> None:
    async with in_process(service_settings(tmp_path), engine_factory=_broken) as (app, client):
        first = await client.post("/v1/conversations/g1/messages", json=HELLO)
        again = await client.post("/v1/conversations/g1/messages", json=HELLO)
        read = await client.get("/v1/conversations/g1")
        stored = await services_of(app).turns.store.turns("default", "g1")
    assert first.status_code == 200, first.text
    assert first.json()["reply"] and first.json()["mode"] == "bot"
    assert again.status_code == 200 and again.json()["reply"] == first.json()["reply"]
    assert [m["role"] for m in read.json()["messages"]] == ["user", "bot"]
    assert len(stored) == 1 and stored[0].result.reply == first.json()["reply"]


async def test_when_even_the_offline_engine_fails_the_turn_is_closed_with_the_apology(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: OfflineEngine, request: ReplyRequest) -> str:
        raise RuntimeError("a bug in the templates")

    monkeypatch.setattr(OfflineEngine, "render", fail)
    settings = service_settings(tmp_path)
    apology = load_templates(Path(settings.prompts_dir)).unavailable.pick("standard")
    async with in_process(settings) as (app, client):
        first = await client.post("/v1/conversations/a1/messages", json=HELLO)
        again = await client.post("/v1/conversations/a1/messages", json=HELLO)
        stored = await services_of(app).turns.store.turns("default", "a1")
    assert first.status_code == 200, first.text
    assert first.json()["reply"] == apology and first.json()["degraded"] is True
    assert again.json()["reply"] == apology
    assert len(stored) == 1 and stored[0].result.reply == apology
