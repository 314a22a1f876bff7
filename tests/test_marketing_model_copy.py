"""The model copywriter (engine: openai) against the real ``openai`` client, with respx as the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from tactful.agents.marketing.alerts import InMemoryAlertSink
from tactful.graphs.marketing_service import MarketingService
from tactful.settings import Settings
from tests.marketing_helpers import FIXED_NOW, lost_power_user, request

BASE = "http://llm.test/v1"


async def _no_sleep(seconds: float) -> None:
    return None


def completion(subject: str, body: str) -> httpx.Response:
    content = json.dumps({"subject": subject, "body": body})
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360},
        },
    )


@pytest.fixture
def llm() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router.post("/chat/completions")


def model_service(**overrides: Any) -> MarketingService:
    values: dict[str, Any] = {
        "engine": "openai",
        "openai_base_url": BASE,
        "openai_api_key": "test-key",
        "max_retries": 1,
    }
    values.update(overrides)
    svc = MarketingService(Settings(**values), alert_sink=InMemoryAlertSink(), now=lambda: FIXED_NOW)
    engine = svc.context_for("default").engine
    engine.client.sleep = _no_sleep  # type: ignore[attr-defined]
    return svc


async def test_openai_engine_writes_the_copy_with_one_structured_call(llm: respx.Route) -> None:
    llm.mock(
        return_value=completion(
            "Automations, live now", "Hi Ana, automations are live: https://example.com/automations"
        )
    )
    d = await model_service().decide(request())
    assert d.action == "send" and d.message is not None
    assert d.message.source == "model" and d.message.subject == "Automations, live now"
    assert llm.call_count == 1
    sent = json.loads(llm.calls[0].request.content)
    assert sent["response_format"]["type"] == "json_schema"
    assert "Automations are here" in sent["messages"][1]["content"]  # the facts and the template draft
    assert any(f.name == "copywriter" and f.value == "model" for f in d.factors)


async def test_model_copy_that_offers_a_discount_to_a_lost_customer_is_replaced(llm: respx.Route) -> None:
    llm.mock(return_value=completion("Don't go!", "Stay with us and get 20% off for three months."))
    d = await model_service().decide(lost_power_user())
    assert d.action == "send" and d.message is not None
    assert d.message.source == "offline" and "Invoices" in d.message.body
    assert {g.code for g in d.guards} >= {"discount_not_allowed"} and all(g.fixed for g in d.guards)
    sent = json.loads(llm.calls[0].request.content)
    assert "discount" in sent["messages"][1]["content"]  # told to avoid it


async def test_a_failing_model_falls_back_to_the_template(llm: respx.Route) -> None:
    llm.mock(return_value=httpx.Response(503, json={"error": {"message": "down", "type": "x"}}))
    d = await model_service().decide(request())
    assert d.action == "send" and d.message is not None and d.message.source == "offline"
    assert llm.call_count == 2  # max_retries=1: one retry, owned by the model client
