"""Errors the service raises on purpose; each maps to one HTTP status in ``tactful.service.app``."""

from __future__ import annotations

from tactful.errors import TactfulError


class NotFoundError(TactfulError):
    """The tenant has no such conversation, handoff or person (another tenant's ids are unknown too)."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind = kind
        self.ident = ident
        self.code = f"{kind}_not_found"
        super().__init__(f"{kind} {ident!r} not found")


class ConflictError(TactfulError):
    """The request is valid but contradicts the current state (a claimed handoff, a reused message id);
    ``code`` is its problem code (``handoff_claimed``, ``handoff_closed``, ``message_id_reused``)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        self.code = code
        super().__init__(message)


class PayloadTooLargeError(TactfulError):
    """A field is longer than the configured limit."""

    def __init__(self, field: str, limit: int) -> None:
        self.field = field
        self.limit = limit
        super().__init__(f"{field} is longer than {limit} characters")
