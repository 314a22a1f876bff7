"""Every way a model answer can be malformed is retried within one per-turn budget, counted by the breaker, and then
answered by the offline engine; a streamed reply the deadline cuts ends on a sentence boundary.

The real ``openai`` client talks to respx, which answers the malformed bodies a misbehaving OpenAI-compatible
server sends (``tests/test_service_model_faults.py`` does the same against a fake server on loopback).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import respx
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.agents.engine.analysis import analysis_type
from tactful.agents.engine.openai_compatible import OpenAIEngine
from tactful.agents.engine.schema import strict_schema
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings
from tests.support_helpers import shared_context
from tests.test_openai_engine import (
    ANALYSIS,
    FakeClock,
    FakeSleep,
    _summary_request,
    collect,
    completion,
    engine,
    error,
    intent_request,
    llm,
    reply_request,
    settings,
    sse,
)

__all__ = ["llm"]  # the respx route fixture

GOOD = json.loads(completion(json.dumps(ANALYSIS)).content)


def body(content: bytes, *, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(200, content=content, headers={"content-type": content_type})


MALFORMED: dict[str, Callable[[], httpx.Response]] = {
    "truncated JSON on a 200": lambda: body(json.dumps(GOOD).encode()[:90]),
    "HTML on a 200": lambda: body(b"<html><body>Bad gateway</body></html>"),
    "an envelope that is not a chat completion": lambda: body(b'{"result": "password_reset"}'),
    "a JSON list": lambda: body(b"[1, 2, 3]"),
    "choices null": lambda: body(json.dumps({**GOOD, "choices": None}).encode()),
    "empty choices": lambda: body(json.dumps({**GOOD, "choices": []}).encode()),
    "a choice without a message": lambda: body(json.dumps({**GOOD, "choices": [{"index": 0}]}).encode()),
}


def model_context(cfg: Settings, *, clock: FakeClock | None = None) -> TurnContext:
    base = shared_context()
    eng = OpenAIEngine(settings=cfg, fallback=base.offline, sleep=FakeSleep(), clock=clock or FakeClock())
    return dataclasses.replace(base, settings=cfg, engine=eng)


def runner_for(ctx: TurnContext) -> SupportRunner:
    return SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)


# ---------------------------------------------------------------------- malformed answers are retried


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_a_malformed_answer_is_retried_and_the_next_good_one_used(llm: respx.Route, kind: str) -> None:
    llm.mock(side_effect=[MALFORMED[kind](), completion(json.dumps(ANALYSIS))])
    eng = engine()
    result = await eng.classify(intent_request())
    assert llm.call_count == 2
    assert result.source == "model" and not result.degraded
    assert eng.client.breaker.failures == 0  # the success closed the count again


@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_malformed_answers_until_the_budget_is_spent_are_answered_offline(
    llm: respx.Route, kind: str
) -> None:
    llm.mock(side_effect=lambda request: MALFORMED[kind]())
    eng = engine(settings(max_retries=5, breaker_failures=10))
    result = await eng.classify(intent_request())
    assert llm.call_count == 3  # the turn's budget, although max_retries would allow 6
    assert result.degraded and result.source == "offline"
    assert eng.client.breaker.failures == 3  # every malformed answer counted


async def test_an_answer_of_the_wrong_schema_is_reasked_within_the_same_budget(llm: respx.Route) -> None:
    llm.mock(return_value=completion('{"intent": "password_reset"}'))
    eng = engine(settings(breaker_failures=10))
    result = await eng.classify(intent_request())
    assert llm.call_count == 2  # the answer and one re-ask
    assert result.degraded
    assert eng.client.breaker.failures == 2  # invalid output is a failure too


async def test_the_derived_schema_carries_the_bounds_and_the_label_enums(llm: respx.Route) -> None:
    llm.mock(return_value=completion(json.dumps(ANALYSIS)))
    await engine().classify(intent_request())
    sent = json.loads(llm.calls[0].request.content)["response_format"]["json_schema"]["schema"]
    props = sent["properties"]
    assert props["confidence"]["minimum"] == 0 and props["confidence"]["maximum"] == 1
    assert props["urgency"]["maximum"] == 1 and props["frustration"]["minimum"] == 0
    assert props["sentiment"]["enum"] == ["calm", "positive", "negative", "frustrated", "distressed"]
    assert "password_reset" in props["intent"]["enum"]
    assert sent["additionalProperties"] is False and set(sent["required"]) == set(props)
    labels = tuple(props["intent"]["enum"])
    assert sent == strict_schema(analysis_type(labels))  # derived from the pydantic type, not written by hand


# ---------------------------------------------------------------------- one budget per turn


async def test_a_failing_model_gets_at_most_three_requests_per_turn(llm: respx.Route) -> None:
    llm.mock(return_value=error(503))
    ctx = model_context(settings(max_retries=3, breaker_failures=100))
    result = await runner_for(ctx).turn("b1", "i cant get in, reset link never came")
    assert llm.call_count == 3  # analysis and reply together, not 4 + 4
    assert result.degraded and result.reply
    assert result.usage["model_calls"] == 3


async def test_the_handoff_summary_draws_on_the_same_budget_as_the_analysis(llm: respx.Route) -> None:
    llm.mock(return_value=error(500))
    eng = engine(settings(max_retries=3, breaker_failures=100))
    await eng.classify(intent_request(key="c:4"))  # spends the turn's three requests
    summary = await eng.summarize(_summary_request(4))  # turn key c:4:handoff: the same turn
    assert llm.call_count == 3
    assert summary.degraded and summary.source == "offline" and summary.summary


async def test_concurrent_turns_open_the_breaker_together_instead_of_each_retrying_in_full(
    llm: respx.Route,
) -> None:
    llm.mock(return_value=error(500))
    ctx = model_context(settings(max_retries=3, breaker_failures=5))
    runner = runner_for(ctx)
    texts = [f"i cant get in, reset link never came (case {i})" for i in range(10)]
    results = await asyncio.gather(*(runner.turn(f"c{i}", t) for i, t in enumerate(texts)))
    assert all(r.reply and r.degraded for r in results)
    assert ctx.engine.client.breaker.state == "open"  # type: ignore[attr-defined]
    # Each turn's first try, plus the few retries that start before the fifth failure opens it; then none (each
    # turn retrying in full would be 10 x 3 requests).
    assert llm.call_count <= 10 + 5


# ---------------------------------------------------------------------- streams


def sse_body(text: str) -> httpx.Response:
    return body(text.encode(), content_type="text/event-stream")


def chunk(content: str, finish: str | None = None) -> str:
    event = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}
    return "data: " + json.dumps(event) + "\n\n"


async def test_a_stream_cut_before_its_first_sentence_is_retried(llm: respx.Route) -> None:
    cut = chunk("Open the sign-in") + chunk(" page")[:40]  # ends mid-line, never finishes
    llm.mock(side_effect=[sse_body(cut), sse(["Open the sign-in page and choose Forgot password."])])
    text, chunks = await collect(engine(), reply_request())
    assert llm.call_count == 2
    assert text == "Open the sign-in page and choose Forgot password."
    assert not chunks[-1].degraded


async def test_a_truncated_data_line_after_a_sentence_ends_the_reply_on_that_sentence(llm: respx.Route) -> None:
    broken = chunk("I can help you get back in. ") + chunk("Open the sign-in page, and")
    broken += "data: " + chunk(" choose")[6:40] + "\n\n" + "data: [DONE]\n\n"
    llm.mock(return_value=sse_body(broken))
    eng = engine(settings(breaker_failures=10))
    text, chunks = await collect(eng, reply_request())
    assert llm.call_count == 1  # text already went out: not retried
    footer = shared_context().offline.human_footer("standard")
    assert text == "I can help you get back in. \n" + footer
    assert "and" not in text.replace(footer, "")
    assert chunks[-1].degraded
    assert eng.client.breaker.failures == 1


async def test_a_stream_without_its_end_is_answered_by_the_template_when_nothing_was_complete(
    llm: respx.Route,
) -> None:
    llm.mock(side_effect=lambda request: sse_body(chunk("Open the sign-in page and")))
    eng = engine(settings(breaker_failures=10))
    text, chunks = await collect(eng, reply_request())
    assert llm.call_count == 3
    assert text == shared_context().offline.render(reply_request())
    assert chunks[-1].degraded and eng.client.breaker.failures == 3


async def test_the_output_token_cap_drops_the_unfinished_sentence(llm: respx.Route) -> None:
    capped = chunk("Open Settings, then Security. ") + chunk("Then choose Reset and", finish="length")
    llm.mock(return_value=sse_body(capped + "data: [DONE]\n\n"))
    text, chunks = await collect(engine(), reply_request())
    assert text == "Open Settings, then Security. "
    assert not chunks[-1].degraded


class _SlowStream(httpx.AsyncByteStream):
    """SSE events whose delivery moves the engine's clock on: the turn deadline passes mid-reply."""

    def __init__(self, events: list[tuple[str, float]], clock: FakeClock) -> None:
        self.events = events
        self.clock = clock

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event, seconds in self.events:
            self.clock.now += seconds
            yield event.encode()


