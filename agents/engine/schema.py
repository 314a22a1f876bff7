"""Structured answers: the JSON schema derived from the pydantic output type, and reading the model's raw text.

The schema is never written by hand beside its model: ``strict_schema`` derives it, so numeric bounds
(``Field(ge=..., le=...)`` → ``minimum`` / ``maximum``) and label enums (``Literal`` → ``enum``) are what the
model validates against, and it is shaped the way strict structured outputs want it (every property required,
no additional properties).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_DROP = frozenset({"title", "default"})


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key not in _DROP}
    if "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=64)
def _schema_of(output: type[BaseModel]) -> str:
    schema = _strict(output.model_json_schema())
    schema.pop("description", None)  # the model's docstring is for readers; the prompt tells the model
    return json.dumps(schema)


def strict_schema(output: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``output`` for ``response_format`` / a tool's ``parameters`` (a fresh copy)."""
    loaded: dict[str, Any] = json.loads(_schema_of(output))
    return loaded


def schema_text(output: type[BaseModel]) -> str:
    """The schema as compact JSON, for servers that take it in the prompt (``json_object`` mode)."""
    return json.dumps(strict_schema(output), separators=(",", ":"))


def strip_fence(raw: str) -> str:
    """The JSON inside a Markdown code fence, or ``raw`` as is."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text


def parse_structured(output: type[M], raw: str, *, context: dict[str, Any] | None = None) -> M:
    """Validate the model's raw text; raises pydantic's ValidationError (a ValueError) on a misfit."""
    return output.model_validate_json(strip_fence(raw), context=context)


def short_error(exc: Exception, *, limit: int = 200) -> str:
    """What was wrong with an answer, in a line a re-ask can quote."""
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors()[:3]:
            where = ".".join(str(p) for p in e["loc"]) or "answer"
            got = f" (got {e['input']!r:.60})" if e["type"] not in ("missing", "json_invalid") else ""
            parts.append(f"{where}: {e['msg'][:limit]}{got}")
        return "; ".join(parts)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg})"
    return str(exc)[:limit]
