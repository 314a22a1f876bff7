"""A local OpenAI-compatible fake server for benchmarks: real HTTP and SSE on loopback, configurable latency and
token counts. Structured requests get an instance generated from the request's own JSON schema, so any engine
that sends ``response_format: json_schema`` (or a tool schema) receives a valid object.

In-process (``FakeOpenAIServer``, a background thread) or as its own process, so that it does not share a GIL with
the client under load::

    python -m tactful.bench.fake_openai --port 8600 --latency-ms 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

JSON = dict[str, Any]


@dataclass
class FakeModelConfig:
    latency_s: float = 0.3
    completion_tokens: int = 40
    reply_text: str = "Thanks for the details. Here is what you can do next: check the steps in your account settings."
    calls: int = 0
    prompt_tokens_seen: list[int] = field(default_factory=list)
    structured: Callable[[JSON], Any] | None = None
    """Answers a structured request (given its body) instead of the schema's first valid instance."""
    count_prompt: Callable[[list[JSON]], int] | None = None
    """Counts a request's prompt tokens (default: characters / 4)."""
    requests: list[JSON] = field(default_factory=list)
    """One ``{"kind": analysis|reply|summary, "prompt_tokens": n}`` per request, in arrival order."""
    system_prompts: dict[str, str] = field(default_factory=dict)
    """The system text (every system message, joined) of the first request of each kind."""
    faults: list[str] = field(default_factory=list)
    """Misbehave on purpose: each request takes the next fault (see ``FAULTS``) until the list is empty."""
    always: str | None = None
    """A fault every request gets (after ``faults`` is used up)."""


FAULTS = (
    "status_500",  # a 500 with an OpenAI error body
    "truncated_json",  # a 200 application/json body cut in half
    "bad_envelope",  # a 200 JSON body that is not a chat completion
    "empty_choices",  # a chat completion without choices
    "wrong_schema",  # a structured answer that does not fit the schema
    "cut_stream",  # an SSE stream that stops mid-line, before it finishes
    "bad_data_line",  # an SSE stream with a truncated ``data:`` line, then more events
)


def request_kind(body: JSON) -> str:
    """``analysis`` (a structured answer), ``reply`` (streamed) or ``summary`` (plain)."""
    if body.get("response_format") or body.get("tools"):
        return "analysis"
    return "reply" if body.get("stream") else "summary"


def instance_of(schema: JSON, defs: JSON | None = None) -> Any:
    """A small valid instance of a JSON schema (enough of it for pydantic-generated schemas)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return instance_of(defs[schema["$ref"].split("/")[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance_of(options[0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: instance_of(v, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_of(schema["items"], defs)] if schema.get("minItems", 0) > 0 and "items" in schema else []
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        low, high = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return round((low + high) / 2, 3) if high is not None else low
    if kind == "boolean":
        return False
    return "ok"


def _prompt_tokens(body: JSON) -> int:
    text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    return max(1, len(text) // 4)


def build_app(config: FakeModelConfig) -> Starlette:
    async def completions(request: Request) -> Response:
        body = await request.json()
        config.calls += 1
        fault = config.faults.pop(0) if config.faults else config.always
        prompt = config.count_prompt(body.get("messages", [])) if config.count_prompt else _prompt_tokens(body)
        config.prompt_tokens_seen.append(prompt)
        kind = request_kind(body)
        config.requests.append({"kind": kind, "prompt_tokens": prompt})
        if kind not in config.system_prompts:
            config.system_prompts[kind] = "\n".join(
                str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
            )
        await asyncio.sleep(config.latency_s)
        if fault is not None and fault != "wrong_schema":
            return _misbehave(fault, body)
        usage = {"prompt_tokens": prompt, "completion_tokens": config.completion_tokens,
                 "total_tokens": prompt + config.completion_tokens}
        fmt = body.get("response_format") or {}
        tools = body.get("tools") or []
        content: str | None = config.reply_text
        tool_calls: list[JSON] | None = None
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
            content = json.dumps(config.structured(body) if config.structured else instance_of(schema))
        elif fmt.get("type") == "json_object":
            content = json.dumps(config.structured(body)) if config.structured else "{}"
        elif tools:
            fn = tools[0]["function"]
            content = None
            answer = config.structured(body) if config.structured else instance_of(fn["parameters"])
            arguments = json.dumps(answer) if fault != "wrong_schema" else '{"unexpected": true}'
            tool_calls = [{"id": "call_1", "type": "function",
                           "function": {"name": fn["name"], "arguments": arguments}}]
        if fault == "wrong_schema" and fmt:  # valid JSON that fits no schema of ours (structured requests)
            content = '{"unexpected": true}'
        created = int(time.time())
        if body.get("stream"):
            async def events() -> AsyncIterator[str]:
                words = (content or "").split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    chunk = {"id": "fake", "object": "chat.completion.chunk", "created": created,
                             "model": body.get("model", "fake"),
                             "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                last = {"id": "fake", "object": "chat.completion.chunk", "created": created,
                        "model": body.get("model", "fake"),
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
                yield f"data: {json.dumps(last)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        message: JSON = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JSONResponse({
            "id": "fake", "object": "chat.completion", "created": created, "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": usage,
        })

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "bench"}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                             Route("/v1/models", models, methods=["GET"])])


def _chunk(content: str) -> str:
    return json.dumps({"id": "fake", "object": "chat.completion.chunk", "created": 1, "model": "fake",
                       "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]})


def _misbehave(fault: str, body: JSON) -> Response:
    """The answer of a misbehaving server for ``fault`` (one of ``FAULTS``)."""
    good = json.dumps({"id": "fake", "object": "chat.completion", "created": 1, "model": "fake",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": "Hello there."}}]})
    if fault == "status_500":
        return JSONResponse({"error": {"message": "fake failure", "type": "server_error"}}, status_code=500)
    if fault == "truncated_json":
        return Response(good[: len(good) // 2], media_type="application/json")
    if fault == "bad_envelope":
        return JSONResponse({"result": "Hello there."})
    if fault == "empty_choices":
        return JSONResponse({"id": "fake", "object": "chat.completion", "created": 1, "model": "fake", "choices": []})
    if fault in ("cut_stream", "bad_data_line"):
        if not body.get("stream"):
            return Response(good[: len(good) // 2], media_type="application/json")
        events = f"data: {_chunk('We can sort that out')}\n\n"
        if fault == "cut_stream":
            events += "data: " + _chunk(" in a minute.")[:30]
        else:
            events += "data: " + _chunk(" in a minute.")[:30] + "\n\n" + "data: [DONE]\n\n"
        return Response(events, media_type="text/event-stream")
    raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeOpenAIServer:
    """Runs the fake on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, config: FakeModelConfig | None = None) -> None:
        self.config = config or FakeModelConfig()
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(build_app(self.config), host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tactful.bench.fake_openai", description=__doc__)
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--latency-ms", type=float, default=300.0, help="delay before every answer (default 300)")
    parser.add_argument("--completion-tokens", type=int, default=40)
    args = parser.parse_args(argv)
    config = FakeModelConfig(latency_s=args.latency_ms / 1000, completion_tokens=args.completion_tokens)
    config.prompt_tokens_seen = _Discard()
    config.requests = _Discard()
    uvicorn.run(build_app(config), host="127.0.0.1", port=args.port, log_level="warning", lifespan="off",
                backlog=4096)
    return 0


class _Discard(list[Any]):
    """A list that keeps nothing: a long-running fake must not grow with every request."""

    def append(self, item: Any) -> None:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
