"""Every error answer is an RFC 9457 problem: ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and a stable ``code`` per error (clients branch on ``code``; ``detail`` is for people). A 422 also
lists each invalid field in ``errors``. The codes are the contract; docs/service.md lists them."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tactful:problem:"

# code → (status, title)
CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (422, "The body is not valid JSON"),
    "invalid_request": (422, "The request is invalid"),
    "invalid_input": (422, "The input is invalid"),
    "unauthorized": (401, "Missing or unknown API key"),
    "not_found": (404, "No such resource"),
    "conversation_not_found": (404, "No such conversation"),
    "handoff_not_found": (404, "No such handoff"),
    "method_not_allowed": (405, "Method not allowed"),
    "not_acceptable": (406, "Not acceptable"),
    "conversation_busy": (409, "The conversation is busy"),
    "handoff_claimed": (409, "The handoff is claimed by someone else"),
    "handoff_closed": (409, "The handoff is closed"),
    "message_id_reused": (409, "The message id was used for a different message"),
    "conflict": (409, "Conflict"),
    "body_too_large": (413, "The request body is too large"),
    "text_too_long": (413, "A text is longer than allowed"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "rate_limited": (429, "Rate limit exceeded"),
    "internal_error": (500, "Internal error"),
    "at_capacity": (503, "The service is at capacity"),
    "unavailable": (503, "The service is starting or stopping"),
    "not_ready": (503, "Not ready"),
}
BY_STATUS = {405: "method_not_allowed", 404: "not_found", 406: "not_acceptable", 413: "body_too_large",
             415: "unsupported_media_type", 401: "unauthorized", 429: "rate_limited", 503: "unavailable"}


class ApiProblem(HTTPException):
    """An HTTP error with its stable problem ``code``."""

    def __init__(self, code: str, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        self.code = code
        super().__init__(CODES[code][0], detail, headers=dict(headers or {}))


def problem(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """The problem response for ``code`` (its status unless ``status`` says otherwise)."""
    known_status, title = CODES.get(code, (status or 500, code.replace("_", " ")))
    body: dict[str, object] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status or known_status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status or known_status, headers=dict(headers or {}), media_type=MEDIA_TYPE)


def code_for_status(status: int) -> str:
    return BY_STATUS.get(status, "internal_error" if status >= 500 else "invalid_request")
