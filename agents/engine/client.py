"""One resilient caller of an OpenAI-compatible chat endpoint: the only layer that retries.

- Every request draws on the turn's :class:`~tactful.agents.engine.budget.TurnBudget` — first tries, retries and
  re-asks alike, for every call of the turn — and gets ``min(request_timeout_s, time left in the turn)``; no
  request starts past the deadline or once the budget is spent.
- tenacity retries what may pass: 408/409/429/5xx, timeouts, dropped connections, and malformed answers (a body
  that is not JSON, an envelope that is not a chat completion, no choices, a stream that ends before it
  finishes), with exponential backoff and full jitter, honouring ``Retry-After`` (capped). Other 4xx are never
  retried. The SDK's own retries are off (``max_retries=0``).
- A structured answer is validated against its pydantic type (the JSON schema sent is derived from it) and
  re-asked once when it does not fit.
- The circuit breaker counts every failed request, whatever the kind, and is asked before every request.
- A stream yields complete sentences only: what it has not finished when it breaks is never sent.

Whatever goes wrong surfaces as an :class:`~tactful.errors.EngineError`, which the engine answers from its
offline fallback. Every request sent is counted in a :class:`UsageMeter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import time
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar, cast

import httpx
import openai
from langsmith.utils import tracing_is_enabled
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from tactful.agents.engine.breaker import CircuitBreaker
from tactful.agents.engine.budget import TurnBudget
from tactful.agents.engine.schema import parse_structured, short_error, strict_schema, strip_fence
from tactful.agents.engine.sentences import complete_up_to
from tactful.agents.engine.tokens import ChatTurn, count_chat, count_tokens
from tactful.agents.prompts import Prompt
from tactful.agents.state import Usage
from tactful.errors import (
    ConfigError,
    EngineError,
    InvalidModelOutputError,
    MalformedResponseError,
    ModelUnavailableError,
    StreamCutError,
)
from tactful.settings import Settings

log = logging.getLogger("tactful.engine")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

RETRY_STATUS = frozenset({408, 409, 429})
MAX_REASKS = 1
# Re-asks that got the same invalid answer back, in a row, after which re-asking stops for ``breaker_reset_s``
# (a deterministic server repeats itself word for word); one re-ask is then tried again.
STUCK_REASKS = 2
# What reading a stream under way can raise besides the SDK's own errors (a cut connection, a bad data line).
_STREAM_READ_ERRORS: tuple[type[Exception], ...] = (
    MalformedResponseError,
    openai.OpenAIError,
    httpx.HTTPError,
    OSError,
    ValueError,
    TypeError,
    AttributeError,
)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: rate limits, server errors, timeouts, dropped connections, unreadable answers."""
    if isinstance(exc, MalformedResponseError | openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, or ``Retry-After`` in seconds or a date)."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


@dataclass
class UsageMeter:
    """Requests sent and tokens used by one engine call; server-reported tokens win over local counts."""

    settings: Settings
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, *, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion

    def usage(self) -> Usage:
        cost = (
            self.prompt_tokens * self.settings.price_per_1k_prompt_usd
            + self.completion_tokens * self.settings.price_per_1k_completion_usd
        ) / 1000
        return {
            "model_calls": self.model_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(cost, 8),
        }


@dataclass(frozen=True)
class Structured(Generic[M]):
    """How to ask for a structured answer: its name, the pydantic type it must fit, and the re-ask prompt.

    The JSON schema sent is derived from ``output``; ``context`` is passed to its validators."""

    name: str
    output: type[M]
    reask: Prompt
    context: dict[str, Any] | None = None

    @property
    def schema(self) -> dict[str, Any]:
        return strict_schema(self.output)


