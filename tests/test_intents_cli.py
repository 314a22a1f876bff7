"""``tactful intents fit|eval`` end to end on small synthetic files, and every class of bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tactful.cli import main
from tests.test_intent_model import OOS_EXAMPLES, UNRELATED, synthetic


def _write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "intent")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("intents")
    texts, labels = synthetic(per_class=15)
    _write_csv(root / "train.csv", list(zip(texts, labels, strict=True)))
    rows = [{"utterance": t, "intent": label} for t, label in zip(texts, labels, strict=True)]
    rows += [{"utterance": t, "intent": "oos"} for t in OOS_EXAMPLES]
    _write_jsonl(root / "train.jsonl", rows)
    probe = [
        {"utterance": "please reset my password", "intent": "password_reset"},
        {"utterance": "where is my package today", "intent": "shipping_status"},
        {"utterance": "I want a refund now", "intent": "refund_request"},
        {"utterance": "cancel my subscription thanks", "intent": "cancel_subscription"},
        *({"utterance": t, "intent": "oos"} for t in UNRELATED),
    ]
    _write_jsonl(root / "probe.jsonl", probe)
    main(["intents", "fit", str(root / "train.csv"), "--label-col", "intent", "--out", str(root / "model")])
    return root


def test_fit_prints_a_one_line_summary(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "intents", "fit", data_dir / "train.csv", "--text-col", "text", "--label-col", "intent",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    summary = json.loads(out)
    assert summary["n"] == 60 and summary["labels"] == 4 and summary["fit_seconds"] >= 0
    assert (tmp_path / "m" / "intent_model.json").is_file()


def test_eval_saved_model_on_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "intents",
        "eval",
        data_dir / "train.csv",
        "--model",
        data_dir / "model",
        "--label-col",
        "intent",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["n"] == 60
    assert report["accuracy"] == 1.0 and report["macro_f1"] == 1.0
    assert report["latency_ms"] > 0
    assert "oos_recall" not in report


def test_fit_and_eval_with_out_of_scope_rows_on_jsonl(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--text-col", "utterance", "--label-col", "intent", "--oos-label", "oos"]
    code, out, err = _run(
        capsys, "intents", "fit", data_dir / "train.jsonl", *common, "--out", tmp_path / "m"
    )
    assert code == 0, err
    # the file's out-of-scope rows, plus the shipped background negatives (policies/background.yaml)
    assert json.loads(out)["n_oos"] > len(OOS_EXAMPLES)
    code, out, err = _run(
        capsys, "intents", "fit", data_dir / "train.jsonl", *common, "--no-background", "--out", tmp_path / "m0"
    )
    assert code == 0, err
    assert json.loads(out)["n_oos"] == len(OOS_EXAMPLES)
    code, out, err = _run(
        capsys, "intents", "eval", data_dir / "probe.jsonl", *common, "--model", tmp_path / "m"
    )
    assert code == 0, err
    report = json.loads(out)
    for key in (
        "accuracy",
        "macro_f1",
        "n",
        "oos_recall",
        "oos_precision",
        "in_scope_accuracy",
        "latency_ms",
    ):
        assert key in report, key
    assert report["n"] == 4 + len(UNRELATED)
    assert report["in_scope_accuracy"] == 1.0
    assert report["oos_recall"] >= 2 / 3


def test_eval_cross_validation(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "intents", "eval", data_dir / "train.jsonl", "--text-col", "utterance",
        "--label-col", "intent", "--oos-label", "oos", "--cv", "3", "--latency-sample", "5",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["cv"] == 3 and report["model"] is None
    assert report["n"] == 60 + len(OOS_EXAMPLES)
    assert report["in_scope_top_accuracy"] >= 0.9
    assert {"oos_recall", "in_scope_accuracy", "fit_seconds"} <= set(report)


def test_json_splits(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = synthetic(per_class=10)
    data = {
        "train": [[t, label] for t, label in zip(texts, labels, strict=True)],
        "oos_train": [[t, "oos"] for t in OOS_EXAMPLES],
        "val": [["reset my password please", "password_reset"], [UNRELATED[0], "oos"]],
    }
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = _run(
        capsys,
        "intents",
        "fit",
        path,
        "--split",
        "train,oos_train",
        "--oos-label",
        "oos",
        "--out",
        tmp_path / "m",
    )
    assert code == 0, err
    code, out, err = _run(
        capsys, "intents", "eval", path, "--split", "val", "--oos-label", "oos", "--model", tmp_path / "m"
    )
    assert code == 0, err
    assert json.loads(out)["n"] == 2


def _bad(tmp: Path) -> dict[str, tuple[list[str], str]]:
    train = str(tmp / "train.csv")
    model = str(tmp / "model")
    cases: dict[str, tuple[list[str], str]] = {
        "missing file": (["fit", str(tmp / "nope.csv"), "--out", str(tmp / "o")], "no such file"),
        "directory as data": (["fit", str(tmp), "--out", str(tmp / "o")], "not a file"),
        "unsupported type": (
            ["fit", str(tmp / "data.xlsx"), "--out", str(tmp / "o")],
            "unsupported file type",
        ),
        "missing column": (
            ["fit", train, "--label-col", "category", "--out", str(tmp / "o")],
            "no column 'category'",
        ),
        "header only": (
            ["fit", str(tmp / "empty.csv"), "--label-col", "intent", "--out", str(tmp / "o")],
            "no data",
        ),
        "empty file": (["fit", str(tmp / "blank.csv"), "--out", str(tmp / "o")], "empty file"),
        "bad jsonl": (["fit", str(tmp / "bad.jsonl"), "--out", str(tmp / "o")], "bad.jsonl:2: invalid JSON"),
        "jsonl missing key": (["fit", str(tmp / "nokey.jsonl"), "--out", str(tmp / "o")], "no key 'label'"),
        "not utf-8": (["fit", str(tmp / "latin.csv"), "--out", str(tmp / "o")], "not UTF-8"),
        "one intent": (
            ["fit", str(tmp / "one.csv"), "--label-col", "intent", "--out", str(tmp / "o")],
            "two",
        ),
        "json without split": (["fit", str(tmp / "splits.json"), "--out", str(tmp / "o")], "--split"),
        "unknown split": (
            ["fit", str(tmp / "splits.json"), "--split", "test", "--out", str(tmp / "o")],
            "'test'",
        ),
        "unknown labels": (
            ["eval", str(tmp / "other.csv"), "--label-col", "intent", "--model", model],
            "not know",
        ),
        "missing model dir": (
            ["eval", train, "--label-col", "intent", "--model", str(tmp / "none")],
            "does not exist",
        ),
        "not a model dir": (
            ["eval", train, "--label-col", "intent", "--model", str(tmp)],
            "not an intent model",
        ),
        "corrupt model": (
            ["eval", train, "--label-col", "intent", "--model", str(tmp / "broken")],
            "corrupt",
        ),
        "neither model nor cv": (["eval", train, "--label-col", "intent"], "--model DIR"),
        "cv too small": (["eval", train, "--label-col", "intent", "--cv", "1"], "at least 2"),
    }
    return cases


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad")
    texts, labels = synthetic(per_class=6)
    _write_csv(tmp / "train.csv", list(zip(texts, labels, strict=True)))
    _write_csv(tmp / "empty.csv", [])
    (tmp / "blank.csv").write_text("", encoding="utf-8")
    (tmp / "data.xlsx").write_bytes(b"PK\x03\x04")
    (tmp / "bad.jsonl").write_text('{"text": "hi", "label": "a"}\n{"text": oops}\n', encoding="utf-8")
    (tmp / "nokey.jsonl").write_text('{"text": "hi", "intent": "a"}\n', encoding="utf-8")
    (tmp / "latin.csv").write_bytes("text,label\ncaf\xe9 au lait,drinks\n".encode("latin-1"))
    _write_csv(tmp / "one.csv", [("reset my password", "pw"), ("new password", "pw")])
    (tmp / "splits.json").write_text(json.dumps({"train": [["hi", "a"]]}), encoding="utf-8")
    _write_csv(
        tmp / "other.csv", [("book a flight to rome", "travel"), ("reset my password", "password_reset")]
    )
    main(["intents", "fit", str(tmp / "train.csv"), "--label-col", "intent", "--out", str(tmp / "model")])
    broken = tmp / "broken"
    main(["intents", "fit", str(tmp / "train.csv"), "--label-col", "intent", "--out", str(broken)])
    (broken / "intent_model.npz").write_bytes(b"not a zip")
    return tmp


@pytest.mark.parametrize("case", list(_bad(Path("/x"))))
def test_bad_input_is_one_line_and_exit_2(
    case: str, bad_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    argv, expected = _bad(bad_dir)[case]
    code, out, err = _run(capsys, "intents", *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tactful: error:")
    assert expected in lines[0]
    assert "Traceback" not in err
