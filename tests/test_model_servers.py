"""What the servers users run need from the model engine (issue 18), with respx answering as each would.

llama-server rejects the object form of ``tool_choice`` and a small model on it writes the tool call as plain
content; guided decoders do not bound numbers; JSON mode enforces no label list; a deterministic server answers a
re-ask with the same invalid answer word for word.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from tactful.agents.engine.openai_compatible import OpenAIEngine
from tactful.agents.engine.seam import IntentRequest
from tests.support_helpers import shared_context
from tests.test_openai_engine import ANALYSIS, BASE, FakeClock, FakeSleep, settings


def answer(content: str | None, *, finish: str = "stop") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330},
        },
    )  # fmt: skip


@pytest.fixture
def llm() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router.post("/chat/completions")


def engine(clock: FakeClock | None = None, **overrides: Any) -> OpenAIEngine:
    return OpenAIEngine(
        settings=settings(**overrides), fallback=shared_context().offline, sleep=FakeSleep(), clock=clock or FakeClock()
    )


def request(key: str = "c:1") -> IntentRequest:
    return IntentRequest(turn_key=key, text="i cant get in, reset link never came")


def sent(llm: respx.Route, i: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(llm.calls[i].request.content)
    return body


# ---------------------------------------------------------------------- tools mode on llama-server


async def test_tool_choice_required_is_sent_as_the_string_llama_server_accepts(llm: respx.Route) -> None:
    llm.mock(return_value=answer(json.dumps(ANALYSIS)))
    await engine(structured_output="tools", tool_choice="required").classify(request())
    body = sent(llm)
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["name"] == "support_analysis"


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"name": "support_analysis", "arguments": ANALYSIS}),
        "```json\n" + json.dumps({"name": "support_analysis", "arguments": ANALYSIS}, indent=2) + "\n```\n\n\n",
        json.dumps({"name": "support_analysis", "parameters": json.dumps(ANALYSIS)}),
    ],
    ids=["plain", "fenced", "arguments-as-text"],
)
async def test_a_tool_call_written_as_content_is_recognised(llm: respx.Route, content: str) -> None:
    llm.mock(return_value=answer(content))
    result = await engine(structured_output="tools", tool_choice="required").classify(request())
    assert llm.call_count == 1
    assert result.source == "model" and result.label == "password_reset" and not result.degraded


async def test_a_call_under_a_wrong_name_with_prose_after_it_is_still_read_and_validated(llm: respx.Route) -> None:
    call = json.dumps({"name": "suspended", "arguments": ANALYSIS})
    llm.mock(return_value=answer(call + ". The customer's account was suspended because the charge was wrong."))
    result = await engine(structured_output="tools", tool_choice="required").classify(request())
    assert llm.call_count == 1 and result.source == "model"  # one function was offered: this is its call
    bad = json.dumps({"name": "support_analysis", "arguments": {**ANALYSIS, "intent": "suspended"}})
    llm.mock(side_effect=[answer(bad), answer(bad)])
    assert (await engine(structured_output="tools").classify(request("c:2"))).degraded  # still validated


# ---------------------------------------------------------------------- bounds and label lists


def test_the_schema_carries_the_numeric_bounds_and_the_label_enums() -> None:
    schema = engine()._analysis_spec.schema
    props = schema["properties"]
    for name in ("confidence", "frustration", "urgency"):
        assert props[name]["minimum"] == 0.0 and props[name]["maximum"] == 1.0
    assert set(props["intent"]["enum"]) == set(engine().labels)
    assert set(props["sentiment"]["enum"]) == {"calm", "positive", "negative", "frustrated", "distressed"}


@pytest.mark.parametrize(
    ("field", "value", "quoted"),
    [("urgency", 2, "less than or equal to 1"), ("intent", "suspended", "password_reset"),
     ("sentiment", "neutral", "frustrated")],
)  # fmt: skip
async def test_json_mode_answers_are_held_to_the_same_bounds_and_labels(
    llm: respx.Route, field: str, value: object, quoted: str
) -> None:
    llm.mock(side_effect=[answer(json.dumps({**ANALYSIS, field: value})), answer(json.dumps(ANALYSIS))])
    result = await engine(structured_output="json_object").classify(request())
    assert llm.call_count == 2 and result.source == "model"
    reask = sent(llm, 1)["messages"][-1]["content"]
    assert field in reask and quoted in reask  # the re-ask says what was wrong and what is allowed


# ---------------------------------------------------------------------- re-asks that cannot help


async def test_an_answer_cut_by_the_token_cap_is_not_reasked(llm: respx.Route) -> None:
    llm.mock(return_value=answer('{"intent": "password_reset", "confid', finish="length"))
    result = await engine().classify(request())
    assert llm.call_count == 1 and result.degraded


async def test_after_re_asks_that_come_back_unchanged_re_asking_stops_for_a_while(llm: respx.Route) -> None:
    stuck = json.dumps({**ANALYSIS, "urgency": 5})
    llm.mock(return_value=answer(stuck))
    clock = FakeClock()
    eng = engine(clock, breaker_failures=100)  # invalid answers count as failures: keep the circuit closed
    for turn in (1, 2):  # each turn: the answer, a re-ask, the same answer again
        assert (await eng.classify(request(f"c:{turn}"))).degraded
    assert llm.call_count == 4
    assert (await eng.classify(request("c:3"))).degraded
    assert llm.call_count == 5  # no re-ask: the last two came back word for word
    clock.now += eng.settings.breaker_reset_s + 1
    llm.mock(side_effect=[answer(stuck), answer(json.dumps(ANALYSIS))])
    result = await eng.classify(request("c:4"))
    assert llm.call_count == 7 and result.source == "model"  # re-asking is tried again, and helps


# ---------------------------------------------------------------------- what the model is not asked


async def test_a_closing_or_an_acknowledgement_is_left_to_the_conversation_acts(llm: respx.Route) -> None:
    """ "found them under billing, thanks" once drew a confident billing_dispute from a 0.5B model: a handoff."""
    llm.mock(return_value=answer(json.dumps({**ANALYSIS, "intent": "billing_dispute"})))
    eng = engine()
    earlier = [{"role": "user", "text": "where can I download last quarter's invoices?", "turn": 1, "at": "x"}]
    for text in ("found them under billing, thanks", "ok"):
        result = await eng.classify(IntentRequest(turn_key="c:2", text=text, messages=earlier))  # type: ignore[list-item]
        assert result.source == "offline"
    assert llm.call_count == 0
    first = await eng.classify(IntentRequest(turn_key="c:1", text="found them under billing, thanks"))
    assert first.source == "model"  # with nothing before it, it is not about a conversation
