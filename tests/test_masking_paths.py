"""The same masking on every path that leaves the process, for each class of sensitive data: card numbers in any
common grouping (spaces, double spaces, dots, dashes, 4-6-5), IBANs (checksum-valid, grouped or not) and, with
``mask_phones``, phone numbers in international and national formats. Paths: the turn answer, the stored
conversation (GET), the handoff packet, the console feed, webhooks, requests to the model, logs, LangSmith traces
and the database file. Every example here is a well-known test number, never a real one."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import langsmith
import pytest

from tactful.agents.guards.redact import mask
from tactful.bench.fake_openai import FakeModelConfig, FakeOpenAIServer
from tactful.commands.serve import log_config
from tactful.graphs.tracing import tracing_client
from tactful.service.console import HandoffFeed
from tactful.service.masking import MaskingFilter
from tactful.settings import Settings
from tests.server_helpers import in_process, service_settings, services_of

CARDS = ("4000  0566  5566  5556", "5555.5555.5555.4444", "3782-822463-10005", "6011 1111 1111 1117")
IBANS = ("NL91 ABNA 0417 1643 00", "GB33BUKB20201555555555", "ES91 2100 0418 4502 0005 1332")
PHONES = ("+49 30 90182000", "(020) 7946 0123", "+61 2 9374 4000", "(212) 555-0187")
SECRETS = CARDS + IBANS + PHONES
MESSAGE = "let me talk to a person. " + "; ".join(f"detail {s}" for s in SECRETS)


def digits_of(secret: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", secret)


def assert_masked(dumped: str) -> None:
    """None of the secrets appears as written, nor with its separators removed."""
    compact = re.sub(r"[^0-9A-Z]", "", dumped)
    for secret in SECRETS:
        assert secret not in dumped, secret
        if len(digits_of(secret)) >= 12:  # shorter digit runs occur by chance in compacted JSON
            assert digits_of(secret) not in compact, secret


def masking_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return service_settings(tmp_path, mask_phones=True, **overrides)


@pytest.mark.parametrize("secret", SECRETS)
def test_each_class_of_sensitive_data_is_masked(secret: str) -> None:
    masked = mask(f"here: {secret}, thanks", phones=True)
    assert secret not in masked and masked.startswith("here: [") and masked.endswith("], thanks")


def test_a_wrong_iban_checksum_ordinary_numbers_and_dates_are_left_alone() -> None:
    text = "NL92 ABNA 0417 1643 00, order 12345 shipped 2024-11-05, ticket #88231, version 2.3.1"
    assert mask(text, phones=True) == text


async def test_turn_answer_conversation_packet_console_and_database(tmp_path: Path) -> None:
    async with in_process(masking_settings(tmp_path)) as (app, client):
        feed = HandoffFeed(services_of(app).backend.store, "default")
        await feed.start()
        turn = await client.post("/v1/conversations/c1/messages", json={"text": MESSAGE})
        conversation = await client.get("/v1/conversations/c1")
        handoffs = await client.get("/v1/handoffs")
        console = [change.model_dump_json() for change in await feed.poll()]
        hid = handoffs.json()["items"][0]["id"]
        await client.post(f"/v1/handoffs/{hid}/claim", json={"agent": "alex"})
        reply = await client.post(f"/v1/handoffs/{hid}/reply", json={"text": f"noted your card {CARDS[0]}"})
        after_reply = await client.get("/v1/conversations/c1")
    assert turn.status_code == 200 and turn.json()["action"] == "escalate"
    assert reply.status_code == 200, reply.text
    assert console, "the console feed reported nothing"
    for path, dumped in {
        "turn answer": turn.text,
        "GET conversation": conversation.text,
        "handoff packet": handoffs.text,
        "console feed": "\n".join(console),
        "human reply": after_reply.text,
    }.items():
        assert "[CARD" in dumped and "[IBAN]" in dumped, path
        assert_masked(dumped)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("tactful.db*")).decode("latin-1")
    assert_masked(raw)


async def test_webhook_payloads_are_masked_but_keep_the_conversation_id(tmp_path: Path) -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    settings = masking_settings(
        tmp_path, mask_emails=True, webhook_url="http://hooks.test/tactful", webhook_secret="whsec-test-0123456789"
    )
    conversation_id = "dana@example.com"
    async with in_process(settings, webhook_transport=httpx.MockTransport(handler)) as (_, client):
        await client.post(f"/v1/conversations/{conversation_id}/messages", json={"text": MESSAGE})
        for _ in range(500):
            if received:
                break
            await asyncio.sleep(0.01)
    assert received, "no webhook was sent"
    payload = json.loads(received[0].content)
    assert payload["handoff"]["conversation_id"] == conversation_id
    assert payload["handoff"]["packet"]["conversation_id"] == conversation_id
    assert payload["handoff"]["packet"]["transcript_ref"] == f"/v1/conversations/{conversation_id}"
    dumped = received[0].content.decode()
    assert "[CARD" in dumped and "[IBAN]" in dumped and "[PHONE]" in dumped
    assert_masked(dumped)


@pytest.fixture
def fake_model() -> Iterator[tuple[FakeOpenAIServer, list[Any]]]:
    seen: list[Any] = []

    def count(messages: list[Any]) -> int:
        seen.append(messages)
        return 10

    with FakeOpenAIServer(FakeModelConfig(latency_s=0.0, count_prompt=count)) as server:
        yield server, seen


async def test_requests_to_the_model_are_masked(
    tmp_path: Path, fake_model: tuple[FakeOpenAIServer, list[Any]]
) -> None:
    server, seen = fake_model
    settings = masking_settings(
        tmp_path, engine="openai", openai_base_url=server.base_url, openai_api_key="test-key",
        offline_confidence_skip=1.01,  # always ask the model
    )
    text = "my payment failed twice. " + "; ".join(SECRETS)
    async with in_process(settings) as (_, client):
        r = await client.post("/v1/conversations/m1/messages", json={"text": text})
    assert r.status_code == 200
    assert seen, "the model was never asked"
    dumped = json.dumps(seen)
    assert "[CARD" in dumped and "[IBAN]" in dumped
    assert_masked(dumped)


def test_service_logs_are_masked() -> None:
    """``tactful serve``'s logging: every handler carries the masking filter, built from the settings."""
    config = log_config(Settings(mask_phones=True, mask_phone_regions=["GB", "US"]), "info")
    assert config["handlers"] and all(h["filters"] == ["mask"] for h in config["handlers"].values())
    spec = dict(config["filters"]["mask"])
    factory = spec.pop("()")
    assert factory == f"{MaskingFilter.__module__}.MaskingFilter"
    record = logging.LogRecord("tactful.turns", logging.WARNING, __file__, 1, "customer wrote %s", (MESSAGE,), None)
    assert MaskingFilter(**spec).filter(record)
    line = record.getMessage()
    assert "[CARD" in line and "[IBAN]" in line and "[PHONE]" in line
    assert_masked(line)


