"""One exception hierarchy. Errors carry the data a caller needs to act on them."""

from __future__ import annotations

from pathlib import Path


class TactfulError(Exception):
    """Base of every error tactful raises on purpose."""


class ConfigError(TactfulError):
    """A settings, policy or taxonomy file is invalid; names the file and line."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        where = ""
        if self.path:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(f"{where}{message}")


class InputError(TactfulError):
    """User-supplied data (a CSV, a JSONL line, a request) is malformed; the message says what and where."""


class EngineError(TactfulError):
    """An engine could not produce a result."""

    def __init__(self, message: str, *, attempts: int = 0, last_response: str | None = None) -> None:
        self.attempts = attempts
        self.last_response = last_response
        super().__init__(message)


class ModelUnavailableError(EngineError):
    """The model could not be reached or kept failing; the offline engine should answer instead."""


class InvalidModelOutputError(EngineError):
    """The model answered, but its output failed validation after the allowed re-ask."""


class MalformedResponseError(EngineError):
    """The server's answer could not be read: a body that is not JSON, an envelope that is not a chat
    completion, no choices, a stream that ended before it finished. Worth another attempt."""


class StreamCutError(EngineError):
    """A streamed reply stopped after text had gone out: ``broken`` (an error mid-stream), ``truncated`` (it
    ended without finishing), ``deadline`` (the turn's time ran out) or ``length`` (the output-token cap)."""

    def __init__(self, reason: str, message: str, *, attempts: int = 0, last_response: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, attempts=attempts, last_response=last_response)


class WorkerBusyError(TactfulError):
    """The worker has no capacity left to start another turn in time (every lock connection is in use): the
    service is overloaded, not this conversation."""

    def __init__(self, *, waited_s: float) -> None:
        self.waited_s = waited_s
        super().__init__(f"the service is at capacity (waited {waited_s:.1f}s for a free turn slot)")


class ConversationBusyError(TactfulError):
    """Another turn of the same conversation is in progress and did not finish in time."""

    def __init__(self, conversation_id: str, *, waited_s: float) -> None:
        self.conversation_id = conversation_id
        self.waited_s = waited_s
        super().__init__(f"conversation {conversation_id} is busy (waited {waited_s:.1f}s)")
