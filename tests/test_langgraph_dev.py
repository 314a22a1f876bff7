"""``langgraph dev`` (the in-memory LangGraph server, loopback only) serves both graphs of ``langgraph.json``, and
``langgraph-sdk`` drives them the way Studio and Agent Chat UI do: a thread, a run, a ``messages`` stream, the
thread's state, and a handoff that pauses the thread (``interrupted``) until ``Command(resume=...)``.

The server runs with LangGraph's blocking-call check on (the default of ``langgraph dev``): a run that blocked
the event loop on I/O would fail here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.marketing_helpers import CAMPAIGNS
from tests.server_helpers import REPO, clean_env, free_port

pytestmark = pytest.mark.slow


def langgraph_cli() -> str | None:
    """The ``langgraph`` command: ``LANGGRAPH_CLI``, else beside this interpreter, else on PATH."""
    named = os.environ.get("LANGGRAPH_CLI")
    if named:
        return named
    beside = Path(sys.executable).with_name("langgraph")
    return str(beside) if beside.is_file() else shutil.which("langgraph")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cli = langgraph_cli()
    if cli is None:
        pytest.skip("langgraph-cli[inmem] is not installed (pip install -e '.[dev]'); langgraph dev not tested")
    workdir = tmp_path_factory.mktemp("langgraph-dev")
    # The repository's langgraph.json, its graph paths made absolute: the server keeps its files in workdir.
    config = json.loads((REPO / "langgraph.json").read_text(encoding="utf-8"))
    config["graphs"] = {name: str(REPO / spec) for name, spec in config["graphs"].items()}
    config["dependencies"] = [str(REPO)]
    (workdir / "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    log_path = workdir / "server.log"
    env = clean_env(
        PYTHONPATH=str(REPO),
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        TACTFUL_DATA_DIR=str(workdir / "var"),
    )
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
             "--config", str(workdir / "langgraph.json")],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        text = log_path.read_text(errors="replace")
        assert "Blocking call" not in text, text[-4000:]


@pytest.fixture
async def client(server: str) -> AsyncIterator[LangGraphClient]:
    sdk = get_client(url=server)
    try:
        yield sdk
    finally:
        await sdk.aclose()


async def test_support_answers_a_langchain_message_and_the_thread_state_holds_the_turn(
    client: LangGraphClient,
) -> None:
    thread = await client.threads.create()
    out: Any = await client.runs.wait(
        thread["thread_id"],
        "support",
        input={"messages": [{"role": "user", "content": "I forgot my password"}]},
        context={"tenant": "default", "engine": "offline"},
    )
    assert out["mode"] == "bot" and out["last_action"] == "respond"
    assert "password" in out["reply"].lower()
    assert set(out) <= {
        "conversation_id", "turn", "mode", "reply", "last_action", "decision", "intent", "sentiment",
        "guards", "handoff", "messages", "usage", "degraded",
    }
    state: Any = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == []
    values = state["values"]
    assert values["turn"] == 1 and values["intent"]["label"] == "password_reset"
    assert [m["role"] for m in values["messages"]] == ["user", "bot"]
    assert values["conversation_id"] == thread["thread_id"]


async def test_support_streams_its_reply_in_messages_mode(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    message = HumanMessage(content="I forgot my password").model_dump()
    pieces: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"], "support", input={"messages": [message]}, stream_mode="messages-tuple"
    ):
        assert part.event != "error", part.data
        if part.event == "messages":
            chunk, metadata = part.data
            assert chunk["type"] == "AIMessageChunk" and metadata["langgraph_node"] == "responder"
            pieces.append(chunk["content"])
    state: Any = await client.threads.get_state(thread["thread_id"])
    assert len(pieces) > 1, "the reply should arrive in several pieces"
    assert "".join(pieces) == state["values"]["reply"]


async def test_a_handoff_pauses_the_thread_until_a_person_answers_and_returns_it(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    out: Any = await client.runs.wait(
        tid, "support", input={"messages": [{"role": "user", "content": "I want to talk to a human, now"}]}
    )
    assert out["mode"] == "human" and out["handoff"]["reason"]
    paused: Any = await client.threads.get(tid)
    assert paused["status"] == "interrupted"
    (waiting,) = [i for items in paused["interrupts"].values() for i in items]
    assert waiting["value"]["reason"] == out["handoff"]["reason"]
    assert waiting["value"]["queue"] == out["handoff"]["queue"]

    silent: Any = await client.runs.wait(tid, "support", input={"messages": [{"role": "user", "content": "hello?"}]})
    assert silent["mode"] == "human" and silent["reply"] == ""
    assert (await client.threads.get(tid))["status"] == "interrupted"

    await client.runs.wait(tid, "support", command={"resume": {"action": "reply", "text": "Ana here.", "agent": "ana"}})
    still: Any = await client.threads.get(tid)
    assert still["status"] == "interrupted"
    assert still["values"]["messages"][-1] == {**still["values"]["messages"][-1], "role": "human_agent",
                                               "text": "Ana here."}

    await client.runs.wait(tid, "support", command={"resume": {"action": "return", "agent": "ana"}})
    back: Any = await client.threads.get(tid)
    assert back["status"] == "idle" and back["values"]["mode"] == "bot"
    again: Any = await client.runs.wait(
        tid, "support", input={"messages": [{"role": "user", "content": "I forgot my password"}]}
    )
    assert again["mode"] == "bot" and again["reply"]


async def test_marketing_decides_a_json_request_and_rejects_an_invalid_one_at_the_input(
    client: LangGraphClient,
) -> None:
    request = {
        "profile": {"person_id": "p1", "tier": "pro", "consent": {"email": "granted"}, "timezone": "America/New_York"},
        "campaign": CAMPAIGNS["feature"],
        "send_at": "2026-03-10T15:00:00+00:00",
    }
    thread = await client.threads.create()
    out: Any = await client.runs.wait(thread["thread_id"], "marketing", input={"request": request},
                                      context={"tenant": "default"})
    assert set(out) == {"decision"}
    assert out["decision"]["action"] in {"send", "suppress", "route_to_rep"} and out["decision"]["reason"]

    bad = await client.threads.create()
    run: Any = await client.runs.create(bad["thread_id"], "marketing", input={"request": {"profile": {}}})
    await client.runs.join(bad["thread_id"], run["run_id"])
    finished: Any = await client.runs.get(bad["thread_id"], run["run_id"])
    assert finished["status"] == "error"
    history: Any = await client.threads.get_history(bad["thread_id"])
    assert all("decision" not in h["values"] for h in history)
