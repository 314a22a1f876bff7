"""The model engine against the real ``openai`` client, with respx answering as an OpenAI-compatible server.

Every test asserts the exact number of HTTP requests sent: retries are owned by one layer and never stack.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
import respx
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.agents.engine.openai_compatible import OpenAIEngine
from tactful.agents.engine.seam import IntentRequest, ReplyRequest, SentimentRequest, SummaryRequest
from tactful.agents.engine.tokens import count_tokens
from tactful.agents.state import Message
from tactful.errors import ConfigError
from tactful.graphs.runner import StreamEvent, SupportRunner
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings
from tests.support_helpers import shared_context

BASE = "http://llm.test/v1"
ANALYSIS = {
    "intent": "password_reset",
    "confidence": 0.93,
    "runner_up": "account_lockout",
    "sentiment": "frustrated",
    "frustration": 0.7,
    "urgency": 0.6,
    "hurried": True,
}


class FakeSleep:
    """Records the waits tenacity asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "engine": "openai",
        "openai_base_url": BASE,
        "openai_api_key": "test-key",
        "max_retries": 2,
        "retry_backoff_base_s": 0.25,
        "retry_backoff_max_s": 1.0,
        "retry_after_cap_s": 5.0,
        "breaker_failures": 3,
        "breaker_reset_s": 30.0,
        "offline_confidence_skip": 1.01,  # always ask the model for the analysis
    }
    values.update(overrides)
    return Settings(**values)


def engine(
    cfg: Settings | None = None, *, sleep: FakeSleep | None = None, clock: FakeClock | None = None
) -> OpenAIEngine:
    return OpenAIEngine(
        settings=cfg or settings(),
        fallback=shared_context().offline,
        sleep=sleep or FakeSleep(),
        clock=clock or FakeClock(),
    )


def completion(content: str | None = None, *, tool_args: str | None = None) -> httpx.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "support_analysis", "arguments": tool_args},
            }
        ]
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 400, "completion_tokens": 40, "total_tokens": 440},
        },
    )


def sse(deltas: Sequence[str], *, usage: tuple[int, int] | None = (900, 60)) -> httpx.Response:
    def event(choices: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> str:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices}
        return "data: " + json.dumps({**body, **(extra or {})}) + "\n\n"

    parts = [event([{"index": 0, "delta": {"content": d}, "finish_reason": None}]) for d in deltas]
    parts.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    if usage:
        parts.append(
            event(
                [],
                {
                    "usage": {
                        "prompt_tokens": usage[0],
                        "completion_tokens": usage[1],
                        "total_tokens": sum(usage),
                    }
                },
            )
        )
    parts.append("data: [DONE]\n\n")
    return httpx.Response(200, content="".join(parts).encode(), headers={"content-type": "text/event-stream"})


