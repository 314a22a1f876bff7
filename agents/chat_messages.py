"""Messages in the shapes LangGraph tooling sends, read into the transcript's own :class:`Message` shape.

Studio, Agent Chat UI and ``langgraph-sdk`` clients post LangChain-style messages: ``{"role": "user",
"content": "..."}``, ``{"type": "human", "content": [{"type": "text", "text": "..."}]}`` or a ``HumanMessage``.
The transcript keeps ``{"role", "text", "turn", "at"}`` (JSON, masked and stored by the service), so the
messages reducer passes every incoming item through :func:`to_message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from tactful.errors import InputError

if TYPE_CHECKING:
    from tactful.agents.state import Message, Role

ROLES: dict[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "bot",
    "ai": "bot",
    "bot": "bot",
    "system": "system",
    "human_agent": "human_agent",
}

_OWN_ROLES = frozenset(ROLES.values())


def _text(content: object) -> str:
    """A message's content as text: a string, or the text blocks of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    raise InputError("message content must be text or a list of text blocks")


def to_message(item: object) -> Message:
    """One incoming message as a transcript :class:`Message` (already in that shape: returned as is)."""
    if isinstance(item, dict) and "text" in item and "turn" in item and item.get("role") in _OWN_ROLES:
        return cast("Message", item)
    fields: Mapping[str, Any]
    if isinstance(item, Mapping):
        fields = item
    elif hasattr(item, "type") and hasattr(item, "content"):  # a LangChain BaseMessage
        fields = {"type": item.type, "content": item.content, "id": getattr(item, "id", None)}
    else:
        raise InputError(f"a message must be an object with a role and content, not {type(item).__name__}")
    kind = fields.get("role", fields.get("type"))
    role = ROLES.get(str(kind)) if kind is not None else None
    if role is None:
        raise InputError(f"message role {kind!r}: one of {', '.join(sorted(ROLES))}")
    text = fields["text"] if isinstance(fields.get("text"), str) else _text(fields.get("content", ""))
    if role == "user" and not text.strip():
        raise InputError("a user message must have some text")
    message: Message = {
        "role": role,
        "text": text,
        "turn": int(fields.get("turn", 0) or 0),
        "at": str(fields.get("at") or datetime.now(UTC).isoformat()),
    }
    ident = fields.get("message_id", fields.get("id"))
    if isinstance(ident, str) and ident:
        message["message_id"] = ident
    return message
