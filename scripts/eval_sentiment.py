"""Measure the offline sentiment reasoner on GoEmotions (dev): does single-turn frustration separate the
negative/frustrated emotions (anger, annoyance, disappointment, disapproval, disgust) from the rest?

Prints one JSON object: ROC AUC and precision/recall/F1 at the configured thresholds for ``frustration``, and
the same for plain VADER compound (negated) for comparison. Run from the repo root:

    python scripts/eval_sentiment.py [--data DIR] [--signals FILE] [--markers]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from tactful.agents.sentiment.model import MARKER_CODES, SentimentReasoner, load_signal_config

REPO = Path(__file__).resolve().parent.parent

NEGATIVE = {"anger", "annoyance", "disappointment", "disapproval", "disgust"}
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "goemotions"
# GoEmotions masks names and religions as "[NAME]" / "[RELIGION]"; unmasked they would read as shouting.
_PLACEHOLDER = re.compile(r"\[([A-Z]+)\]")


def load_rows(data_dir: Path) -> list[tuple[str, bool]]:
    names: list[str] = json.loads((data_dir / "labels.json").read_text(encoding="utf-8"))
    rows: list[tuple[str, bool]] = []
    for line in (data_dir / "dev.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text, ids, _ = line.split("\t")
        labels = {names[int(i)] for i in ids.split(",") if i}
        rows.append((_PLACEHOLDER.sub(lambda m: m.group(1).capitalize(), text), bool(labels & NEGATIVE)))
    return rows


def at_threshold(truth: list[bool], predicted: list[bool]) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(truth, predicted, average="binary", zero_division=0)
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}


def best_f1(truth: list[bool], scores: list[float]) -> dict[str, float]:
    best = {"threshold": 0.0, "f1": -1.0}
    for threshold in sorted(set(round(s, 2) for s in scores)):
        stats = at_threshold(truth, [s >= threshold for s in scores])
        if stats["f1"] > best["f1"]:
            best = {"threshold": threshold, **stats}
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--signals", type=Path, default=None)
    parser.add_argument("--markers", action="store_true", help="add per-marker firing rates by class")
    args = parser.parse_args(argv)

    config = load_signal_config(args.signals)
    reasoner = SentimentReasoner(config)
    rows = load_rows(args.data)
    truth = [label for _, label in rows]
    frustration: list[float] = []
    compound: list[float] = []
    fired: dict[str, list[int]] = {code: [0, 0] for code in MARKER_CODES}
    for text, label in rows:
        state = reasoner.assess(
            text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
        )
        frustration.append(state["frustration"])
        compound.append(state["score"])
        for code in state["markers"]:
            fired[code][int(label)] += 1

    negated = [-c for c in compound]
    thresholds = config.labels
    report: dict[str, object] = {
        "dataset": "goemotions/dev.tsv",
        "n": len(rows),
        "positives": sum(truth),
        "positive_labels": sorted(NEGATIVE),
        "reasoner": {
            "roc_auc": round(float(roc_auc_score(truth, frustration)), 4),
            f"at_negative_{thresholds.negative}": at_threshold(
                truth, [f >= thresholds.negative for f in frustration]
            ),
            f"at_frustrated_{thresholds.frustrated}": at_threshold(
                truth, [f >= thresholds.frustrated for f in frustration]
            ),
            "best_f1": best_f1(truth, frustration),
        },
        "vader_compound": {
            "roc_auc": round(float(roc_auc_score(truth, negated)), 4),
            "at_compound_le_-0.05": at_threshold(truth, [c <= -0.05 for c in compound]),
            "best_f1": best_f1(truth, negated),
        },
    }
    if args.markers:
        positives = max(1, sum(truth))
        negatives = max(1, len(truth) - sum(truth))
        report["markers"] = {
            code: {"rate_in_negative": round(pos / positives, 4), "rate_in_rest": round(neg / negatives, 4)}
            for code, (neg, pos) in fired.items()
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
