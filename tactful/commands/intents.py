"""``tactful intents fit|eval``: fit the offline intent classifier from labelled data and score it.

Data files are read by extension: ``.csv``/``.tsv`` (header row), ``.jsonl``/``.ndjson`` (one object per
line), or ``.json``: a list of objects or ``[text, label]`` pairs, or an object of such lists (CLINC150's
layout) from which ``--split`` picks one or more keys (``--split train,oos_train``). Every problem with the
input is an :class:`InputError`: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from agents.intent_model import (
    ENCODER_EXTRA,
    ENCODERS,
    CachedEncoder,
    IntentModel,
    IntentPrediction,
    TextEncoder,
    load_encoder,
    stratified_folds,
)
from tactful.errors import InputError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("intents", help="fit and score the offline intent classifier")
    commands = parser.add_subparsers(dest="intents_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=_usage(parser))

    fit = commands.add_parser("fit", help="fit a model from a labelled CSV/JSONL/JSON file and save it")
    _data_arguments(fit)
    fit.add_argument("--out", type=Path, required=True, help="directory to write the model to")
    _model_arguments(fit)
    fit.set_defaults(func=run_fit)

    ev = commands.add_parser(
        "eval", help="score a saved model, or cross-validate a fresh one, on labelled data"
    )
    _data_arguments(ev)
    ev.add_argument("--model", type=Path, help="directory of a model written by 'tactful intents fit'")
    ev.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation of a fresh model on DATA")
    ev.add_argument(
        "--latency-sample", type=int, default=200, metavar="N", help="messages timed one by one (default 200)"
    )
    _model_arguments(ev)
    ev.set_defaults(func=run_eval)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path, metavar="DATA", help="labelled .csv, .tsv, .jsonl or .json file")
    p.add_argument("--text-col", default="text", help="column/key holding the message (default: text)")
    p.add_argument("--label-col", default="label", help="column/key holding the intent (default: label)")
    p.add_argument("--oos-label", default=None, help="label that marks out-of-scope rows (e.g. oos)")
    p.add_argument("--split", default=None, help="for a .json object of lists: comma-separated keys to read")


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--random-state", type=int, default=0, help="seed for folds and the SVM (default 0)")
    p.add_argument("--c", type=float, default=1.0, help="SVM regularisation C (default 1.0)")
    p.add_argument(
        "--max-false-reject",
        type=float,
        default=0.01,
        help="share of correct held-out in-scope messages the out-of-scope rule may reject (default 0.01)",
    )
    p.add_argument(
        "--encoder",
        choices=sorted(ENCODERS),
        default=None,
        help=f"add a sentence-embedding channel (needs pip install '{ENCODER_EXTRA}'); "
        "a saved model records it, so 'eval --model' needs no flag",
    )


# ----------------------------------------------------------------------------------------------- reading data


def load_labelled(
    path: Path, text_col: str = "text", label_col: str = "label", split: str | None = None
) -> tuple[list[str], list[str]]:
    """Texts and labels from a data file; :class:`InputError` naming the file (and line) on any problem."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if split is not None and suffix != ".json":
        raise InputError(f"{path}: --split only applies to .json files")
    try:
        if suffix in CSV_SUFFIXES:
            rows = list(_read_csv(path, text_col, label_col, CSV_SUFFIXES[suffix]))
        elif suffix in JSONL_SUFFIXES:
            rows = list(_read_jsonl(path, text_col, label_col))
        elif suffix == ".json":
            rows = list(_read_json(path, text_col, label_col, split))
        else:
            raise InputError(
                f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .tsv, .jsonl or .json"
            )
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    return [text for text, _ in rows], [label for _, label in rows]


def _row(where: str, text: object, label: object) -> tuple[str, str]:
    if not isinstance(text, str):
        raise InputError(f"{where}: text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{where}: empty text")
    if isinstance(label, bool) or not isinstance(label, str | int):
        raise InputError(f"{where}: label must be a string, got {type(label).__name__}")
    label = str(label).strip()
    if not label:
        raise InputError(f"{where}: empty label")
    return text, label


def _read_csv(path: Path, text_col: str, label_col: str, delimiter: str) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            header = reader.fieldnames
            if not header:
                raise InputError(f"{path}: empty file (no header row)")
            missing = [c for c in (text_col, label_col) if c not in header]
            if missing:
                raise InputError(
                    f"{path}: no column {missing[0]!r} (columns: {', '.join(str(h) for h in header)})"
                )
            for record in reader:
                where = f"{path}:{reader.line_num}"
                text, label = record.get(text_col), record.get(label_col)
                if text is None or label is None:
                    raise InputError(f"{where}: row has fewer fields than the header")
                yield _row(where, text, label)
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None