async def test_a_reply_the_turn_deadline_cuts_ends_on_a_sentence_boundary(llm: respx.Route) -> None:
    clock = FakeClock()
    cfg = settings(turn_deadline_s=45.0, offline_confidence_skip=0.0)
    events = [
        (chunk("Sorry the reset link never came. "), 1.0),
        (chunk("Open the sign-in page, "), 1.0),
        (chunk("enter the email on your account, and"), 60.0),  # the deadline passes here
        (chunk(" choose Forgot password.", finish="stop"), 0.0),
        ("data: [DONE]\n\n", 0.0),
    ]
    llm.mock(
        side_effect=lambda request: httpx.Response(
            200, stream=_SlowStream(events, clock), headers={"content-type": "text/event-stream"}
        )
    )
    ctx = model_context(cfg, clock=clock)
    streamed = [e async for e in runner_for(ctx).stream("d1", "I forgot my password")]
    shown = "".join(e.data["text"] for e in streamed if e.type == "token")
    result = streamed[-1].data
    assert llm.call_count == 1
    assert shown.startswith("Sorry the reset link never came. ")
    for unfinished in ("Open the sign-in page", "enter the email", "and"):
        assert unfinished not in shown and unfinished not in result["reply"]
    assert result["reply"] == shown  # what the client saw is what was stored
    assert result["degraded"] is True
