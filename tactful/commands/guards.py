"""``tactful guards fit|eval|heldout``: train the injection classifier, score the layers, export held-out rows.

- ``fit`` trains the learned layer from the shared development data sets (``--data``, default ``../shared/datasets``)
  and writes the model file (default: the user cache; ``--out PATH`` to choose). Only the train part is used unless
  ``--include-heldout`` is given (then no figure measured on the held-out part is honest any more).
- ``heldout`` writes the held-out part (never trained on, never read when writing patterns) as JSONL for ``eval``.
- ``eval FILE --text-col C --label-col C [--category-col C]`` prints one JSON object: recall and false-positive rate
  of the whole detector and of each layer, per category and per source, and the latency per message.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from tactful.agents.content import split_message
from tactful.agents.guards.corpus import DEFAULT_SOURCES, Part, Row, rows, tuning_fold
from tactful.agents.guards.injection import InjectionDetector, Where, load_detector
from tactful.agents.guards.learned import InjectionModel
from tactful.agents.guards.normalize import learned_document, views
from tactful.errors import InputError
from tactful.resources import POLICY_DIR, source_checkout


def default_data_dir() -> Path:
    root = source_checkout()
    return (root.parent / "shared" / "datasets") if root else Path("shared/datasets")


def default_model_path() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tactful" / "injection.model.npz"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("guards", help="fit and score the prompt-injection detector")
    commands = parser.add_subparsers(dest="guards_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=_usage(parser))

    fit = commands.add_parser("fit", help="train the learned injection layer from the development data sets")
    fit.add_argument("--data", type=Path, default=None, help="the data sets folder (default ../shared/datasets)")
    fit.add_argument("--out", type=Path, default=None, help=f"model file to write (default {default_model_path()})")
    fit.add_argument("--include-heldout", action="store_true", help="train on the held-out part too")
    fit.add_argument("--c", type=float, default=4.0, help="logistic regression C (default 4.0)")
    fit.add_argument("--min-threshold", type=float, default=0.85,
                     help="floor of a chosen threshold: a fold of a few dozen clean e-mails cannot resolve a "
                          "false-positive rate below a few per cent (default 0.85)")
    fit.add_argument("--max-fp-hard", type=float, default=0.02,
                     help="false-positive rate allowed on the tuning fold's hard negatives (default 0.02)")
    fit.add_argument("--max-fp-support", type=float, default=0.0,
                     help="false-positive rate allowed on the tuning fold's support messages (default 0: none)")
    fit.add_argument("--max-fp-pasted", type=float, default=0.01,
                     help="false-positive rate allowed on the tuning fold's clean pasted e-mails (default 0.01)")
    fit.add_argument("--place", choices=("both", "own", "pasted"), default="both",
                     help="both: one model for own words and pasted parts (default); own: the own-words model, "
                          "with the team's hard negatives (policies/injection.negatives.yaml); pasted: the "
                          "pasted-content model (the default sources, no team negatives; only its pasted threshold "
                          "is stored)")
    fit.add_argument("--structure", action="store_true",
                     help="add the structure tokens of `learned.structure` in injection.yaml to the word channel "
                          "(format /2 model; measured in the seventh round, not shipped: docs/guards.md)")
    fit.set_defaults(func=run_fit)

    ho = commands.add_parser("heldout", help="write the held-out development rows as JSONL (for eval)")
    ho.add_argument("--data", type=Path, default=None, help="the data sets folder (default ../shared/datasets)")
    ho.add_argument("--out", type=Path, required=True, help="JSONL file to write (text, label, category, source)")
    ho.set_defaults(func=run_heldout)

    ev = commands.add_parser("eval", help="recall and false positives per layer and category, latency per message")
    ev.add_argument("data", type=Path, metavar="FILE", help="labelled .csv, .tsv, .jsonl or .json file")
    ev.add_argument("--text-col", default="text", help="column holding the message (default: text)")
    ev.add_argument("--label-col", default="label", help="column holding the label (default: label)")
    ev.add_argument("--category-col", default=None, help="column holding a category to break figures down by")
    ev.add_argument("--source-col", default=None, help="column holding the source data set")
    ev.add_argument("--positive", default="1", help="label value(s) of attacks, comma-separated (default 1)")
    ev.add_argument("--model", type=Path, default=None, help="model file (default: the one the policy names)")
    ev.add_argument("--pasted-model", type=Path, default=None,
                    help="pasted-content model file (default: the one the policy names, if any)")
    ev.add_argument("--policy-dir", type=Path, default=None, help="policies folder (default: the shipped one)")
    ev.add_argument("--examples", type=int, default=0, help="print up to N misses and false positives to stderr")
    ev.set_defaults(func=run_eval)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def training_document(detector: InjectionDetector, text: str, *, pasted: bool = False) -> str:
    """What the learned layer reads for ``text``: the folded view and any decoded fragments. With ``pasted`` (a row
    whose attack sits in pasted content), only the pasted parts, as the detector scores them at run time (the
    customer's framing around them is scored on its own); the whole text when the splitter finds none."""
    if pasted:
        parts = [s.text for s in split_message(text) if s.kind == "pasted" and s.text.strip()]
        text = "\n".join(parts) or text
    return learned_document(views(text, detector.rules))


_GRID = [round(0.5 + 0.005 * i, 3) for i in range(100)]


def _lowest(scores: Sequence[float], limit: float) -> float:
    """The lowest threshold of the grid at which at most ``limit`` of ``scores`` reach it."""
    for t in _GRID:
        if not scores or sum(s >= t for s in scores) <= limit * len(scores):
            return t
    return _GRID[-1]


def choose_thresholds(detector: InjectionDetector, tune: Sequence[Row], *, max_fp_hard: float,
                      max_fp_support: float, max_fp_pasted: float, floor: float = 0.0,
                      places: Sequence[Where] = ("own", "pasted")) -> dict[str, object]:
    """Thresholds of the learned layer, one per place, chosen on the tuning fold's benign rows (the model scoring
    them was fitted without that fold): the lowest at which each benign kind stays within its false-positive
    budget — hard negatives (neuralchemy benign) and support traffic for the own words, clean e-mails for pasted
    content. Returns them (those of ``places``: a model fitted for one place stores that place's only) with the
    recall they keep on the fold's attacks."""
    scored = [(r, detector.learned_scores(r.text)) for r in tune]
    benign = [(r, s) for r, s in scored if r.label == 0]
    hard = [s["own"] for r, s in benign if r.source in ("neuralchemy", "negatives")]
    support = [s["own"] for r, s in benign if r.source in ("banking77", "clinc150", "taxonomy")]
    pasted = [s["pasted"] for r, s in benign if r.source == "bipia"]
    own_t = max(_lowest(hard, max_fp_hard), _lowest(support, max_fp_support), floor)
    pasted_t = max(_lowest(pasted, max_fp_pasted), floor)
    both: dict[Where, float] = {"own": own_t, "pasted": pasted_t}
    chosen = {w: t for w, t in both.items() if w in places}
    attacks = [s for r, s in scored if r.label == 1]
    caught = sum(s["own"] >= own_t or s["pasted"] >= pasted_t for s in attacks)
    return {"thresholds": chosen, "tuning": {
        "rows": len(tune), "attacks": len(attacks), "learned_recall": _rate(caught, len(attacks)),
        "fp_hard": _rate(sum(x >= own_t for x in hard), len(hard)),
        "fp_support": _rate(sum(x >= own_t for x in support), len(support)),
        "fp_pasted": _rate(sum(x >= pasted_t for x in pasted), len(pasted))}}


PLACES: dict[str, tuple[Where, ...]] = {"both": ("own", "pasted"), "own": ("own",), "pasted": ("pasted",)}


def fit_rows(data: Path, part: Part, place: str) -> list[Row]:
    """The rows a model for ``place`` is fitted on: the default sources for one model and for the pasted-content
    model; those plus the team's hard negatives for the own-words model — so the own-words side takes hard
    negatives without moving the pasted scores. (A pasted model fitted on BIPIA's e-mails alone, attacked against
    clean, was tried: 32 clean training e-mails are too few — on the tuning fold clean e-mails scored up to 0.93
    and the learned layer caught 48 % of attacked ones, against 90 % with the default sources; docs/guards.md.)"""
    return rows(data, part, sources=(*DEFAULT_SOURCES, "negatives") if place == "own" else DEFAULT_SOURCES)


def run_fit(args: argparse.Namespace) -> int:
    data = args.data or default_data_dir()
    part: Part = "all" if args.include_heldout else "train"
    place: str = args.place
    train = fit_rows(data, part, place)
    detector = load_detector(POLICY_DIR)
    started = time.perf_counter()
    docs = [training_document(detector, r.text, pasted=r.pasted) for r in train]
    labels = [r.label for r in train]
    weights = [r.weight for r in train]
    # 1. thresholds: fit without the tuning fold, choose on it
    fold = [tuning_fold(r) for r in train]
    keep = [i for i, f in enumerate(fold) if not f]
    structure = [(name, rx) for name, rx in detector.policy.learned.structure.items()] if args.structure else []
    held = InjectionModel.fit([docs[i] for i in keep], [labels[i] for i in keep], c=args.c,
                              weights=[weights[i] for i in keep], info={"place": place}, structure=structure)
    if place == "pasted":
        detector.pasted_model = held
    else:
        detector.model = held
        if place == "both":
            detector.pasted_model = None
    tuned = choose_thresholds(detector, [r for r, f in zip(train, fold, strict=True) if f],
                              max_fp_hard=args.max_fp_hard, max_fp_support=args.max_fp_support,
                              max_fp_pasted=args.max_fp_pasted, floor=args.min_threshold,
                              places=PLACES[place])
    # 2. the shipped model: the whole part, with the thresholds chosen above
    counts: dict[str, int] = defaultdict(int)
    for r in train:
        counts[f"{r.source}:{'attack' if r.label else 'benign'}"] += 1
    model = InjectionModel.fit(docs, labels, c=args.c, weights=weights, structure=structure,
                               info={"part": part, "place": place, "rows": dict(sorted(counts.items())),
                                     "c": args.c, **tuned})
    out = args.out or default_model_path()
    model.save(out)
    print(json.dumps({"model": str(out), "bytes": out.stat().st_size, "part": part, "place": place,
                      "rows": len(train), "by_source": dict(sorted(counts.items())), **tuned,
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 0


def run_heldout(args: argparse.Namespace) -> int:
    held = rows(args.data or default_data_dir(), "heldout")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in held:
            fh.write(json.dumps({"text": r.text, "label": r.label, "category": r.category, "source": r.source,
                                 "subset": f"{r.source}:{r.subset}" if r.subset else r.source}) + "\n")
    print(json.dumps({"out": str(args.out), "rows": len(held), "attacks": sum(r.label for r in held)}))
    return 0


def _records(path: Path) -> list[dict[str, object]]:
    """Rows of a .csv/.tsv (header row), .jsonl (one object a line) or .json (a list of objects) file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with path.open(newline="", encoding="utf-8") as fh:
                return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        if suffix in (".jsonl", ".ndjson"):
            out = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise InputError(f"{path}:{n}: not a JSON object")
                    out.append(obj)
            return out
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, list) and all(isinstance(x, dict) for x in data):
                return data
            raise InputError(f"{path}: expected a list of objects")
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .tsv, .jsonl or .json")


def _load_rows(args: argparse.Namespace) -> list[Row]:
    records = _records(args.data)
    positive = {p.strip() for p in args.positive.split(",")}
    out = []
    for n, rec in enumerate(records, 1):
        if args.text_col not in rec or args.label_col not in rec:
            raise InputError(f"{args.data}: row {n} has no {args.text_col!r} or {args.label_col!r} column")
        label = 1 if str(rec[args.label_col]) in positive else 0
        category = str(rec.get(args.category_col) or "") if args.category_col else ""
        source = str(rec.get(args.source_col) or "") if args.source_col else ""
        out.append(Row(str(rec[args.text_col]), label, category or ("attack" if label else "benign"), source or "all"))
    if not out:
        raise InputError(f"{args.data}: no rows")
    return out


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summarise(rows_: Sequence[Row], fired: Sequence[dict[str, bool]], layers: Sequence[str]) -> dict[str, object]:
    """Recall on attacks and false-positive rate on benign rows: overall, per category and per source."""
    def block(select: Callable[[Row], bool]) -> dict[str, object]:
        idx = [i for i, r in enumerate(rows_) if select(r)]
        att = [i for i in idx if rows_[i].label == 1]
        ben = [i for i in idx if rows_[i].label == 0]
        out: dict[str, object] = {"attacks": len(att), "benign": len(ben)}
        for layer in ["any", *layers]:
            out[layer] = {"recall": _rate(sum(fired[i][layer] for i in att), len(att)),
                          "fp_rate": _rate(sum(fired[i][layer] for i in ben), len(ben))}
        return out

    categories = sorted({r.category for r in rows_})
    sources = sorted({r.source for r in rows_})
    def of_source(name: str) -> Callable[[Row], bool]:
        return lambda r: r.source == name

    def of_category(name: str) -> Callable[[Row], bool]:
        return lambda r: r.category == name

    return {
        "overall": block(lambda r: True),
        "by_source": {s: block(of_source(s)) for s in sources} if len(sources) > 1 else {},
        "by_category": {c: block(of_category(c)) for c in categories},
    }


def run_eval(args: argparse.Namespace) -> int:
    data = _load_rows(args)
    policy_dir = args.policy_dir or POLICY_DIR
    detector = load_detector(policy_dir)
    if args.model is not None:
        if not args.model.is_file():
            raise InputError(f"model file not found: {args.model}")
        detector.model = InjectionModel.load(args.model)
    elif detector.model is None and default_model_path().is_file():
        detector.model = InjectionModel.load(default_model_path())
    if args.pasted_model is not None:
        if not args.pasted_model.is_file():
            raise InputError(f"model file not found: {args.pasted_model}")
        detector.pasted_model = InjectionModel.load(args.pasted_model, place="pasted")
    layers = ["pattern", "indirect", "learned"] if detector.model is not None else ["pattern", "indirect"]
    fired: list[dict[str, bool]] = []
    latency: list[float] = []
    which: list[str] = []
    for r in data:
        t0 = time.perf_counter()
        hit = detector.detect(r.text)
        latency.append((time.perf_counter() - t0) * 1000)
        per = {layer: detector.detect(r.text, layers=frozenset((layer,))) is not None for layer in layers}  # type: ignore[arg-type]
        per["any"] = hit is not None
        fired.append(per)
        which.append(hit.detail if hit else "")
    report = summarise(data, fired, layers)
    report["n"] = len(data)
    report["model"] = (detector.model.info or {}) if detector.model else None
    report["latency_ms"] = {"mean": round(statistics.fmean(latency), 3),
                            "p50": round(statistics.median(latency), 3),
                            "p95": round(sorted(latency)[int(0.95 * (len(latency) - 1))], 3),
                            "max": round(max(latency), 3)}
    print(json.dumps(report, indent=1))
    if args.examples:
        misses = [r for r, f in zip(data, fired, strict=True) if r.label == 1 and not f["any"]]
        fps = [(r, w) for r, f, w in zip(data, fired, which, strict=True) if r.label == 0 and f["any"]]
        for r in misses[: args.examples]:
            print(f"MISS [{r.category}] {r.text[:160]!r}", file=sys.stderr)
        for r, w in fps[: args.examples]:
            print(f"FP   [{r.category}] {w} <- {r.text[:160]!r}", file=sys.stderr)
    return 0