def _read_jsonl(path: Path, text_col: str, label_col: str) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON: {exc.msg}") from None
            yield _record(where, record, text_col, label_col)


def _record(where: str, record: Any, text_col: str, label_col: str) -> tuple[str, str]:
    if isinstance(record, list | tuple) and len(record) >= 2:
        return _row(where, record[0], record[1])
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with {text_col!r} and {label_col!r}")
    for col in (text_col, label_col):
        if col not in record:
            keys = ", ".join(map(str, record)) or "none"
            raise InputError(f"{where}: no key {col!r} (keys: {keys})")
    return _row(where, record[text_col], record[label_col])


def _read_json(path: Path, text_col: str, label_col: str, split: str | None) -> Iterator[tuple[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    groups: list[tuple[str, Any]]
    if isinstance(data, dict):
        keys = ", ".join(map(str, data)) or "none"
        if split is None:
            raise InputError(f"{path}: an object of splits; pick some with --split (keys: {keys})")
        groups = []
        for name in (s.strip() for s in split.split(",")):
            if name not in data:
                raise InputError(f"{path}: no split {name!r} (keys: {keys})")
            groups.append((name, data[name]))
    elif isinstance(data, list):
        if split is not None:
            raise InputError(f"{path}: --split needs an object of splits, the file holds a list")
        groups = [("", data)]
    else:
        raise InputError(f"{path}: expected a list of rows or an object of splits")
    for name, rows in groups:
        if not isinstance(rows, list):
            raise InputError(f"{path}: split {name!r} is not a list of rows")
        for i, record in enumerate(rows):
            where = f"{path}:{name}[{i}]" if name else f"{path}:[{i}]"
            yield _record(where, record, text_col, label_col)


# ----------------------------------------------------------------------------------------------- commands


def _fit(
    args: argparse.Namespace,
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: TextEncoder | str | None = None,
) -> IntentModel:
    return IntentModel.fit(
        texts,
        labels,
        oos_label=args.oos_label,
        random_state=args.random_state,
        c=args.c,
        max_false_reject=args.max_false_reject,
        encoder=encoder,
    )


def run_fit(args: argparse.Namespace) -> int:
    encoder = load_encoder(args.encoder) if args.encoder else None  # fails fast, before reading any data
    texts, labels = load_labelled(args.data, args.text_col, args.label_col, args.split)
    started = time.perf_counter()
    model = _fit(args, texts, labels, encoder)
    fit_seconds = time.perf_counter() - started
    model.save(args.out)
    stats = model.info.get("stats", {})
    summary = {
        "n": len(texts),
        "n_oos": int(stats.get("n_oos", 0)),
        "labels": len(model.labels),
        "oos_label": model.oos_label,
        "encoder": model.encoder,
        "fit_seconds": round(fit_seconds, 3),
        "cv_accuracy": _round(stats.get("cv_accuracy")),
        "cv_oos_recall": _round(stats.get("cv_oos_recall")),
        "threshold": round(model.threshold, 6),
        "out": str(args.out),
    }
    print(json.dumps(summary))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    if args.cv is None and args.model is None:
        raise InputError("eval needs --model DIR (a fitted model) or --cv K (cross-validate on DATA)")
    if args.cv is not None and args.model is not None:
        raise InputError("give either --model or --cv, not both")
    if args.cv is not None and args.cv < 2:
        raise InputError("--cv must be at least 2")
    if args.latency_sample < 0:
        raise InputError("--latency-sample must be 0 or more")
    if args.encoder is not None and args.model is not None:
        raise InputError("--encoder applies when fitting (--cv); a saved model records its own encoder")
    texts, labels = load_labelled(args.data, args.text_col, args.label_col, args.split)
    oos = args.oos_label
    fit_seconds: float | None = None
    if args.cv is not None:
        gold, preds, model, fit_seconds = _cross_validate(args, texts, labels)
    else:
        model = IntentModel.load(args.model)
        known = set(model.labels)
        unknown = sorted({label for label in labels if label not in known and label != oos})
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            hint = "" if oos else "; if they mark out-of-scope rows, pass --oos-label"
            raise InputError(f"{args.data}: labels the model does not know: {shown}{hint}")
        gold, preds = labels, model.predict(texts)
    report: dict[str, Any] = {
        "n": len(gold),
        "labels": len(model.labels),
        **score(gold, preds, oos),
        **_latency(model, texts, args.latency_sample),
        "model": None if args.model is None else str(args.model),
        "cv": args.cv,
        "encoder": model.encoder,
    }
    if fit_seconds is not None:
        report["fit_seconds"] = round(fit_seconds, 3)
    print(json.dumps(report))
    return 0


def _cross_validate(
    args: argparse.Namespace, texts: Sequence[str], labels: Sequence[str]
) -> tuple[list[str], list[IntentPrediction], IntentModel, float]:
    k: int = args.cv
    oos = args.oos_label
    in_rows = [i for i, label in enumerate(labels) if label != oos]
    oos_rows = [i for i, label in enumerate(labels) if label == oos]
    folds = np.full(len(labels), -1, dtype=np.int64)
    folds[in_rows] = stratified_folds([labels[i] for i in in_rows], k, args.random_state)
    rng = np.random.default_rng(args.random_state + 7)
    folds[oos_rows] = rng.permutation(len(oos_rows)) % k
    gold: list[str] = []
    preds: list[IntentPrediction] = []
    fit_times: list[float] = []
    model: IntentModel | None = None
    encoder: CachedEncoder | None = None
    if args.encoder is not None:
        # every text is encoded once and the folds reuse the vectors; each fold's fit time is charged what
        # encoding its training part would have cost
        encoder = CachedEncoder(load_encoder(args.encoder))
        started = time.perf_counter()
        encoder.encode(texts)
        encode_share = (time.perf_counter() - started) * (k - 1) / k
    for f in range(k):
        test = np.flatnonzero(folds == f).tolist()
        train = np.flatnonzero(folds != f).tolist()
        if len(test) == 0:
            continue
        started = time.perf_counter()
        model = _fit(args, [texts[i] for i in train], [labels[i] for i in train], encoder)
        fit_times.append(time.perf_counter() - started + (encode_share if encoder is not None else 0.0))
        gold.extend(labels[i] for i in test)
        preds.extend(model.predict([texts[i] for i in test]))
    if model is None:
        raise InputError(f"{args.data}: every label has a single row; nothing can be held out for --cv")
    if encoder is not None:
        encoder.close()  # the latency measured next must include encoding, not a cache hit
    return gold, preds, model, statistics.fmean(fit_times)


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
            "accuracy": _round(float(correct.mean())),
            "macro_f1": _round(float(f1_score(gold, top, average="macro", zero_division=0))),
            "rejected": _round(float(rejected.mean())),
            "accuracy_with_rejection": _round(float((correct & ~rejected).mean())),
        }
    predicted = [oos_label if r else t for r, t in zip(rejected, top, strict=True)]
    correct = np.array([p == g for p, g in zip(predicted, gold, strict=True)], dtype=bool)
    is_oos = np.array([g == oos_label for g in gold], dtype=bool)
    top_correct = np.array([t == g for t, g in zip(top, gold, strict=True)], dtype=bool)
    out: dict[str, Any] = {
        "accuracy": _round(float(correct.mean())),
        "macro_f1": _round(float(f1_score(gold, predicted, average="macro", zero_division=0))),
        "n_in_scope": int((~is_oos).sum()),
        "n_oos": int(is_oos.sum()),
        "in_scope_accuracy": _round(float(correct[~is_oos].mean())) if (~is_oos).any() else None,
        "in_scope_top_accuracy": _round(float(top_correct[~is_oos].mean())) if (~is_oos).any() else None,
        "in_scope_rejected": _round(float(rejected[~is_oos].mean())) if (~is_oos).any() else None,
        "oos_recall": _round(float(rejected[is_oos].mean())) if is_oos.any() else None,
        "oos_precision": _round(float(is_oos[rejected].mean())) if rejected.any() else None,
    }
    return out


def _latency(model: IntentModel, texts: Sequence[str], sample: int) -> dict[str, Any]:
    """Per-message latency of ``predict_one`` on the first ``sample`` texts, and batch time per message."""
    picked = list(_take(texts, sample))
    timings: list[float] = []
    for text in picked:
        started = time.perf_counter()
        model.predict_one(text)
        timings.append((time.perf_counter() - started) * 1000.0)
    batch = list(_take(texts, max(sample, 1) * 5))
    started = time.perf_counter()
    model.predict(batch)
    batch_ms = (time.perf_counter() - started) * 1000.0 / max(len(batch), 1)
    return {
        "latency_ms": round(statistics.fmean(timings), 3) if timings else None,
        "latency_ms_p50": round(statistics.median(timings), 3) if timings else None,
        "latency_ms_p95": round(float(np.percentile(timings, 95)), 3) if timings else None,
        "batch_ms_per_message": round(batch_ms, 3),
    }


def _take(items: Iterable[str], count: int) -> Iterator[str]:
    for i, item in enumerate(items):
        if i >= count:
            return
        yield item


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)
