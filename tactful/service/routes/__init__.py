"""HTTP routes, one module per resource."""

from __future__ import annotations

from typing import Any

from tactful.service.models import Problem


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (every error body is a :class:`Problem`)."""
    text = {
        401: "Missing or unknown API key",
        404: "Unknown conversation or handoff (also another tenant's)",
        409: "Conflict: the conversation stayed busy, the handoff was claimed or closed, a message id reused",
        413: "Request body or text too large",
        422: "Invalid request; the detail names the field",
        429: "Rate limit exceeded; see Retry-After",
        503: "The worker is at capacity (every turn slot busy); retry after Retry-After",
    }
    return {code: {"model": Problem, "description": text[code]} for code in codes}
