"""Classifier: fit time, per-message latency and accuracy of the offline intent classifier
(``tactful.agents.intent.model.IntentModel``, as ``tactful intents fit|eval`` use it) on the development data sets, and
the same for the product's own taxonomy model (``policies/taxonomy.yaml``, fitted at start-up).

- BANKING77 (``banking77/train.csv``, 77 intents): one held-out fold of the 5-fold stratified split (fit on 4/5,
  score 1/5); target accuracy ≥ 0.93.
- CLINC150 (``clinc150/clinc150_dev.json``): fit on ``train`` + ``oos_train``, score ``val`` + ``oos_val``;
  targets in-scope accuracy ≥ 0.95 and out-of-scope recall ≥ 0.60.

The targets are those of ``docs/intents.md``. ``--quick`` fits on a stratified subsample (a few rows per intent)
and scores a subsample of the held-out rows: its accuracies are lower than a full run's and only show the code
path works. Data sets are found with ``--datasets`` (default ``$TACTFUL_DATASETS``, else ``../shared/datasets``
next to the repository).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tactful.bench.common import JSON, Section, Target, percentile, progress, section, skipped
from tactful.bench.markdown import fmt, table
from tactful.resources import package_path

TARGET_BANKING77_ACCURACY = 0.93
TARGET_CLINC150_IN_SCOPE_ACCURACY = 0.95
TARGET_CLINC150_OOS_RECALL = 0.60
LATENCY_SAMPLE = 300


def default_datasets() -> Path:
    env = os.environ.get("TACTFUL_DATASETS")
    return Path(env) if env else (package_path().resolve().parent.parent / "shared" / "datasets")


def _per_class(
    labels: Sequence[str], per_class: int, seed: int, *, overrides: dict[str, int] | None = None
) -> list[int]:
    """Row indices: at most ``per_class`` rows of every label (``overrides`` for some), seeded, in their original
    order."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    picked: list[int] = []
    for label in sorted(by_label):
        rows, count = by_label[label], (overrides or {}).get(label, per_class)
        picked.extend(rng.permutation(rows)[:count].tolist() if len(rows) > count else rows)
    return sorted(picked)


def _latency(model: Any, texts: Sequence[str]) -> JSON:
    sample = list(texts[:LATENCY_SAMPLE])
    timings: list[float] = []
    for text in sample:
        t0 = time.perf_counter()
        model.predict_one(text)
        timings.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.predict(list(texts))
    batch = (time.perf_counter() - t0) / max(1, len(texts))
    return {
        "messages_timed": len(sample),
        "latency_ms_p50": round(1000 * (percentile(timings, 0.5) or 0), 3),
        "latency_ms_p95": round(1000 * (percentile(timings, 0.95) or 0), 3),
        "latency_ms_mean": round(1000 * statistics.fmean(timings), 3) if timings else None,
        "batch_ms_per_message": round(1000 * batch, 3),
    }


def _confusions(gold: Sequence[str], preds: Sequence[Any], oos_label: str | None, top: int = 5) -> list[JSON]:
    """The most frequent mistakes, gold → predicted (``oos_label`` for a rejected message)."""
    counts: dict[tuple[str, str], int] = {}
    for g, p in zip(gold, preds, strict=True):
        label = oos_label if (oos_label and p.out_of_scope) else p.top_label
        if label != g:
            counts[(g, str(label))] = counts.get((g, str(label)), 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in ranked]


def _fit(texts: Sequence[str], labels: Sequence[str], *, oos_label: str | None = None) -> tuple[Any, float]:
    from tactful.agents.intent.model import IntentModel

    t0 = time.perf_counter()
    model = IntentModel.fit(texts, labels, oos_label=oos_label, random_state=0)
    return model, time.perf_counter() - t0


def banking77(root: Path, *, quick: bool) -> JSON:
    from tactful.agents.intent.data import load_labelled
    from tactful.agents.intent.model import stratified_folds
    from tactful.agents.intent.scoring import score

    path = root / "banking77" / "train.csv"
    texts, labels = load_labelled(path, "text", "category")
    total = len(texts)
    if quick:
        keep = _per_class(labels, 12, seed=0)
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    folds = stratified_folds(labels, 5 if not quick else 3, random_state=0)
    train = [i for i, f in enumerate(folds) if f != 0]
    test = [i for i, f in enumerate(folds) if f == 0]
    progress(f"classifier: BANKING77, fit on {len(train)} rows, score {len(test)}")
    model, fit_s = _fit([texts[i] for i in train], [labels[i] for i in train])
    test_texts = [texts[i] for i in test]
    preds = model.predict(test_texts)
    return {
        "data": str(path),
        "protocol": ("quick: 12 rows per intent, 3-fold split, fold 0 held out" if quick
                     else "5-fold stratified split (seed 0), fold 0 held out"),
        "rows_in_file": total,
        "n_train": len(train),
        "n_test": len(test),
        "labels": len(model.labels),
        "fit_s": round(fit_s, 2),
        **score([labels[i] for i in test], preds, None),
        **_latency(model, test_texts),
        "top_confusions": _confusions([labels[i] for i in test], preds, None),
    }


