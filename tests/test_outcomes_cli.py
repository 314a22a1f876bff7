"""``tactful seed``, ``tactful report`` and ``tactful tune`` against a real SQLite store: a fresh machine gets a
month of conversations and outcomes, a self-contained HTML report with charts, and a proposal that is only a
proposal; bad arguments are CLI errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tactful.cli import main
from tests.server_helpers import REPO

SCENARIOS = REPO / "evals" / "scenarios" / "support"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TACTFUL_DATABASE_URL", raising=False)
    monkeypatch.setenv("TACTFUL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_seed_then_report_and_tune_on_a_fresh_store(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [SCENARIOS / "handoff", SCENARIOS / "matrix"]
    assert main(["seed", "--conversations", "14", "--days", "5", "--scenarios", *map(str, files)]) == 0
    seeded = json.loads(capsys.readouterr().out)
    assert seeded["conversations"] >= 14 and seeded["turns"] > 14 and seeded["handoffs"] >= 1
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--days", "6", "--out", str(out), "--json", str(tmp_path / "s.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "s.json").read_text())
    html = out.read_text()
    assert printed["conversations"] == summary["totals"]["conversations"] >= 14
    assert summary["totals"]["escalations"] == seeded["handoffs"]
    assert summary["labels"] and sum(summary["labels"].values()) == seeded["labels"]
    assert len(summary["by_day"]) >= 2  # spread over the month, not all today
    assert html.count("<svg") >= 4 and "Trend over days" in html and "By queue" in html
    assert not re.search(r"(src|href)=\"https?://", html)  # nothing fetched from elsewhere
    assert main(["tune", "--days", "6", "--min-labels", "1", "--out", str(tmp_path / "t.json")]) == 0
    proposal = json.loads((tmp_path / "t.json").read_text())
    assert proposal["conversations"] == summary["totals"]["conversations"]
    assert proposal["replay_fidelity"] == 1.0 and proposal["candidates"]
    assert {"escalations", "precision", "recall"} <= set(proposal["candidates"][0]["fit"])


def test_tune_never_writes_over_the_live_policy(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = REPO / "policies" / "support.yaml"
    before = live.read_text()
    assert main(["tune", "--write", str(live)]) == 2
    assert "the live policy file" in capsys.readouterr().err
    assert live.read_text() == before


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--days", "0"],
        ["report", "--tenant", "no spaces"],
        ["report", "--until", "yesterday"],
        ["tune", "--holdout", "1.5"],
        ["seed", "--conversations", "0"],
        ["seed", "--days", "400"],
    ],
)
def test_bad_arguments_are_cli_errors(data_dir: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("tactful: error:")
