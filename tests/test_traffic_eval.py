"""``tactful intents eval DATA --graph``: the whole support graph's handoff rate on a labelled file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tactful.cli import main


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("message", "kind"))
        writer.writerows(rows)
    return path


ROWS = [
    ("please let me talk to a person", "person"),
    ("get me a human agent now", "person"),
    ("how do I reset my password", "benign"),
    ("where can I download last month's invoice", "benign"),
    ("what's the weather like in rome this weekend", "benign"),
]


def test_graph_mode_reports_handoff_rates_caught_and_over_escalation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write(tmp_path / "traffic.csv", ROWS)
    code = main(["intents", "eval", str(data), "--graph", "--text-col", "message", "--label-col", "kind",
                 "--handoff-label", "person"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["n"] == 5
    assert report["caught"] == 1.0
    assert report["over_escalation"] == 0.0
    assert report["handoff_rate"] == 0.4
    assert report["by_label"]["person"]["handoff_rate"] == 1.0
    assert report["reasons"] == {"human_requested": 2}
    assert report["queues"] == {"general": 2}


def test_graph_mode_samples_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "traffic.csv", ROWS)
    assert main(["intents", "eval", str(data), "--graph", "--text-col", "message", "--label-col", "kind",
                 "--sample", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--handoff-label", "nope"], "not in the data"),
        (["--sample", "0"], "--sample"),
        (["--model", "somewhere"], "takes no --model"),
    ],
)
def test_graph_mode_bad_input_is_a_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    data = _write(tmp_path / "traffic.csv", ROWS)
    code = main(["intents", "eval", str(data), "--graph", "--text-col", "message", "--label-col", "kind", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_sample_without_graph_is_a_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "traffic.csv", ROWS)
    code = main(["intents", "eval", str(data), "--cv", "2", "--text-col", "message", "--label-col", "kind",
                 "--sample", "3"])
    assert code == 2
    assert "--graph" in capsys.readouterr().err
