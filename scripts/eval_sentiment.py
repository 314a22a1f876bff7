"""Measure the sentiment reasoner on development data it was not written against.

    python scripts/eval_sentiment.py goemotions [--data DIR] [--markers]
    python scripts/eval_sentiment.py sgd [--data FILE] [--part tune|report|all] [--limit N] [--markers]
    python scripts/eval_sentiment.py benign [--data DIR]

``goemotions``: single-turn frustration on GoEmotions dev against its negative group (anger, annoyance,
disappointment, disapproval, disgust; ``--group broad``: GoEmotions' own negative sentiment group, which adds
sadness, fear, nervousness, remorse, grief and embarrassment), next to plain VADER.

``sgd``: the USS Schema-Guided-Dialogue set (1,000 dialogues, every user turn rated 1-5 by three annotators; a
mean <= 2.5 is a dissatisfied turn). Each dialogue's user turns are replayed turn by turn through the real support
graph (offline engine, in-memory checkpointer); the product's flag is the turn's sentiment label (negative,
frustrated or distressed). After a handoff a person returns the conversation to the bot, so every turn is read;
handoffs are counted by reason, and those before any dissatisfied turn of the dialogue are false alarms. Beside
it: plain VADER on the same turn (compound <= -0.05), and the reasoner replayed with SGD's own system turns as
the bot's side (what the dialogue channel sees when the bot's words are the ones the user reacted to).
Dialogues 0-499 are the tuning part, 500-999 the report part.

``benign``: single customer messages of BANKING77 (train) and CLINC150 (val, in scope and out of scope), none of
them written against: how many the product flags, and how many reach the frustration a handoff rule acts on.

Prints one JSON object. Run from the repo root (``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from tactful.agents.sentiment.corpus import (
    GROUPS,
    REPORT_DIALOGUES,
    TUNE_DIALOGUES,
    Exchange,
    load_goemotions,
    load_sgd,
    replay,
)
from tactful.agents.sentiment.model import MARKER_CODES, SentimentReasoner, load_signal_config
from tactful.agents.state import SentimentState

REPO = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/datasets") if not (REPO.parent / "shared").is_dir() else REPO.parent / "shared" / "datasets"

FLAGGED = {"negative", "frustrated", "distressed"}
# Handoff reasons that come from the sentiment reasoner or the failure counter (the rest are intent and policy).
SENTIMENT_REASONS = {
    "repeated_failure",
    "restated_issue",
    "frustration",
    "frustration_rising",
    "distress",
    "trend_value",
    "high_value_friction",
}


def at_threshold(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(truth, predicted, average="binary", zero_division=0)
    return {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}


def false_positive_rate(truth: Sequence[bool], predicted: Sequence[bool]) -> float:
    calm = [p for t, p in zip(truth, predicted, strict=True) if not t]
    return round(sum(calm) / max(1, len(calm)), 4)


def best_f1(truth: list[bool], scores: list[float]) -> dict[str, float]:
    best = {"threshold": 0.0, "f1": -1.0}
    for threshold in sorted(set(round(s, 2) for s in scores)):
        stats = at_threshold(truth, [s >= threshold for s in scores])
        if stats["f1"] > best["f1"]:
            best = {"threshold": threshold, **stats}
    return best


def _single(reasoner: SentimentReasoner, text: str) -> SentimentState:
    return reasoner.assess(
        text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0
    )


# --------------------------------------------------------------------------- GoEmotions


def goemotions(args: argparse.Namespace) -> dict[str, object]:
    config = load_signal_config(args.signals)
    reasoner = SentimentReasoner(config)
    rows = load_goemotions(args.data or SHARED / "goemotions", "dev", args.group)
    truth = [label for _, label in rows]
    states = [_single(reasoner, text) for text, _ in rows]
    frustration = [s["frustration"] for s in states]
    vader_analyzer = SentimentIntensityAnalyzer()
    compound = [float(vader_analyzer.polarity_scores(text)["compound"]) for text, _ in rows]
    flag = [s["label"] in FLAGGED for s in states]
    vader = [c <= -0.05 for c in compound]
    report: dict[str, object] = {
        "dataset": "goemotions/dev.tsv",
        "n": len(rows),
        "positives": sum(truth),
        "positive_labels": sorted(GROUPS[args.group]),
        "product_flag": {**at_threshold(truth, flag), "false_positive_rate": false_positive_rate(truth, flag)},
        "reasoner_frustration": {
            "roc_auc": round(float(roc_auc_score(truth, frustration)), 4),
            "best_f1": best_f1(truth, frustration),
        },
        "vader_compound_le_-0.05": {
            **at_threshold(truth, vader),
            "false_positive_rate": false_positive_rate(truth, vader),
            "roc_auc": round(float(roc_auc_score(truth, [-c for c in compound])), 4),
        },
    }
    if args.markers:
        report["markers"] = _marker_rates(truth, [s["markers"] for s in states])
    return report


def _marker_rates(truth: Sequence[bool], markers: Sequence[Sequence[str]]) -> dict[str, dict[str, float]]:
    positives = max(1, sum(truth))
    negatives = max(1, len(truth) - sum(truth))
    fired: dict[str, list[int]] = {}
    for label, codes in zip(truth, markers, strict=True):
        for code in codes:
            fired.setdefault(code, [0, 0])[int(label)] += 1
    return {
        code: {"rate_in_positive": round(pos / positives, 4), "rate_in_rest": round(neg / negatives, 4)}
        for code, (neg, pos) in sorted(
            fired.items(), key=lambda kv: MARKER_CODES.index(kv[0]) if kv[0] in MARKER_CODES else 99
        )
    }


# --------------------------------------------------------------------------- SGD


async def _replay_graph(dialogues: Sequence[tuple[int, list[Exchange]]], dump: Path | None) -> dict[str, object]:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from tactful.graphs.context import build_context
    from tactful.graphs.runner import SupportRunner, thread_id
    from tactful.graphs.support import compile_support_graph
    from tactful.settings import Settings

    ctx = build_context(Settings(engine="offline"))
    graph = compile_support_graph(InMemorySaver())
    runner = SupportRunner(graph, lambda _tenant: ctx)
    truth: list[bool] = []
    flag: list[bool] = []
    markers: list[list[str]] = []
    handoffs: list[tuple[str, bool]] = []  # (reason, any dissatisfied turn so far in the dialogue)
    rows: list[str] = []
    for index, exchanges in dialogues:
        conversation = f"sgd-{index}"
        seen_dissatisfied = False
        for ex in exchanges:
            result = await runner.turn(conversation, ex.text)
            seen_dissatisfied = seen_dissatisfied or ex.dissatisfied
            sentiment = result.sentiment
            truth.append(ex.dissatisfied)
            flag.append(bool(sentiment and sentiment["label"] in FLAGGED))
            markers.append(list(sentiment["markers"]) if sentiment else [])
            if dump is not None:
                rows.append(
                    json.dumps(
                        {
                            "dialogue": index,
                            "text": ex.text,
                            "dissatisfied": ex.dissatisfied,
                            "flag": flag[-1],
                            "label": sentiment["label"] if sentiment else None,
                            "markers": markers[-1],
                            "action": result.action,
                        }
                    )
                )
            if result.action == "escalate":
                handoffs.append((result.decision["reason"] if result.decision else "?", seen_dissatisfied))
                # A person hands the conversation back, so that every later turn is read by the bot too.
                config = {"configurable": {"thread_id": thread_id("default", conversation)}}
                await graph.ainvoke(Command(resume={"action": "return"}), config, context=ctx)  # type: ignore[arg-type]
    if dump is not None:
        dump.write_text("\n".join(rows) + "\n", encoding="utf-8")
    reasons = Counter(reason for reason, _ in handoffs)
    calm = Counter(reason for reason, dissatisfied in handoffs if not dissatisfied)
    by_sentiment = [(r, d) for r, d in handoffs if r in SENTIMENT_REASONS]
    return {
        "product_flag": {
            **at_threshold(truth, flag),
            "false_positive_rate_on_calm_turns": false_positive_rate(truth, flag),
        },
        "turns_scored": len(truth),
        "handoffs": len(handoffs),
        "handoffs_by_reason": dict(reasons.most_common()),
        "handoffs_before_any_dissatisfied_turn_by_reason": dict(calm.most_common()),
        "sentiment_or_failure_handoffs": len(by_sentiment),
        "sentiment_or_failure_handoffs_before_any_dissatisfied_turn": sum(1 for _, d in by_sentiment if not d),
        "_truth": truth,
        "_markers": markers,
    }


def _replay_reasoner(reasoner: SentimentReasoner, dialogues: Sequence[tuple[int, list[Exchange]]]) -> dict[str, object]:
    """The reasoner alone, with SGD's system turns as the bot's side of the dialogue (``corpus.replay``, the loop
    ``tactful sentiment fit`` trains on)."""
    turns = list(replay(reasoner, [exchanges for _, exchanges in dialogues]))
    truth = [t.dissatisfied for t in turns]
    flag = [t.state["label"] in FLAGGED for t in turns]
    return {**at_threshold(truth, flag), "false_positive_rate_on_calm_turns": false_positive_rate(truth, flag)}


def sgd(args: argparse.Namespace) -> dict[str, object]:
    reasoner = SentimentReasoner(load_signal_config(args.signals))
    dialogues = load_sgd(args.data or SHARED / "uss" / "SGD.txt")
    part = {"tune": TUNE_DIALOGUES, "report": REPORT_DIALOGUES, "all": range(len(dialogues))}[args.part]
    chosen = [(i, dialogues[i]) for i in part if i < len(dialogues)][: args.limit or None]
    exchanges = [ex for _, d in chosen for ex in d]
    truth = [ex.dissatisfied for ex in exchanges]
    vader_analyzer = SentimentIntensityAnalyzer()
    vader = [float(vader_analyzer.polarity_scores(ex.text)["compound"]) <= -0.05 for ex in exchanges]
    graph = asyncio.run(_replay_graph(chosen, args.dump))
    graph_truth = graph.pop("_truth")
    graph_markers = graph.pop("_markers")
    report: dict[str, object] = {
        "dataset": "uss/SGD.txt",
        "part": f"{args.part} (dialogues {part.start}-{part.stop - 1})",
        "dialogues": len(chosen),
        "user_turns": len(exchanges),
        "dissatisfied_turns": sum(truth),
        "graph": graph,
        "vader_compound_le_-0.05": {
            **at_threshold(truth, vader),
            "false_positive_rate_on_calm_turns": false_positive_rate(truth, vader),
        },
        "reasoner_with_sgd_system_turns": _replay_reasoner(reasoner, chosen),
    }
    if args.markers:
        report["markers"] = _marker_rates(graph_truth, graph_markers)  # type: ignore[arg-type]
    return report


def benign(args: argparse.Namespace) -> dict[str, object]:
    import csv

    reasoner = SentimentReasoner(load_signal_config(args.signals))
    data = args.data or SHARED
    with (data / "banking77" / "train.csv").open(encoding="utf-8") as fh:
        banking = [row["text"] for row in csv.DictReader(fh)]
    clinc = json.loads((data / "clinc150" / "clinc150_dev.json").read_text(encoding="utf-8"))
    sets = {"banking77/train.csv": banking,
            "clinc150/val": [text for text, _ in clinc["val"]],
            "clinc150/oos_val": [text for text, _ in clinc["oos_val"]]}
    report: dict[str, object] = {}
    for name, texts in sets.items():
        states = [_single(reasoner, text) for text in texts]
        report[name] = {
            "n": len(texts),
            "flagged_rate": round(sum(s["label"] in FLAGGED for s in states) / len(texts), 4),
            "frustrated_or_distressed_rate": round(
                sum(s["label"] in {"frustrated", "distressed"} for s in states) / len(texts), 4),
            "frustration_ge_0.75_rate": round(sum(s["frustration"] >= 0.75 for s in states) / len(texts), 4),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ge = sub.add_parser("goemotions", help="single-turn F1 on GoEmotions dev (negative group)")
    ge.add_argument("--data", type=Path, default=None, help="folder with dev.tsv and labels.json")
    ge.add_argument("--group", choices=sorted(GROUPS), default="narrow",
                    help="negative group: narrow (anger, annoyance, disappointment, disapproval, disgust) or broad "
                         "(GoEmotions' own: also sadness, fear, nervousness, remorse, grief, embarrassment)")
    sg = sub.add_parser("sgd", help="dissatisfied-turn F1 on USS SGD replayed through the support graph")
    sg.add_argument("--data", type=Path, default=None, help="SGD.txt")
    sg.add_argument("--part", choices=["tune", "report", "all"], default="report")
    sg.add_argument("--limit", type=int, default=0, help="only the first N dialogues of the part")
    sg.add_argument("--dump", type=Path, default=None, help="write every scored turn as JSON lines here")
    bn = sub.add_parser("benign", help="flag rates on benign customer messages (BANKING77, CLINC150)")
    bn.add_argument("--data", type=Path, default=None, help="the data sets folder")
    for p in (ge, sg, bn):
        p.add_argument("--signals", type=Path, default=None, help="signals file (default: policies/signals.yaml)")
        p.add_argument("--markers", action="store_true", help="add per-marker firing rates by class")
    args = parser.parse_args(argv)
    report = {"goemotions": goemotions, "sgd": sgd, "benign": benign}[args.command](args)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