class WireTap(langsmith.Client):
    """A LangSmith client that records what it would send instead of sending it."""

    sent: list[dict[str, Any]]

    def request_with_retries(self, method: str, pathname: str, *, request_kwargs: Any = None, **_: Any) -> Any:
        data = (request_kwargs or {}).get("data")
        if data:
            self.sent.append(json.loads(data))
        return None


async def test_langsmith_traces_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    langsmith.utils.get_env_var.cache_clear()
    langsmith.utils.get_tracer_project.cache_clear()
    settings = masking_settings(tmp_path)
    client = tracing_client(settings, client_cls=WireTap, api_url="http://127.0.0.1:9", api_key="ls-test",
                            auto_batch_tracing=False)
    assert isinstance(client, WireTap)
    client.sent = []
    langsmith.configure(client=client)
    try:
        from langgraph.checkpoint.memory import InMemorySaver

        from tactful.graphs.support import compile_support_graph
        from tests.support_helpers import shared_context

        graph = compile_support_graph(InMemorySaver())
        await graph.ainvoke({"messages": [{"role": "user", "content": MESSAGE}]},
                            {"configurable": {"thread_id": "t"}}, context=shared_context())
        client.flush()
    finally:
        langsmith.configure(client=None)
        langsmith.utils.get_env_var.cache_clear()
        langsmith.utils.get_tracer_project.cache_clear()
    dumped = json.dumps(client.sent)
    assert client.sent and "[CARD" in dumped and "[IBAN]" in dumped
    assert_masked(dumped)
