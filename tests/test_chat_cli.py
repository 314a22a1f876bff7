"""``tactful chat --json``: one JSON turn result per input line, in the HTTP turn shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tactful.cli import main

KEYS = {"mode", "action", "reply", "intent", "sentiment", "decision", "guards", "handoff"}


def run_chat(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str,
             *args: str) -> tuple[int, list[dict[str, object]], str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["chat", "--json", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_json_mode_prints_one_turn_result_per_line(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    stdin = 'I forgot my password\n\n{"text": "let me talk to a person", "events": []}\n'
    code, results, _ = run_chat(monkeypatch, capsys, stdin)
    assert code == 0
    assert len(results) == 2
    for r in results:
        assert set(r) >= KEYS
        assert "factors" in (r["decision"] or {})  # type: ignore[operator]
    assert results[0]["action"] == "respond" and results[0]["mode"] == "bot"
    assert results[1]["action"] == "escalate" and results[1]["mode"] == "human"
    assert results[1]["handoff"]["queue"]  # type: ignore[index]


def test_context_file_sets_the_account(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({"tier": "vip", "value": 200000, "channel": "mobile"}))
    code, results, _ = run_chat(monkeypatch, capsys, "my payment failed and I'm annoyed\n", "--context", str(ctx))
    assert code == 0
    factors = {f["name"]: f["value"] for f in results[0]["decision"]["factors"]}  # type: ignore[index]
    assert factors["tier"] == "vip" and factors["value"] == 200000


def test_bad_json_line_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_chat(monkeypatch, capsys, 'hello\n{"txt": "oops"}\n')
    assert code == 2
    assert err.count("\n") == 1 and "line 2" in err and "Traceback" not in err


def test_missing_context_file_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_chat(monkeypatch, capsys, "hi\n", "--context", "/nonexistent/ctx.json")
    assert code == 2 and "cannot read context file" in err