class _Waiter:
    """tenacity wait: the server's Retry-After (capped) when given, else exponential backoff with jitter."""

    def __init__(self, settings: Settings) -> None:
        self.cap = settings.retry_after_cap_s
        self.backoff = wait_random_exponential(
            multiplier=settings.retry_backoff_base_s, max=settings.retry_backoff_max_s
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_s(exc)
        if asked is not None:
            return min(asked, self.cap)
        return float(self.backoff(state))


class _StopWhenSpent(stop_base):
    """tenacity stop: no retry whose wait would end past the turn's deadline, nor once its requests are spent."""

    def __init__(self, budget: TurnBudget, clock: Clock) -> None:
        self.budget = budget
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.budget.requests <= 0 or self.clock() + retry_state.upcoming_sleep >= self.budget.deadline


class _TokenLimit(TypedDict, total=False):
    max_tokens: int
    max_completion_tokens: int


DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _traced(client: openai.AsyncOpenAI) -> openai.AsyncOpenAI:
    """``client`` wrapped by LangSmith's ``wrap_openai``. Its package also loads a deprecated OpenAI Agents SDK
    shim that warns on import; that warning is not ours to raise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langsmith.wrappers import wrap_openai

    return wrap_openai(client)


@dataclass
class _Stream:
    """One streamed attempt being read: complete sentences come out, the unfinished rest is held back."""

    sdk: openai.AsyncStream[ChatCompletionChunk]
    deadline: float
    clock: Clock
    received: str = ""
    held: str = ""
    finish: str | None = None
    usage: tuple[int, int] | None = None
    pieces: AsyncIterator[str] | None = None

    def sentences(self) -> AsyncIterator[str]:
        if self.pieces is None:
            self.pieces = self._read()
        return self.pieces

    async def _read(self) -> AsyncGenerator[str, None]:
        try:
            async for chunk in self.sdk:
                if chunk.usage is not None:
                    self.usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not isinstance(chunk.choices, list):
                    raise MalformedResponseError("a stream chunk without choices")
                if chunk.choices:
                    choice = chunk.choices[0]
                    delta = choice.delta.content if choice.delta is not None else None
                    if delta:
                        self.received += delta
                        self.held += delta
                    if choice.finish_reason:
                        self.finish = choice.finish_reason
                cut = complete_up_to(self.held)
                if cut:
                    piece, self.held = self.held[:cut], self.held[cut:]
                    yield piece
                if self.clock() > self.deadline and self.finish is None:
                    raise StreamCutError("deadline", "the turn's deadline passed while the reply streamed")
        except StreamCutError:
            raise
        except _STREAM_READ_ERRORS as exc:
            raise StreamCutError("broken", f"the stream broke ({type(exc).__name__})") from exc
        if self.finish is None:
            raise StreamCutError("truncated", "the stream ended before the reply finished")
        if self.finish == "length":
            raise StreamCutError("length", "the reply reached the output-token cap")
        if self.held:
            piece, self.held = self.held, ""
            yield piece

    async def close(self) -> None:
        """Stop reading and release the connection; a connection that fails to close is already gone."""
        with contextlib.suppress(*_STREAM_READ_ERRORS):
            if self.pieces is not None:
                await cast(AsyncGenerator[str, None], self.pieces).aclose()
            await self.sdk.close()


class ModelClient:
    """Sends chat requests to one OpenAI-compatible server; see the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        settings: Settings,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if settings.openai_base_url is None and settings.openai_api_key is None:
            raise ConfigError(
                "TACTFUL_OPENAI_API_KEY (or OPENAI_API_KEY) is required for the openai engine unless "
                "TACTFUL_OPENAI_BASE_URL (or OPENAI_BASE_URL) points at a server that needs no key"
            )
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.breaker = CircuitBreaker(
            failures=settings.breaker_failures, reset_s=settings.breaker_reset_s, clock=clock
        )
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stuck = 0  # re-asks in a row that got the same invalid answer back
        self._stuck_at: float | None = None

    # ------------------------------------------------------------------ plumbing

    def client(self) -> openai.AsyncOpenAI:
        """The SDK client for the running event loop (a connection pool cannot cross loops)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            key = self.settings.openai_api_key
            self._client = openai.AsyncOpenAI(
                # The settings read OPENAI_BASE_URL / OPENAI_API_KEY already; the SDK must not read them again.
                base_url=self.settings.openai_base_url or DEFAULT_BASE_URL,
                api_key=key.get_secret_value() if key else "no-key",
                max_retries=0,
                timeout=self.settings.request_timeout_s,
                # An httpx client (respx answers it in tests); openai>=3 accepts it beside its httpx2 default.
                http_client=cast(Any, httpx.AsyncClient()),
            )
            if tracing_is_enabled():  # each request an LLM run with its token usage in LangSmith
                self._client = _traced(self._client)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client of the running loop (service shutdown)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
        self._loop = None

    def _admit(self, budget: TurnBudget) -> float:
        """The timeout of the next request; raises ModelUnavailableError when none may be sent."""
        left = budget.deadline - self.clock()
        if left <= 0:
            raise ModelUnavailableError("the turn's deadline passed before the model answered")
        if budget.requests <= 0:
            raise ModelUnavailableError("the turn's model requests are used up")
        if not self.breaker.allow():
            raise ModelUnavailableError("circuit open: the model failed repeatedly and is skipped for now")
        budget.spend()
        return min(self.settings.request_timeout_s, left)

    async def _call(
        self,
        once: Callable[[float], Awaitable[T]],
        *,
        budget: TurnBudget,
        meter: UsageMeter,
        retry: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        """Send ``once`` until it succeeds, fails for good, or the attempts, the budget or the deadline run out.

        Each request is one attempt, and the breaker sees each one's outcome."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1) | _StopWhenSpent(budget, self.clock),
            wait=_Waiter(self.settings),
            retry=retry_if_exception(retry),
            sleep=self.sleep,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    timeout = self._admit(budget)
                    attempts += 1
                    meter.model_calls += 1
                    try:
                        result = await once(timeout)
                    except asyncio.CancelledError:
                        self.breaker.release()
                        raise
                    except Exception:
                        self.breaker.record_failure()
                        raise
                    self.breaker.record_success()
        except EngineError as exc:
            exc.attempts = max(exc.attempts, attempts)
            raise
        except openai.OpenAIError as exc:
            status = getattr(exc, "status_code", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            raise ModelUnavailableError(
                f"model call failed ({what}) after {attempts} attempt(s)",
                attempts=attempts,
                last_response=str(exc)[:500],
            ) from exc
        except Exception as exc:  # anything else an answer can provoke still leaves the turn to the fallback
            log.warning("model call failed unexpectedly: %s: %s", type(exc).__name__, exc)
            raise ModelUnavailableError(
                f"model call failed ({type(exc).__name__}) after {attempts} attempt(s)",
                attempts=attempts,
                last_response=str(exc)[:500],
            ) from exc
        return result

    def _limit(self, max_tokens: int) -> _TokenLimit:
        """The output-token cap under the name the server expects (o-series models want max_completion_tokens)."""
        if self.settings.token_limit_param == "max_completion_tokens":
            return {"max_completion_tokens": max_tokens}
        return {"max_tokens": max_tokens}

    async def _create(self, timeout: float, **kwargs: Any) -> ChatCompletion:
        """One non-streamed request; an answer that cannot be read raises MalformedResponseError."""
        try:
            completion = await self.client().chat.completions.create(timeout=timeout, **kwargs)
        except (ValueError, openai.APIResponseValidationError) as exc:  # a JSONDecodeError is a ValueError
            raise MalformedResponseError(f"the answer is not valid JSON ({type(exc).__name__})") from exc
        _first_message(completion)
        return cast(ChatCompletion, completion)

    # ------------------------------------------------------------------ calls

    async def complete(
        self,
        *,
        model: str,
        messages: Sequence[ChatTurn],
        budget: TurnBudget,
        meter: UsageMeter,
        max_tokens: int,
    ) -> str:
        """Plain text completion."""

        async def once(timeout: float) -> str:
            completion = await self._create(
                timeout, model=model, messages=_sdk(messages), **self._limit(max_tokens)
            )
            text = _first_message(completion).content or ""
            self._account(meter, completion, messages, text, model=model)
            return text

        return await self._call(once, budget=budget, meter=meter)

    async def structured(
        self,
        *,
        model: str,
        messages: Sequence[ChatTurn],
        spec: Structured[M],
        budget: TurnBudget,
        meter: UsageMeter,
        max_tokens: int,
    ) -> M:
        """An answer validated against ``spec.output``; re-asked once (saying what was wrong) when it does not
        fit, then InvalidModelOutputError. Re-asks draw on the same budget as retries, and are skipped where they
        cannot help: an answer cut by the token cap, the same invalid answer twice, or a server whose last
        re-asks all came back unchanged."""
        convo = list(messages)
        schema = spec.schema
        reasks = 0
        answers: list[str] = []

        async def once(timeout: float) -> M:
            nonlocal convo, reasks
            completion = await self._create_structured(model, convo, spec.name, schema, timeout, max_tokens)
            raw = _structured_text(completion, name=spec.name)
            self._account(meter, completion, convo, raw, model=model)
            if answers:
                self._note_reask(changed=raw != answers[-1])
            try:
                return parse_structured(spec.output, raw, context=spec.context)
            except (ValidationError, ValueError) as exc:
                problem = short_error(exc)
                error = InvalidModelOutputError(
                    f"invalid {spec.name}: {problem}", last_response=raw[:500]
                )
                futile = raw in answers or _finish_reason(completion) == "length" or self._reasks_futile()
                answers.append(raw)
                if reasks < MAX_REASKS and not futile:
                    reasks += 1
                    convo = [
                        *convo,
                        {"role": "assistant", "content": raw or "(empty)"},
                        {"role": "user", "content": spec.reask.render(error=problem)},
                    ]
                    error.reask = True  # type: ignore[attr-defined]
                raise error from exc

        def retry(exc: BaseException) -> bool:
            return is_transient(exc) or bool(getattr(exc, "reask", False))

        return await self._call(once, budget=budget, meter=meter, retry=retry)

    def _note_reask(self, *, changed: bool) -> None:
        """Count re-asks that came back unchanged; a changed answer (valid or not) shows re-asking can help."""
        if changed:
            self._stuck, self._stuck_at = 0, None
            return
        self._stuck += 1
        if self._stuck >= STUCK_REASKS:
            self._stuck_at = self.clock()

    def _reasks_futile(self) -> bool:
        if self._stuck_at is None:
            return False
        if self.clock() - self._stuck_at < self.settings.breaker_reset_s:
            return True
        self._stuck, self._stuck_at = STUCK_REASKS - 1, None  # one more try; unchanged again → futile again
        return False

    def _create_structured(
        self,
        model: str,
        messages: Sequence[ChatTurn],
        name: str,
        schema: dict[str, Any],
        timeout: float,
        max_tokens: int,
    ) -> Awaitable[ChatCompletion]:
        mode = self.settings.structured_output
        common: dict[str, Any] = {"model": model, "messages": _sdk(messages), **self._limit(max_tokens)}
        if mode == "json_schema":
            return self._create(
                timeout,
                **common,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": True},
                },
            )
        if mode == "json_object":
            return self._create(timeout, **common, response_format={"type": "json_object"})
        return self._create(
            timeout,
            **common,
            tools=[{"type": "function", "function": {"name": name, "parameters": schema}}],
            tool_choice=(
                {"type": "function", "function": {"name": name}}
                if self.settings.tool_choice == "function"
                else "required"
            ),
        )

    async def stream(
        self,
        *,
        model: str,
        messages: Sequence[ChatTurn],
        budget: TurnBudget,
        meter: UsageMeter,
        max_tokens: int,
    ) -> AsyncGenerator[str, None]:
        """Complete sentences of a streamed reply.

        Opening the stream and reading it up to its first complete sentence is retried within the budget; once
        a sentence has gone out it is not. Raises ModelUnavailableError when no sentence could be had, and
        StreamCutError when the stream breaks, is cut or passes the turn deadline after text has gone out — the
        unfinished sentence is then dropped, never yielded. Usage lands in ``meter`` when the stream ends.
        """
        def settle(reading: _Stream) -> None:
            prompt, completion = reading.usage or (
                count_chat(messages, model=model),
                count_tokens(reading.received, model=model),
            )
            meter.add(prompt=prompt, completion=completion)

        async def once(timeout: float) -> tuple[_Stream, str]:
            kwargs: dict[str, Any] = {
                "model": model,
                "messages": _sdk(messages),
                "stream": True,
                **self._limit(max_tokens),
            }
            if self.settings.stream_include_usage:
                kwargs["stream_options"] = {"include_usage": True}
            try:
                sdk = await self.client().chat.completions.create(timeout=timeout, **kwargs)
            except ValueError as exc:
                raise MalformedResponseError("the stream could not be read") from exc
            reading = _Stream(sdk, deadline=budget.deadline, clock=self.clock)
            try:
                first = await anext(reading.sentences(), "")
                if not first.strip() and reading.finish is not None:
                    raise MalformedResponseError("the model streamed an empty reply")
            except StreamCutError as cut:
                if cut.reason == "length":
                    return reading, ""
                await reading.close()
                settle(reading)
                if cut.reason == "deadline":
                    raise ModelUnavailableError(str(cut)) from cut
                raise MalformedResponseError(f"{cut} before its first sentence") from cut
            except BaseException:
                await reading.close()
                settle(reading)
                raise
            return reading, first

        reading, first = await self._call(once, budget=budget, meter=meter)
        try:
            if first:
                yield first
            async for piece in reading.sentences():
                yield piece
        except StreamCutError as cut:
            if cut.reason != "length":
                self.breaker.record_failure()
            raise
        finally:
            await reading.close()
            settle(reading)

    @staticmethod
    def _account(
        meter: UsageMeter, completion: ChatCompletion, messages: Sequence[ChatTurn], text: str, *, model: str
    ) -> None:
        if completion.usage is not None:
            meter.add(prompt=completion.usage.prompt_tokens, completion=completion.usage.completion_tokens)
        else:
            meter.add(prompt=count_chat(messages, model=model), completion=count_tokens(text, model=model))


def _sdk(messages: Sequence[ChatTurn]) -> list[openai.types.chat.ChatCompletionMessageParam]:
    return cast("list[openai.types.chat.ChatCompletionMessageParam]", [dict(m) for m in messages])


def _first_message(completion: object) -> ChatCompletionMessage:
    """The first choice's message; MalformedResponseError when the answer is not a usable chat completion."""
    if not isinstance(completion, ChatCompletion):
        raise MalformedResponseError(f"the answer is not a chat completion ({type(completion).__name__})")
    choices = completion.choices
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError("the answer has no choices")
    message = getattr(choices[0], "message", None)
    if not isinstance(message, ChatCompletionMessage):
        raise MalformedResponseError("the answer's first choice has no message")
    if message.content is not None and not isinstance(message.content, str):
        raise MalformedResponseError("the answer's content is not text")
    if message.tool_calls is not None and not isinstance(message.tool_calls, list):
        raise MalformedResponseError("the answer's tool calls are not a list")
    return message


def _structured_text(completion: ChatCompletion, *, name: str) -> str:
    """The answer's JSON text: a tool call's arguments, or the content — unwrapped when it is a call written out
    as text (``{"name": ..., "arguments": {...}}``, as small models on llama-server do)."""
    message = _first_message(completion)
    if message.tool_calls:
        function = getattr(message.tool_calls[0], "function", None)
        arguments = getattr(function, "arguments", None)
        return arguments if isinstance(arguments, str) else ""
    return _unwrap_tool_call(message.content or "", name=name)


def _unwrap_tool_call(content: str, *, name: str) -> str:
    """The JSON object a content answer holds (prose after it dropped), unwrapped when it is written as a call
    (``name`` + ``arguments`` / ``parameters``). Only one function is ever offered, so a call under another name
    is still a call to it; its arguments are validated like any answer."""
    text = strip_fence(content)
    start = text.find("{")
    if start < 0:
        return content
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return content
    if not isinstance(data, dict):
        return content
    if set(data) <= {"name", "arguments", "parameters"} and ("arguments" in data or "parameters" in data):
        arguments = data.get("arguments", data.get("parameters"))
        if isinstance(arguments, str):
            return arguments
        return json.dumps(arguments) if isinstance(arguments, dict) else content
    return json.dumps(data)


def _finish_reason(completion: ChatCompletion) -> str | None:
    choices = completion.choices
    return getattr(choices[0], "finish_reason", None) if isinstance(choices, list) and choices else None
