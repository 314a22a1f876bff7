"""Simulated users: a model (answered here by respx) plays the person from a persona and a goal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tactful.errors import InvalidModelOutputError
from tactful.evals.detectors import default_detectors
from tactful.evals.runner import EvalRunner
from tactful.evals.scenario import SupportScenario, load_all
from tactful.evals.scoring import Scorer
from tactful.evals.simulate import OpenAIUserSimulator
from tactful.settings import Settings

BASE = "http://llm.test/v1"

SCENARIO = """\
id: sim.card
product: support
title: Hurried person updating a card
context: {account_id: ACC-77, tier: pro, channel: mobile, device: mobile}
turns:
  - user: card declined, how do I update it
simulate:
  persona: A hurried shop owner on a phone who types in short bursts.
  goal: Get the card on file updated before the next invoice runs.
  max_turns: 4
expect:
  never_escalated: true
"""


def _completion(content: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "sim",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": json.dumps(content)},
                }
            ],
        },
    )


def _settings() -> Settings:
    return Settings(engine="offline", openai_base_url=BASE, openai_api_key="test-key", max_retries=3)  # type: ignore[arg-type]


def _scenario(tmp_path: Path) -> SupportScenario:
    (tmp_path / "sim.yaml").write_text(SCENARIO, encoding="utf-8")
    loaded, errors = load_all([tmp_path / "sim.yaml"])
    assert errors == []
    scenario = loaded[0].scenario
    assert isinstance(scenario, SupportScenario)
    return scenario


@respx.mock
def test_the_simulator_sends_persona_goal_and_transcript_and_returns_the_next_message(tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(
        return_value=_completion({"message": "still declined. now what", "done": False})
    )
    sim = OpenAIUserSimulator(_settings())
    message = asyncio.run(
        sim.next_message(_scenario(tmp_path), [("user", "card declined"), ("bot", "Go to Billing.")])
    )
    assert message is not None and message.text == "still declined. now what"
    sent = json.loads(route.calls.last.request.content)
    assert "hurried shop owner" in sent["messages"][0]["content"]
    assert "before the next invoice" in sent["messages"][0]["content"]
    assert [m["role"] for m in sent["messages"][1:]] == ["assistant", "user"]
    assert sent["response_format"]["type"] == "json_schema"


@respx.mock
def test_a_done_answer_ends_the_conversation(tmp_path: Path) -> None:
    respx.post(f"{BASE}/chat/completions").mock(return_value=_completion({"message": "", "done": True}))
    sim = OpenAIUserSimulator(_settings())
    assert asyncio.run(sim.next_message(_scenario(tmp_path), [("user", "hi"), ("bot", "hello")])) is None


@respx.mock
def test_an_answer_that_is_not_the_json_asked_for_is_re_asked_once_then_invalid(tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "sim",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "sure!"},
                    }
                ],
            },
        )
    )
    sim = OpenAIUserSimulator(_settings())
    with pytest.raises(InvalidModelOutputError):
        asyncio.run(sim.next_message(_scenario(tmp_path), []))
    assert route.call_count == 2


@respx.mock
def test_a_transient_server_error_is_retried(tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "busy"}}),
            _completion({"message": "card declined, how do I update it", "done": False}),
        ]
    )
    sim = OpenAIUserSimulator(_settings())
    message = asyncio.run(sim.next_message(_scenario(tmp_path), []))
    assert message is not None and route.call_count == 2


@respx.mock
def test_a_simulated_conversation_runs_against_the_graph_and_is_scored(tmp_path: Path) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        side_effect=[
            _completion({"message": "card declined, how do I update my card", "done": False}),
            _completion({"message": "done, updated it. thanks", "done": False}),
            _completion({"message": "", "done": True}),
        ]
    )
    settings = _settings()
    scenario = _scenario(tmp_path)
    runner = EvalRunner(settings, simulator=OpenAIUserSimulator(settings))
    loaded, _ = load_all([tmp_path / "sim.yaml"])
    run = asyncio.run(runner.run(loaded[0]))
    assert run.error is None and run.source == "simulated"
    assert [t.user for t in run.turns] == [
        "card declined, how do I update my card",
        "done, updated it. thanks",
    ]
    score = Scorer(default_detectors()).score(scenario, run)
    names = {c.name for c in score.checks}
    assert "never_escalated" in names  # conversation-level expectations apply
    assert not names & {"action", "intent", "reply_contains"}  # scripted per-turn ones do not
    assert score.bot_turns == 2
