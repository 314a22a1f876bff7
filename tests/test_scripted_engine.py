"""The scripted engine: answers from lists, records its calls, falls back, and drives the real graph."""

from __future__ import annotations

import dataclasses

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.engine.scripted import ScriptedEngine
from tactful.agents.engine.seam import IntentRequest, IntentResult, ReplyRequest, SentimentRequest, SummaryRequest
from tactful.errors import EngineError, ModelUnavailableError
from tactful.graphs.runner import SupportRunner
from tactful.graphs.support import compile_support_graph
from tests.support_helpers import shared_context


def _reply_request() -> ReplyRequest:
    return ReplyRequest(
        turn_key="c:1",
        action="respond",
        tone="standard",
        intent=None,
        sentiment=None,
        decision=None,
        context={},
        messages=[],
    )


async def _draft(engine: ScriptedEngine) -> tuple[str, bool]:
    chunks = [c async for c in engine.draft(_reply_request())]
    return "".join(c.text for c in chunks), any(c.degraded for c in chunks)


async def test_answers_come_from_the_lists_in_order_and_calls_are_recorded() -> None:
    engine = ScriptedEngine(
        replies=["First reply. Two sentences.", "Second reply."],
        intents=["billing_dispute", IntentResult(label="order_status", confidence=0.6, source="scripted")],
        summaries=["Customer disputes the March invoice."],
    )
    assert await _draft(engine) == ("First reply. Two sentences.", False)
    assert await _draft(engine) == ("Second reply.", False)
    first = await engine.classify(IntentRequest(turn_key="c:1", text="my bill is wrong"))
    second = await engine.classify(IntentRequest(turn_key="c:2", text="where is it"))
    assert (first.label, first.confidence, first.source) == ("billing_dispute", 1.0, "scripted")
    assert (second.label, second.confidence) == ("order_status", 0.6)
    summary = await engine.summarize(
        SummaryRequest(
            turn_key="c:2:handoff", messages=[], intent=None, sentiment=None, reason="x", tried=[], context={}
        )
    )
    assert summary.summary == "Customer disputes the March invoice."
    assert [c.kind for c in engine.calls] == ["draft", "draft", "classify", "classify", "summarize"]
    assert engine.calls[2].request.text == "my bill is wrong"  # type: ignore[union-attr]
    assert {c.answered_by for c in engine.calls} == {"script"}
    engine.assert_used_up()


async def test_assert_used_up_names_what_was_never_asked_for() -> None:
    engine = ScriptedEngine(replies=["one", "two"])
    await _draft(engine)
    assert engine.remaining()["draft"] == 1
    with pytest.raises(AssertionError, match="draft"):
        engine.assert_used_up()


async def test_a_scripted_failure_falls_back_and_marks_the_result_degraded() -> None:
    offline = shared_context().offline
    engine = ScriptedEngine(
        replies=[ModelUnavailableError("down")], sentiments=[ModelUnavailableError("down")], fallback=offline
    )
    text, degraded = await _draft(engine)
    assert text == offline.render(_reply_request())
    assert degraded
    result = await engine.assess(SentimentRequest(turn_key="c:1", text="this is broken again", turn=1))
    assert result.degraded and result.source == "offline"
    assert [c.answered_by for c in engine.calls] == ["failure", "failure"]


async def test_without_a_fallback_running_out_or_failing_raises() -> None:
    with pytest.raises(EngineError, match="no more answers for classify"):
        await ScriptedEngine().classify(IntentRequest(turn_key="c:1", text="hi"))
    with pytest.raises(ModelUnavailableError):
        await ScriptedEngine(summaries=[ModelUnavailableError("down")]).summarize(
            SummaryRequest(
                turn_key="c:1", messages=[], intent=None, sentiment=None, reason="x", tried=[], context={}
            )
        )


async def test_an_exhausted_list_falls_back_to_the_offline_engine_without_degrading() -> None:
    offline = shared_context().offline
    engine = ScriptedEngine(fallback=offline)
    result = await engine.classify(IntentRequest(turn_key="c:1", text="I forgot my password"))
    assert result == offline.classify_now(IntentRequest(turn_key="c:1", text="I forgot my password"))
    assert engine.calls[0].answered_by == "fallback"


async def test_a_scripted_promise_never_reaches_the_customer_and_the_template_answers_instead() -> None:
    engine = ScriptedEngine(replies=["Sorry about that. I will issue you a full refund today. Thanks!"])
    base = shared_context()
    ctx = dataclasses.replace(base, engine=engine.bind(base.settings, base.offline))
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    events = [e async for e in runner.stream("s1", "I forgot my password")]
    shown = "".join(e.data["text"] for e in events if e.type == "token")
    answer = base.templates.answers["password_reset"]
    assert "refund" not in shown and "Thanks!" not in shown  # nothing after the rejected sentence
    assert shown.startswith(answer.ack + "\nSorry about that. " + answer.standard)
    assert base.templates.footer_human.standard in shown  # the skeleton comes from the templates
    result = events[-1].data
    assert result["mode"] == "bot" and result["reply"] == shown  # a model's mistake is no reason for a handoff
    assert [(g["guard"], g["reason"], g["effect"]) for g in result["guards"] if g["tripped"]] == [
        ("grounding", "ungrounded_promise", "fallback")
    ]
    assert sorted(c.kind for c in engine.calls) == ["assess", "classify", "draft"]
    engine.assert_used_up()
