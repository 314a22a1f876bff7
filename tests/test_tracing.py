"""LangSmith tracing: every traced input and output passes through the packet's masking before it leaves the
process (only the wire is replaced here: the real client serializes, anonymizes and would send), and each model
request of the ``openai`` engine is an LLM run carrying its token usage."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import langsmith
import pytest
import respx
from langgraph.checkpoint.memory import InMemorySaver

from tactful.agents.context import TurnContext
from tactful.agents.engine.openai_compatible import OpenAIEngine
from tactful.graphs.support import compile_support_graph
from tactful.graphs.tracing import install_trace_masking, tracing_client
from tactful.settings import Settings
from tests.support_helpers import shared_context
from tests.test_openai_engine import ANALYSIS, BASE, completion, settings, sse

CARD = "4242 4242 4242 4242"


@pytest.fixture(autouse=True)
def _fresh_langsmith_config() -> Iterator[None]:
    """LangSmith caches what it read from the environment; each test here reads its own, and leaves none."""
    langsmith.utils.get_env_var.cache_clear()
    langsmith.utils.get_tracer_project.cache_clear()
    yield
    langsmith.configure(client=None)
    langsmith.utils.get_env_var.cache_clear()
    langsmith.utils.get_tracer_project.cache_clear()


class WireTap(langsmith.Client):
    """A LangSmith client that records what it would send instead of sending it."""

    sent: list[dict[str, Any]]

    def request_with_retries(self, method: str, pathname: str, *, request_kwargs: Any = None, **_: Any) -> Any:
        data = (request_kwargs or {}).get("data")
        if data:
            self.sent.append(json.loads(data))
        return None


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[WireTap]:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    client = tracing_client(
        Settings(mask_emails=True), client_cls=WireTap, api_url="http://127.0.0.1:9", api_key="ls-test",
        auto_batch_tracing=False,
    )
    assert isinstance(client, WireTap)
    client.sent = []
    langsmith.configure(client=client)
    yield client


async def run_turn(text: str, ctx: TurnContext) -> dict[str, Any]:
    graph = compile_support_graph(InMemorySaver())
    out: dict[str, Any] = await graph.ainvoke(
        {"messages": [{"role": "user", "content": text}]}, {"configurable": {"thread_id": "t"}}, context=ctx
    )
    return out


async def test_traced_inputs_and_outputs_are_masked(traced: WireTap) -> None:
    await run_turn(f"my card {CARD} was charged twice, write to ana@example.com", shared_context())
    traced.flush()
    wire = json.dumps(traced.sent)
    assert traced.sent, "nothing was traced"
    assert "4242 4242 4242 4242" not in wire and "ana@example.com" not in wire
    assert "[CARD" in wire and "[EMAIL]" in wire
    assert any(run.get("run_type") == "llm" and run.get("name") for run in traced.sent)  # the released reply


@respx.mock
async def test_each_model_request_is_an_llm_run_with_its_token_usage(traced: WireTap) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        side_effect=[completion(json.dumps(ANALYSIS)), sse(["Open Settings, ", "then Security."], usage=(900, 60))]
    )
    cfg = settings()
    engine = OpenAIEngine(settings=cfg, fallback=shared_context().offline)
    ctx = dataclasses.replace(shared_context(), engine=engine, settings=cfg)
    await run_turn("I can't reset my password, the email never comes", ctx)
    await engine.aclose()
    traced.flush()
    llm = [r for r in traced.sent if r.get("run_type") == "llm" and r.get("name") == "ChatOpenAI"]
    ended = [r for r in traced.sent if r.get("outputs") and "usage_metadata" in json.dumps(r["outputs"])]
    assert llm, [r.get("name") for r in traced.sent]
    usages = [json.dumps(r["outputs"]) for r in ended]
    assert any('"input_tokens": 400' in u for u in usages) and any('"output_tokens": 60' in u for u in usages)


def test_masking_is_installed_only_when_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import tactful.graphs.tracing as tracing

    made: list[langsmith.Client] = []

    def wire_tap(settings: Settings) -> langsmith.Client:  # no background sender: nothing to send anywhere
        client = tracing_client(settings, client_cls=WireTap, api_url="http://127.0.0.1:9", api_key="ls-test",
                                auto_batch_tracing=False)
        made.append(client)
        return client

    monkeypatch.setattr(tracing, "tracing_client", wire_tap)
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    assert install_trace_masking(Settings()) is None and not made
    langsmith.utils.get_env_var.cache_clear()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    client = install_trace_masking(Settings())
    assert made and client is made[0] and langsmith.run_trees.get_cached_client() is client