def error(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": f"status {status}", "type": "x"}}, headers=headers)


@pytest.fixture
def llm() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router.post("/chat/completions")


def _user(text: str) -> Message:
    return {"role": "user", "text": text, "turn": 1, "at": "2025-01-01T00:00:00+00:00"}


MESSAGE = "this is so annoying, i cant get in and the reset link never came"


def intent_request(text: str = MESSAGE, key: str = "c:1") -> IntentRequest:
    return IntentRequest(turn_key=key, text=text, messages=[_user(text)])


def sentiment_request(text: str = MESSAGE, key: str = "c:1") -> SentimentRequest:
    return SentimentRequest(turn_key=key, text=text, turn=1)


def reply_request(key: str = "c:1", action: str = "respond") -> ReplyRequest:
    ctx = shared_context()
    intent = {
        "label": "password_reset",
        "confidence": 0.95,
        "runner_up": None,
        "out_of_scope": False,
        "risk": "low",
        "queue": ctx.bundle.taxonomy.by_name["password_reset"].queue,
        "source": "offline",
    }
    return ReplyRequest(
        turn_key=key,
        action=action,  # type: ignore[arg-type]
        tone="standard",
        intent=intent,  # type: ignore[arg-type]
        sentiment=None,
        decision=None,
        context={"tier": "pro"},
        messages=[_user("I forgot my password")],
    )


async def collect(engine_: OpenAIEngine, request: ReplyRequest) -> tuple[str, list[Any]]:
    chunks = [c async for c in engine_.draft(request)]
    return "".join(c.text for c in chunks), chunks


# ---------------------------------------------------------------------- structured analysis


async def test_success_sends_the_json_schema_and_both_specialists_share_one_call(llm: respx.Route) -> None:
    llm.mock(return_value=completion(json.dumps(ANALYSIS)))
    eng = engine()
    intent, sentiment = await asyncio.gather(eng.classify(intent_request()), eng.assess(sentiment_request()))
    assert llm.call_count == 1
    body = json.loads(llm.calls[0].request.content)
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert "password_reset" in fmt["json_schema"]["schema"]["properties"]["intent"]["enum"]
    assert "out_of_scope" in fmt["json_schema"]["schema"]["properties"]["intent"]["enum"]
    assert intent.source == "model" and intent.label == "password_reset"
    offline = eng.fallback.classify_now(intent_request())  # the model picks the label; the classifier says how sure
    assert intent.confidence == round(min(0.93, offline.confidence), 4)
    assert intent.runner_up == "account_lockout"
    assert sentiment.source == "model" and sentiment.state["hurried"] is True
    assert not intent.degraded and not sentiment.degraded
    usages = [r.usage for r in (intent, sentiment) if r.usage]
    assert len(usages) == 1  # the shared call is reported once per turn
    assert usages[0]["model_calls"] == 1 and usages[0]["prompt_tokens"] == 400
    assert usages[0]["cost_usd"] == pytest.approx((400 * 0.00015 + 40 * 0.0006) / 1000)


async def test_sentiment_from_the_model_is_averaged_with_the_offline_reading(llm: respx.Route) -> None:
    llm.mock(return_value=completion(json.dumps(ANALYSIS)))
    eng = engine()
    offline = shared_context().offline.assess_now(sentiment_request())
    merged = await eng.assess(sentiment_request())
    assert merged.state["frustration"] == pytest.approx((offline.state["frustration"] + 0.7) / 2, abs=1e-4)
    assert merged.state["history"][-1]["frustration"] == merged.state["frustration"]


async def test_a_label_outside_the_offline_shortlist_is_outvoted_unless_the_model_is_trusted(llm: respx.Route) -> None:
    # A small model's confident pick the offline classifier gave no weight (neither its label nor its runner-up)
    # does not replace the offline reading; with analysis_trust=override it does.
    request = intent_request()
    eng = engine()
    offline = eng.fallback.classify_now(request)
    stray = next(label for label in ("plan_change", "data_export", "feedback")
                 if label not in {offline.label, offline.runner_up})  # fmt: skip
    llm.mock(return_value=completion(json.dumps({**ANALYSIS, "intent": stray, "runner_up": None})))
    kept = await eng.classify(request)
    assert kept.label == offline.label and kept.source == "offline" and kept.usage is not None
    trusted = await engine(settings(analysis_trust="override")).classify(intent_request(key="c:2"))
    assert trusted.label == stray and trusted.source == "model"


def _agreeing(confidence: float = 0.95, **fields: Any) -> httpx.Response:
    return completion(json.dumps({**ANALYSIS, "confidence": confidence, "runner_up": None, **fields}))


async def test_a_model_cannot_make_an_offline_guess_surer_than_the_classifier_is(llm: respx.Route) -> None:
    # The offline classifier leans to one reading with less than even odds; a small model that agrees and says
    # 0.95 picks the label, not how sure the bot is: the calibrated confidence stands (and a lower one the
    # model gives stands too). With analysis_trust=override the model's own confidence is trusted.
    text = "my payment did not go through and now the amount is wrong"
    eng = engine()
    offline = eng.fallback.classify_now(intent_request(text))
    assert not offline.out_of_scope and 0.15 < offline.confidence < 0.6
    llm.mock(return_value=_agreeing(intent=offline.label))
    merged = await eng.classify(intent_request(text))
    assert merged.label == offline.label and merged.source == "model"
    assert merged.confidence == pytest.approx(offline.confidence, abs=1e-4)
    llm.mock(return_value=_agreeing(0.1, intent=offline.label))
    assert (await eng.classify(intent_request(text, key="c:2"))).confidence == 0.1
    llm.mock(return_value=_agreeing(intent=offline.label))
    trusted = await engine(settings(analysis_trust="override")).classify(intent_request(text, key="c:3"))
    assert trusted.confidence == 0.95


async def test_a_model_pick_with_no_word_of_its_intent_is_capped_like_the_offline_guess(llm: respx.Route) -> None:
    # A detail of an errand the bot does not cover shares no content word with the intent it lands in: offline
    # that placement is capped (out_of_scope.evidence), and the model agreeing with it is capped the same way.
    text = "no, the later one, the one at noon"
    eng = engine()
    cap = eng.taxonomy.out_of_scope.evidence.cap
    offline = eng.fallback.classify_now(intent_request(text))
    assert not offline.out_of_scope and offline.confidence > cap
    llm.mock(return_value=_agreeing(intent=offline.label, runner_up=offline.runner_up))
    merged = await eng.classify(intent_request(text))
    assert merged.label == offline.label and merged.confidence == cap
    assert merged.runner_up is None and merged.runner_up_confidence == 0.0


async def test_the_runner_up_of_an_out_of_scope_message_keeps_its_own_probability(llm: respx.Route) -> None:
    text = "no wait, two adults and one child"
    eng = engine()
    offline = eng.fallback.classify_now(intent_request(text))
    assert offline.out_of_scope and offline.runner_up is not None
    llm.mock(return_value=_agreeing(intent=offline.runner_up))
    merged = await eng.classify(intent_request(text))
    assert merged.label == offline.runner_up and not merged.out_of_scope
    assert merged.confidence <= offline.runner_up_confidence


async def test_a_sentiment_on_the_other_side_of_the_offline_reading_is_outvoted(llm: respx.Route) -> None:
    # Offline reads a complaint as frustrated; a model calling it positive does not make it calm or lower
    # its frustration. The same reading with analysis_trust=override merges.
    request = sentiment_request()
    eng = engine()
    offline = eng.fallback.assess_now(request)
    assert offline.state["label"] == "frustrated"
    llm.mock(return_value=completion(json.dumps({**ANALYSIS, "sentiment": "positive", "frustration": 0.0})))
    kept = await eng.assess(request)
    assert kept.state["label"] == "frustrated" and kept.state["frustration"] == offline.state["frustration"]
    assert kept.source == "offline"
    merged = await engine(settings(analysis_trust="override")).assess(sentiment_request(key="c:2"))
    assert merged.source == "model" and merged.state["label"] == "positive"


async def test_confident_offline_answer_skips_the_model(llm: respx.Route) -> None:
    eng = engine(settings(offline_confidence_skip=0.0))
    text = "I forgot my password"
    intent, _ = await asyncio.gather(eng.classify(intent_request(text)), eng.assess(sentiment_request(text)))
    assert llm.call_count == 0
    assert intent.source == "offline" and intent.usage is None and not intent.degraded


@pytest.mark.parametrize("mode", ["json_object", "tools"])
async def test_servers_without_json_schema_get_json_mode_or_a_forced_tool_call(llm: respx.Route, mode: str) -> None:
    raw = json.dumps(ANALYSIS)
    llm.mock(return_value=completion(raw) if mode == "json_object" else completion(None, tool_args=raw))
    intent = await engine(settings(structured_output=mode)).classify(intent_request())
    assert llm.call_count == 1
    body = json.loads(llm.calls[0].request.content)
    if mode == "json_object":
        assert body["response_format"] == {"type": "json_object"}
        assert '"enum"' in body["messages"][0]["content"]  # the schema travels in the prompt instead
    else:
        assert body["tool_choice"]["function"]["name"] == "support_analysis"
        assert "response_format" not in body
    assert intent.source == "model" and intent.label == "password_reset"


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
async def test_the_output_token_cap_goes_under_the_name_the_server_expects(llm: respx.Route, param: str) -> None:
    llm.mock(return_value=completion(json.dumps(ANALYSIS)))
    await engine(settings(token_limit_param=param)).classify(intent_request())
    body = json.loads(llm.calls[0].request.content)
    other = "max_tokens" if param == "max_completion_tokens" else "max_completion_tokens"
    assert isinstance(body[param], int) and body[param] > 0
    assert other not in body


async def test_invalid_json_is_reasked_once_then_the_offline_engine_decides(llm: respx.Route) -> None:
    llm.mock(side_effect=[completion("Sure! The intent is password reset."), completion('{"intent": "nope"}')])
    eng = engine()
    intent, sentiment = await asyncio.gather(eng.classify(intent_request()), eng.assess(sentiment_request()))
    assert llm.call_count == 2  # the first answer and one re-ask; validation failures are never retried
    reask = json.loads(llm.calls[1].request.content)["messages"]
    assert reask[-2]["role"] == "assistant" and reask[-2]["content"].startswith("Sure!")
    assert "could not be used" in reask[-1]["content"]
    assert intent.degraded and sentiment.degraded
    assert intent.source == "offline" and sentiment.source == "offline"
    usage = intent.usage or sentiment.usage
    assert usage is not None and usage["model_calls"] == 2


async def test_a_valid_answer_after_the_reask_is_used(llm: respx.Route) -> None:
    bad = dict(ANALYSIS, intent="make_coffee")  # not a label of the taxonomy
    llm.mock(side_effect=[completion(json.dumps(bad)), completion(json.dumps(ANALYSIS))])
    intent = await engine().classify(intent_request())
    assert llm.call_count == 2
    assert "make_coffee" in json.loads(llm.calls[1].request.content)["messages"][-1]["content"]
    assert intent.source == "model" and not intent.degraded


# ---------------------------------------------------------------------- retries


async def test_429_waits_as_long_as_retry_after_says(llm: respx.Route) -> None:
    llm.mock(side_effect=[error(429, **{"retry-after": "2"}), completion(json.dumps(ANALYSIS))])
    sleep = FakeSleep()
    intent = await engine(sleep=sleep).classify(intent_request())
    assert llm.call_count == 2
    assert sleep.waits == [2.0]
    assert intent.source == "model" and intent.usage is not None and intent.usage["model_calls"] == 2


async def test_retry_after_beyond_the_cap_waits_only_the_cap(llm: respx.Route) -> None:
    llm.mock(side_effect=[error(429, **{"retry-after": "120"}), completion(json.dumps(ANALYSIS))])
    sleep = FakeSleep()
    await engine(sleep=sleep).classify(intent_request())
    assert llm.call_count == 2
    assert sleep.waits == [5.0]


async def test_500_is_retried_with_jittered_backoff_then_gives_up_degraded(llm: respx.Route) -> None:
    llm.mock(return_value=error(500))
    sleep = FakeSleep()
    intent = await engine(sleep=sleep).classify(intent_request())
    assert llm.call_count == 3  # one try + max_retries=2, and nothing underneath retries again
    assert len(sleep.waits) == 2 and all(0 <= w <= 1.0 for w in sleep.waits)
    assert intent.degraded and intent.source == "offline"


async def test_500_then_success_recovers(llm: respx.Route) -> None:
    llm.mock(side_effect=[error(503), completion(json.dumps(ANALYSIS))])
    intent = await engine().classify(intent_request())
    assert llm.call_count == 2
    assert intent.source == "model" and not intent.degraded


async def test_timeout_is_retried(llm: respx.Route) -> None:
    llm.mock(side_effect=[httpx.ReadTimeout("read timed out"), completion(json.dumps(ANALYSIS))])
    intent = await engine().classify(intent_request())
    assert llm.call_count == 2
    assert intent.source == "model"


async def test_connection_reset_is_retried(llm: respx.Route) -> None:
    llm.mock(
        side_effect=[
            httpx.ConnectError("[Errno 104] Connection reset by peer"),
            completion(json.dumps(ANALYSIS)),
        ]
    )
    intent = await engine().classify(intent_request())
    assert llm.call_count == 2
    assert intent.source == "model"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_never_retried(llm: respx.Route, status: int) -> None:
    llm.mock(return_value=error(status))
    sleep = FakeSleep()
    intent = await engine(sleep=sleep).classify(intent_request())
    assert llm.call_count == 1
    assert sleep.waits == []
    assert intent.degraded and intent.source == "offline"


async def test_each_request_gets_at_most_what_is_left_of_the_turn(llm: respx.Route) -> None:
    llm.mock(return_value=sse(["Here is how to reset it. ", "Open the sign-in page."]))
    clock = FakeClock()
    eng = engine(settings(request_timeout_s=20.0, turn_deadline_s=45.0), clock=clock)
    eng.budget("c:1")  # the turn starts now
    clock.now += 40
    await collect(eng, reply_request())
    assert llm.call_count == 1
    assert llm.calls[0].request.extensions["timeout"]["read"] == pytest.approx(5.0)


async def test_past_the_turn_deadline_the_model_is_not_called(llm: respx.Route) -> None:
    clock = FakeClock()
    eng = engine(settings(turn_deadline_s=45.0), clock=clock)
    eng.budget("c:1")
    clock.now += 46
    text, chunks = await collect(eng, reply_request())
    assert llm.call_count == 0
    assert text == shared_context().offline.render(reply_request())
    assert chunks[-1].degraded


# ---------------------------------------------------------------------- circuit breaker


async def test_circuit_opens_after_consecutive_failures_and_a_successful_probe_closes_it(
    llm: respx.Route,
) -> None:
    llm.mock(return_value=error(500))
    clock = FakeClock()
    eng = engine(settings(max_retries=0, breaker_failures=2, breaker_reset_s=30.0), clock=clock)
    for turn in (1, 2):
        assert (await eng.classify(intent_request(key=f"c:{turn}"))).degraded
    assert llm.call_count == 2
    assert eng.client.breaker.state == "open"

    skipped = await eng.classify(intent_request(key="c:3"))
    assert llm.call_count == 2  # open: the model is not asked at all
    assert skipped.degraded and skipped.source == "offline"

    clock.now += 31
    llm.mock(return_value=completion(json.dumps(ANALYSIS)))
    probe = await eng.classify(intent_request(key="c:4"))
    assert llm.call_count == 3
    assert probe.source == "model" and not probe.degraded
    assert eng.client.breaker.state == "closed"
    await eng.classify(intent_request(key="c:5"))
    assert llm.call_count == 4


async def test_a_failed_probe_opens_the_circuit_again(llm: respx.Route) -> None:
    llm.mock(return_value=error(502))
    clock = FakeClock()
    eng = engine(settings(max_retries=0, breaker_failures=1, breaker_reset_s=30.0), clock=clock)
    await eng.classify(intent_request(key="c:1"))
    clock.now += 31
    await eng.classify(intent_request(key="c:2"))  # the probe fails
    assert llm.call_count == 2
    await eng.classify(intent_request(key="c:3"))
    assert llm.call_count == 2
    assert eng.client.breaker.state == "open"


# ---------------------------------------------------------------------- streaming reply


async def test_draft_streams_the_servers_reply_sentence_by_sentence_and_reports_usage(llm: respx.Route) -> None:
    llm.mock(return_value=sse(["Let's get you back in. ", "Open the sign-in page ", "and choose Forgot password."]))
    text, chunks = await collect(engine(), reply_request())
    assert llm.call_count == 1
    body = json.loads(llm.calls[0].request.content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0]["role"] == "system" and body["messages"][-1]["content"] == "I forgot my password"
    assert [c.text for c in chunks[:2]] == [  # complete sentences only, as they complete
        "Let's get you back in. ",
        "Open the sign-in page and choose Forgot password.",
    ]
    assert text == "Let's get you back in. Open the sign-in page and choose Forgot password."
    assert chunks[-1].usage == {
        "model_calls": 1,
        "prompt_tokens": 900,
        "completion_tokens": 60,
        "cost_usd": pytest.approx((900 * 0.00015 + 60 * 0.0006) / 1000),
    }
    assert not chunks[-1].degraded


async def test_without_usage_in_the_stream_tokens_are_counted_locally(llm: respx.Route) -> None:
    llm.mock(return_value=sse(["Open the sign-in page."], usage=None))
    _, chunks = await collect(engine(settings(stream_include_usage=False)), reply_request())
    assert "stream_options" not in json.loads(llm.calls[0].request.content)
    usage = chunks[-1].usage
    assert usage is not None and usage["prompt_tokens"] > 100
    assert usage["completion_tokens"] == count_tokens("Open the sign-in page.", model="gpt-4o-mini")


async def test_a_stream_that_cannot_be_opened_falls_back_to_the_offline_draft(llm: respx.Route) -> None:
    llm.mock(return_value=error(500))
    text, chunks = await collect(engine(), reply_request())
    assert llm.call_count == 3
    assert text == shared_context().offline.render(reply_request())
    assert chunks[-1].degraded


async def test_clarifying_questions_and_blocks_stay_templated(llm: respx.Route) -> None:
    eng = engine()
    for action in ("clarify", "block"):
        text, _ = await collect(eng, reply_request(action=action))
        assert text == shared_context().offline.render(reply_request(action=action))
    assert llm.call_count == 0


def _model_context(cfg: Settings) -> TurnContext:
    base = shared_context()
    return dataclasses.replace(
        base, settings=cfg, engine=OpenAIEngine(settings=cfg, fallback=base.offline, sleep=FakeSleep())
    )


async def test_a_model_promise_never_reaches_the_customer_and_the_stream_is_cut(llm: respx.Route) -> None:
    llm.mock(
        return_value=sse(
            [
                "Sorry, that's annoying. ",
                "I will issue you a full ",
                "refund right away. ",
                "Bye.",
            ]
        )
    )
    ctx = _model_context(settings(offline_confidence_skip=0.0))
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    events: list[StreamEvent] = [e async for e in runner.stream("g1", "I forgot my password")]
    assert llm.call_count == 1
    shown = "".join(e.data["text"] for e in events if e.type == "token")
    answer = shared_context().templates.answers["password_reset"]
    assert shown.startswith(f"{answer.ack}\nSorry, that's annoying. {answer.standard}")
    assert "refund" not in shown and "Bye" not in shown
    result = events[-1].data
    assert result["mode"] == "bot" and result["reply"] == shown  # the template answers; no needless handoff
    assert [g["reason"] for g in result["guards"] if g["tripped"]] == ["ungrounded_promise"]
    assert result["usage"]["model_calls"] == 1


async def test_one_turn_through_the_graph_costs_one_analysis_and_one_reply(llm: respx.Route) -> None:
    llm.mock(side_effect=[completion(json.dumps(ANALYSIS)), sse(["Open the sign-in page and reset it."])])
    ctx = _model_context(settings())
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    result = await runner.turn("g2", "i cant get in, reset link never came")
    assert llm.call_count == 2
    assert result.intent is not None and result.intent["source"] == "model"
    assert result.usage["model_calls"] == 2
    assert result.reply is not None
    assert result.reply.split("\n")[1].startswith("Open the sign-in page and reset it.")  # after the acknowledgement
    values = await runner.values("g2")
    assert values is not None and values["usage_total"]["model_calls"] == 2


async def test_a_failing_model_never_loses_the_turn(llm: respx.Route) -> None:
    llm.mock(side_effect=httpx.ConnectError("connection refused"))
    ctx = _model_context(settings(max_retries=1, breaker_failures=10))
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    result = await runner.turn("g3", "i cant get in, reset link never came")
    assert llm.call_count == 3  # analysis: 2 tries; reply: the 1 request left of the turn's budget of 3
    assert result.degraded
    assert result.reply


def _model_agreeing_with_offline(confidence: float = 0.95) -> Any:
    """A small model's habit: the offline classifier's top label, always sure."""
    offline = shared_context().offline

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("stream"):
            return sse(["Here is what I can tell you."])
        text = body["messages"][-1]["content"].split("Latest message:\n", 1)[1].strip()
        label = offline.classify_now(IntentRequest(turn_key="x", text=text)).label
        return _agreeing(confidence, intent=label, sentiment="calm", frustration=0.1, urgency=0.1, hurried=False)

    return answer


async def test_corrections_of_an_errand_the_bot_does_not_cover_are_not_failures_on_the_model_either(
    llm: respx.Route,
) -> None:
    # Each detail of a car rental lands, offline, in some intent at a low guess or with no word of it; a model
    # that agreed with every one at 0.95 turned them into an engaged issue whose corrections counted as failed
    # answers, and the second correction handed off as repeated_failure. Offline, every turn is out of scope.
    llm.mock(side_effect=_model_agreeing_with_offline())
    ctx = _model_context(settings())
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    turns = [
        "I need a rental car at the airport for the weekend",
        "a small one, automatic please",
        "no, pick it up on friday evening instead",
        "no, I said friday evening, not saturday",
        "actually make it a bigger one for five people",
    ]
    for text in turns:
        result = await runner.turn("g-rental", text)
        assert result.action != "escalate" and result.mode == "bot", (text, result.decision)
    assert llm.call_count >= len(turns)  # the model was asked: this is the model engine's rule, not the fallback's


async def test_a_high_risk_reading_of_the_model_asks_first_and_a_trigger_still_hands_off(llm: respx.Route) -> None:
    # Offline: billing_dispute (high risk) below even odds. A model sure of it does not hand off by itself: the
    # bot asks its one discriminating question, as offline. Legal words are a trigger: a handoff at once,
    # whatever the model says.
    text = "my card was charged but the order never arrived"
    offline = shared_context().offline.classify_now(intent_request(text))
    assert shared_context().bundle.taxonomy.by_name[offline.label].risk == "high" and offline.confidence < 0.8
    llm.mock(side_effect=_model_agreeing_with_offline(0.97))
    ctx = _model_context(settings())
    runner = SupportRunner(compile_support_graph(InMemorySaver()), lambda tenant: ctx)
    asked = await runner.turn("g-risk", text)
    assert asked.action == "clarify" and asked.mode == "bot", asked.decision
    assert asked.intent is not None and asked.intent["source"] == "model"
    legal = await runner.turn("g-legal", "a lawyer will hear about this charge")
    assert legal.action == "escalate" and legal.mode == "human"


# ---------------------------------------------------------------------- handoff summary


def _summary_request(n_user: int) -> SummaryRequest:
    messages = [_user(f"my invoice is wrong, attempt {i}") for i in range(n_user)]
    return SummaryRequest(
        turn_key="c:4:handoff",
        messages=messages,
        intent=None,
        sentiment=None,
        reason="repeated_failure",
        tried=["Gave the standard steps for billing (turn 1)"],
        context={"tier": "pro"},
    )


async def test_summary_uses_one_call_for_long_conversations_only(llm: respx.Route) -> None:
    llm.mock(return_value=completion("Customer's March invoice is wrong; two fixes failed; hand to billing."))
    eng = engine()
    short = await eng.summarize(_summary_request(2))
    assert llm.call_count == 0 and short.source == "offline"
    long = await eng.summarize(_summary_request(4))
    assert llm.call_count == 1
    assert long.source == "model" and long.summary.startswith("Customer's March invoice")
    assert long.usage is not None and long.usage["model_calls"] == 1


async def test_summary_falls_back_to_extractive_when_the_model_fails(llm: respx.Route) -> None:
    llm.mock(return_value=error(401))
    result = await engine().summarize(_summary_request(4))
    assert llm.call_count == 1
    assert result.degraded and result.source == "offline" and result.summary


# ---------------------------------------------------------------------- prompts and budgets


def test_system_prompts_are_all_known_to_the_leakage_guard() -> None:
    ctx = shared_context()
    eng = engine()
    for name in ("system/support", "system/reply", "system/analysis", "system/summary"):
        assert eng.prompts[name].version != "0"  # each file carries its version header
    leaked = eng.prompts["system/reply"].text
    assert ctx.guards.output_check(leaked, turn=1)["reason"] == "system_text_leak"


def test_prompt_tokens_stay_flat_as_the_conversation_grows() -> None:
    from tactful.agents.engine.tokens import HISTORY_WINDOW, count_chat, fold_history

    eng = engine()
    cfg = eng.settings

    def prompt_at(turn: int) -> int:
        messages: list[Message] = []
        for i in range(1, turn + 1):
            messages.append(_user(f"turn {i}: the export to CSV still fails with error E{i} on the reports page"))
            if i < turn:
                messages.append(
                    {
                        "role": "bot",
                        "text": "Try the export again from Reports, then Download. " * 3,
                        "turn": i,
                        "at": "2025-01-01T00:00:00+00:00",
                    }
                )
        summary = fold_history(
            messages, tried=[f"Gave the standard steps (turn {i})" for i in range(turn)], settings=cfg
        )
        request = reply_request().model_copy(update={"messages": messages[-HISTORY_WINDOW:], "summary": summary})
        return count_chat(eng.reply_messages(request, "Open Reports, then Download."), model=cfg.model)

    assert prompt_at(30) <= 1.5 * prompt_at(5)
    assert prompt_at(60) <= cfg.prompt_token_budget


def test_the_openai_engine_needs_a_key_for_the_public_api() -> None:
    with pytest.raises(ConfigError, match="TACTFUL_OPENAI_API_KEY"):
        engine(settings(openai_base_url=None, openai_api_key=None))
