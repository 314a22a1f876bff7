"""One resilient caller of an OpenAI-compatible chat endpoint: the only layer that retries.

- tenacity retries 408/409/429/5xx, timeouts and connection errors with exponential backoff and full jitter,
  honouring ``Retry-After`` (capped); 400/401/403/404/422 and invalid output are never retried. The SDK's own
  retries are off (``max_retries=0``).
- Every request gets ``min(request_timeout_s, time left in the turn)``; no attempt starts past the deadline.
- A circuit breaker skips the model for ``breaker_reset_s`` after ``breaker_failures`` consecutive failed
  calls; then one probe is let through, and its success closes the circuit.
- Structured calls validate the answer and re-ask once; every request sent is counted in a
  :class:`UsageMeter`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, TypeVar, cast

import httpx
import openai
from langsmith.utils import tracing_is_enabled
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from tactful.agents.engine.tokens import ChatTurn, count_chat, count_tokens
from tactful.agents.prompts import Prompt
from tactful.agents.state import Usage
from tactful.errors import ConfigError, InvalidModelOutputError, ModelUnavailableError
from tactful.settings import Settings

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
BreakerState = Literal["closed", "open", "half_open"]

RETRY_STATUS = frozenset({408, 409, 429})
# Errors that can only happen while reading a stream already under way (after headers).
STREAM_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx.HTTPError, OSError)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: rate limits, server errors, timeouts, dropped connections."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
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


class CircuitBreaker:
    """Closed → open after ``failures`` failures in a row → half-open after ``reset_s`` → closed again."""

    def __init__(self, *, failures: int, reset_s: float, clock: Clock = time.monotonic) -> None:
        self.threshold = max(1, failures)
        self.reset_s = reset_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go to the model now? In half-open state only one probe at a time is let through."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def release(self) -> None:
        """A let-through call never reached the model: neither success nor failure."""
        self._probing = False

    def record_failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self._probing = False


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
class Structured:
    """How to ask for a structured answer: its name, JSON schema, and the re-ask prompt."""

    name: str
    schema: dict[str, object]
    reask: Prompt


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


class _StopAtDeadline(stop_base):
    """tenacity stop: no retry whose wait would end past the turn's deadline."""

    def __init__(self, deadline: float, clock: Clock) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep >= self.deadline


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

    def _timeout(self, deadline: float) -> float:
        left = deadline - self.clock()
        if left <= 0:
            raise ModelUnavailableError("the turn's deadline passed before the model answered")
        return min(self.settings.request_timeout_s, left)

    async def _send(self, send: Callable[[float], Awaitable[T]], *, deadline: float, meter: UsageMeter) -> T:
        """One logical request with retries; the breaker sees its final outcome only."""
        if not self.breaker.allow():
            raise ModelUnavailableError("circuit open: the model failed repeatedly and is skipped for now")

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1) | _StopAtDeadline(deadline, self.clock),
            wait=_Waiter(self.settings),
            retry=retry_if_exception(is_transient),
            sleep=self.sleep,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    timeout = self._timeout(deadline)
                    attempts += 1
                    meter.model_calls += 1
                    result = await send(timeout)
        except openai.OpenAIError as exc:
            self.breaker.record_failure()
            status = getattr(exc, "status_code", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            raise ModelUnavailableError(
                f"model call failed ({what}) after {attempts} attempt(s)",
                attempts=attempts,
                last_response=str(exc)[:500],
            ) from exc
        except ModelUnavailableError:  # the deadline passed: a failure only if requests went unanswered
            if attempts:
                self.breaker.record_failure()
            else:
                self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    # ------------------------------------------------------------------ calls

    def _limit(self, max_tokens: int) -> _TokenLimit:
        """The output-token cap under the name the server expects (o-series models want max_completion_tokens)."""
        if self.settings.token_limit_param == "max_completion_tokens":
            return {"max_completion_tokens": max_tokens}
        return {"max_tokens": max_tokens}

    async def complete(
        self, *, model: str, messages: Sequence[ChatTurn], deadline: float, meter: UsageMeter, max_tokens: int
    ) -> str:
        """Plain text completion."""
        completion = await self._send(
            lambda timeout: self.client().chat.completions.create(
                model=model, messages=_sdk(messages), timeout=timeout, **self._limit(max_tokens)
            ),
            deadline=deadline,
            meter=meter,
        )
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        self._account(meter, completion, messages, text, model=model)
        return text

    async def structured(
        self,
        *,
        model: str,
        messages: Sequence[ChatTurn],
        spec: Structured,
        parse: Callable[[str], T],
        deadline: float,
        meter: UsageMeter,
        max_tokens: int,
    ) -> T:
        """A validated structured answer; one re-ask on invalid output, then InvalidModelOutputError."""
        convo = list(messages)
        raw = ""
        problem = ""
        for ask in range(2):

            def send(timeout: float, convo: Sequence[ChatTurn] = convo) -> Awaitable[ChatCompletion]:
                return self._create_structured(model, convo, spec, timeout, max_tokens)

            completion = await self._send(send, deadline=deadline, meter=meter)
            raw = _structured_text(completion)
            self._account(meter, completion, convo, raw, model=model)
            try:
                return parse(raw)
            except (ValidationError, ValueError) as exc:
                problem = _short_error(exc)
                if ask == 0:
                    convo = [
                        *convo,
                        {"role": "assistant", "content": raw or "(empty)"},
                        {"role": "user", "content": spec.reask.render(error=problem)},
                    ]
        raise InvalidModelOutputError(
            f"invalid {spec.name} after a re-ask: {problem}", attempts=2, last_response=raw
        )

    def _create_structured(
        self, model: str, messages: Sequence[ChatTurn], spec: Structured, timeout: float, max_tokens: int
    ) -> Awaitable[ChatCompletion]:
        create = self.client().chat.completions.create
        mode = self.settings.structured_output
        if mode == "json_schema":
            return create(
                model=model,
                messages=_sdk(messages),
                timeout=timeout,
                **self._limit(max_tokens),
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": spec.name, "schema": spec.schema, "strict": True},
                },
            )
        if mode == "json_object":
            return create(
                model=model,
                messages=_sdk(messages),
                timeout=timeout,
                **self._limit(max_tokens),
                response_format={"type": "json_object"},
            )
        return create(
            model=model,
            messages=_sdk(messages),
            timeout=timeout,
            **self._limit(max_tokens),
            tools=[{"type": "function", "function": {"name": spec.name, "parameters": spec.schema}}],
            tool_choice={"type": "function", "function": {"name": spec.name}},
        )

    async def stream(
        self, *, model: str, messages: Sequence[ChatTurn], deadline: float, meter: UsageMeter, max_tokens: int
    ) -> AsyncGenerator[str, None]:
        """Text deltas of a streamed completion. Opening the stream is retried; once text flows it is not.

        Raises ModelUnavailableError when the stream cannot be opened, and one of STREAM_ERRORS when it breaks
        or passes the turn deadline after text has flowed. Usage lands in ``meter`` when the stream ends.
        """

        def open_stream(timeout: float) -> Awaitable[openai.AsyncStream[ChatCompletionChunk]]:
            create = self.client().chat.completions.create
            if self.settings.stream_include_usage:
                return create(
                    model=model,
                    messages=_sdk(messages),
                    timeout=timeout,
                    **self._limit(max_tokens),
                    stream=True,
                    stream_options={"include_usage": True},
                )
            return create(
                model=model, messages=_sdk(messages), timeout=timeout, **self._limit(max_tokens), stream=True
            )

        stream = await self._send(open_stream, deadline=deadline, meter=meter)
        text = ""
        reported: ChatCompletionChunk | None = None
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    reported = chunk
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    text += delta
                    yield delta
                if self.clock() > deadline:
                    raise httpx.ReadTimeout("the turn's deadline passed while the reply streamed")
        except STREAM_ERRORS:
            self.breaker.record_failure()
            raise
        finally:
            await stream.close()
            if reported is not None and reported.usage is not None:
                meter.add(prompt=reported.usage.prompt_tokens, completion=reported.usage.completion_tokens)
            else:
                meter.add(
                    prompt=count_chat(messages, model=model), completion=count_tokens(text, model=model)
                )

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


def _structured_text(completion: ChatCompletion) -> str:
    if not completion.choices:
        return ""
    message = completion.choices[0].message
    if message.tool_calls:
        call = message.tool_calls[0]
        function = getattr(call, "function", None)
        return function.arguments if function is not None else ""
    return message.content or ""


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:3]]
        return "; ".join(parts)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg})"
    return str(exc)[:200]
