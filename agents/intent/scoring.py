"""Scores of intent predictions against gold labels (accuracy, macro F1, out-of-scope recall and precision)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from tactful.agents.intent.model import IntentPrediction


def score(gold: Sequence[str], preds: Sequence[IntentPrediction], oos_label: str | None) -> dict[str, Any]:
    """Metrics for predictions against gold labels.

    Without ``oos_label`` the data has no out-of-scope rows: ``accuracy`` and ``macro_f1`` score the top
    in-scope label (classification), and ``rejected`` is the share the model would call out of scope.
    With it, a message predicted out of scope counts as the oos label: ``accuracy`` covers every row,
    ``in_scope_accuracy`` the in-scope rows (a rejected in-scope row is wrong), plus ``oos_recall`` and
    ``oos_precision``."""
    top = [p.top_label for p in preds]
    rejected = np.array([p.out_of_scope for p in preds], dtype=bool)
    if oos_label is None:
        correct = np.array([t == g for t, g in zip(top, gold, strict=True)], dtype=bool)
        return {
            "accuracy": round4(float(correct.mean())),
            "macro_f1": round4(float(f1_score(gold, top, average="macro", zero_division=0))),
            "rejected": round4(float(rejected.mean())),
            "accuracy_with_rejection": round4(float((correct & ~rejected).mean())),
        }
    predicted = [oos_label if r else t for r, t in zip(rejected, top, strict=True)]
    correct = np.array([p == g for p, g in zip(predicted, gold, strict=True)], dtype=bool)
    is_oos = np.array([g == oos_label for g in gold], dtype=bool)
    top_correct = np.array([t == g for t, g in zip(top, gold, strict=True)], dtype=bool)
    out: dict[str, Any] = {
        "accuracy": round4(float(correct.mean())),
        "macro_f1": round4(float(f1_score(gold, predicted, average="macro", zero_division=0))),
        "n_in_scope": int((~is_oos).sum()),
        "n_oos": int(is_oos.sum()),
        "in_scope_accuracy": round4(float(correct[~is_oos].mean())) if (~is_oos).any() else None,
        "in_scope_top_accuracy": round4(float(top_correct[~is_oos].mean())) if (~is_oos).any() else None,
        "in_scope_rejected": round4(float(rejected[~is_oos].mean())) if (~is_oos).any() else None,
        "oos_recall": round4(float(rejected[is_oos].mean())) if is_oos.any() else None,
        "oos_precision": round4(float(is_oos[rejected].mean())) if rejected.any() else None,
    }
    return out


def round4(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