def clinc150(root: Path, *, quick: bool) -> JSON:
    from tactful.agents.intent.data import load_labelled
    from tactful.agents.intent.scoring import score

    path = root / "clinc150" / "clinc150_dev.json"
    texts, labels = load_labelled(path, "text", "label", "train,oos_train")
    gold_texts, gold = load_labelled(path, "text", "label", "val,oos_val")
    if quick:
        keep = _per_class(labels, 12, seed=0, overrides={"oos": 40})
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
        keep = _per_class(gold, 4, seed=1, overrides={"oos": 40})
        gold_texts, gold = [gold_texts[i] for i in keep], [gold[i] for i in keep]
    progress(f"classifier: CLINC150, fit on {len(texts)} rows (with oos), score {len(gold)}")
    model, fit_s = _fit(texts, labels, oos_label="oos")
    preds = model.predict(gold_texts)
    return {
        "data": str(path),
        "protocol": ("quick: 12 rows per intent and 40 oos from train+oos_train; 4 per intent and 40 oos from "
                     "val+oos_val" if quick else "fit on train+oos_train, score val+oos_val"),
        "n_train": len(texts),
        "n_test": len(gold),
        "labels": len(model.labels),
        "fit_s": round(fit_s, 2),
        **score(gold, preds, "oos"),
        **_latency(model, gold_texts),
        "top_confusions": _confusions(gold, preds, "oos"),
    }


def taxonomy() -> JSON:
    """The product's own model: the support context fits it from ``policies/taxonomy.yaml`` at start-up."""
    from tactful.agents.engine.seam import IntentRequest
    from tactful.graphs.context import build_context
    from tactful.settings import Settings

    t0 = time.perf_counter()
    ctx = build_context(Settings(engine="offline"), cache=False)
    build_s = time.perf_counter() - t0
    texts = ["I forgot my password", "where is my order", "my 2fa code isn't working",
             "can you send your soc 2 report", "what is the weather on mars", "cancel my subscription now"]
    timings: list[float] = []
    for i in range(LATENCY_SAMPLE):
        t1 = time.perf_counter()
        ctx.offline.classify_now(IntentRequest(turn_key="bench", text=texts[i % len(texts)]))
        timings.append(time.perf_counter() - t1)
    return {
        "data": "policies/taxonomy.yaml",
        "context_build_s_incl_fit": round(build_s, 3),
        "classify_ms_p50": round(1000 * (percentile(timings, 0.5) or 0), 3),
        "classify_ms_p95": round(1000 * (percentile(timings, 0.95) or 0), 3),
    }


def bench(*, quick: bool, datasets: Path | None = None) -> JSON:
    started = time.perf_counter()
    root = datasets or default_datasets()
    data: JSON = {"datasets": str(root), "mode": "quick (subsample)" if quick else "full", "taxonomy": taxonomy()}
    if not root.is_dir():
        return skipped(f"skipped: datasets directory {root} not found (--datasets DIR or TACTFUL_DATASETS)",
                       **data, wall_s=round(time.perf_counter() - started, 2))
    note = "quick subsample: not comparable with the target" if quick else None
    targets: list[Target] = []
    if (root / "banking77" / "train.csv").is_file():
        b = data["banking77"] = banking77(root, quick=quick)
        targets.append(Target("banking77.accuracy", b["accuracy"], TARGET_BANKING77_ACCURACY, "min", note=note))
    else:
        data["banking77"] = skipped(f"skipped: {root / 'banking77' / 'train.csv'} not found")
    if (root / "clinc150" / "clinc150_dev.json").is_file():
        c = data["clinc150"] = clinc150(root, quick=quick)
        targets.append(Target("clinc150.in_scope_accuracy", c["in_scope_accuracy"],
                              TARGET_CLINC150_IN_SCOPE_ACCURACY, "min", note=note))
        targets.append(Target("clinc150.oos_recall", c["oos_recall"], TARGET_CLINC150_OOS_RECALL, "min", note=note))
    else:
        data["clinc150"] = skipped(f"skipped: {root / 'clinc150' / 'clinc150_dev.json'} not found")
    if not targets:
        return skipped(f"skipped: no known data set under {root}", **data,
                       wall_s=round(time.perf_counter() - started, 2))
    return section(targets, data, wall_s=time.perf_counter() - started)


def render(sec: JSON) -> list[str]:
    rows = []
    for name in ("banking77", "clinc150"):
        d = sec.get(name)
        if not d or d.get("status") == "skipped":
            continue
        acc = d.get("in_scope_accuracy", d.get("accuracy"))
        rows.append([name, d["n_train"], d["n_test"], d["fit_s"], acc, d.get("oos_recall"), d["macro_f1"],
                     d["latency_ms_p50"], d["latency_ms_p95"], d["batch_ms_per_message"]])
    lines = table(["data set", "train rows", "test rows", "fit s", "accuracy (in scope)", "OOS recall",
                   "macro-F1", "p50 ms/msg", "p95 ms/msg", "batch ms/msg"], rows)
    tax = sec.get("taxonomy")
    if tax:
        lines += [f"Taxonomy model (`policies/taxonomy.yaml`): context built with the fit in "
                  f"{fmt(tax['context_build_s_incl_fit'])} s; classify p50 {fmt(tax['classify_ms_p50'])} ms, "
                  f"p95 {fmt(tax['classify_ms_p95'])} ms.", ""]
    return lines


def options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--datasets", type=Path, default=None, metavar="DIR",
                       help="development data sets (default: $TACTFUL_DATASETS, else ../shared/datasets next to "
                            "the repository)")


SECTION = Section(
    name="classifier",
    title="Classifier",
    summary="fit time, latency and accuracy on the development data sets",
    run=lambda args: bench(quick=args.quick, datasets=args.datasets),
    render=render,
    options=options,
)
