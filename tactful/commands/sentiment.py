"""``tactful sentiment fit``: train the sentiment reasoner's learned dissatisfaction channel.

It replays the tuning part of USS SGD (dialogues 0-499; the report part is never read) through the reasoner with
SGD's system turns as the bot's side, adds GoEmotions ``train`` as single turns (negative group = dissatisfied,
weighed ``--goemotions-weight``), and writes the model (default ``policies/sentiment.model.npz``, the file
``policies/signals.yaml`` names in ``learned.model``). Method and figures: ``docs/sentiment.md``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tactful.agents.sentiment.corpus import (
    GROUPS,
    TUNE_DIALOGUES,
    goemotions_tune_row,
    load_goemotions,
    load_goemotions_rows,
    load_sgd,
    replay,
)
from tactful.agents.sentiment.learned import DissatisfactionModel, context_tokens
from tactful.agents.sentiment.model import LearnedChannel, SentimentReasoner, load_signal_config
from tactful.resources import POLICY_DIR, source_checkout


def default_data_dir() -> Path:
    root = source_checkout()
    return (root.parent / "shared" / "datasets") if root else Path("shared/datasets")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sentiment", help="fit the sentiment reasoner's learned channel")
    commands = parser.add_subparsers(dest="sentiment_command", metavar="SUBCOMMAND", required=True)
    fit = commands.add_parser("fit", help="train the learned dissatisfaction channel from the development data")
    fit.add_argument("--data", type=Path, default=None, help="the data sets folder (default ../shared/datasets)")
    fit.add_argument("--out", type=Path, default=POLICY_DIR / "sentiment.model.npz", help="model file to write")
    fit.add_argument("--signals", type=Path, default=None, help="signals file (default: policies/signals.yaml)")
    fit.add_argument("--goemotions", type=int, default=20000, help="GoEmotions train rows to add (0: none)")
    fit.add_argument("--goemotions-weight", type=float, default=0.3, help="weight of a GoEmotions row (SGD: 1)")
    fit.add_argument("--c", type=float, default=1.0, help="logistic regression C (default 1.0)")
    fit.add_argument("--seed", type=int, default=0, help="seed of the GoEmotions sample")
    fit.set_defaults(func=run_fit)
    first = commands.add_parser("fit-first", help="train the first-message model (negative emotion, one comment)")
    first.add_argument("--data", type=Path, default=None, help="the data sets folder (default ../shared/datasets)")
    first.add_argument("--out", type=Path, default=POLICY_DIR / "sentiment_first.model.npz", help="file to write")
    first.add_argument("--signals", type=Path, default=None, help="signals file (default: policies/signals.yaml)")
    first.add_argument("--group", choices=sorted(GROUPS), default="broad", help="GoEmotions negative group")
    first.add_argument("--requests-weight", type=float, default=0.3,
                       help="weight of a CLINC150 train request as a not-negative row (0: none)")
    first.add_argument("--c", type=float, default=1.0, help="logistic regression C (default 1.0)")
    first.add_argument("--grid", action="store_true",
                       help="print F1 on the held-out fifth of GoEmotions train for a grid of (weight, floor, veto)")
    first.set_defaults(func=run_fit_first)


def run_fit(args: argparse.Namespace) -> int:
    data = args.data or default_data_dir()
    config = load_signal_config(args.signals)
    # The channel is fitted on the reasoner's other signals, so it must not read its own output.
    reasoner = SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))
    dialogues = load_sgd(data / "uss" / "SGD.txt")
    turns = list(replay(reasoner, [dialogues[i] for i in TUNE_DIALOGUES if i < len(dialogues)]))
    texts = [t.text for t in turns]
    contexts = [t.context for t in turns]
    labels = [int(t.dissatisfied) for t in turns]
    weights = [1.0] * len(turns)
    comments = load_goemotions(data / "goemotions", "train") if args.goemotions else []
    if args.goemotions < len(comments):
        comments = random.Random(args.seed).sample(comments, args.goemotions)
    for text, negative in comments:
        reasoner.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None,
                        failures=0)
        assert reasoner.last_context is not None
        texts.append(text)
        contexts.append(context_tokens(text, reasoner.last_context))
        labels.append(int(negative))
        weights.append(args.goemotions_weight)
    info = {"sgd_dialogues": f"{TUNE_DIALOGUES.start}-{TUNE_DIALOGUES.stop - 1}", "sgd_turns": len(turns),
            "goemotions_train_rows": len(comments), "goemotions_weight": args.goemotions_weight, "c": args.c,
            "seed": args.seed}
    model = DissatisfactionModel.fit(texts, contexts, labels, c=args.c, weights=weights, info=info)
    model.save(args.out)
    print(json.dumps({"written": str(args.out), **info}))
    return 0


def _single_context(reasoner: SentimentReasoner, text: str) -> tuple[str, dict[str, object]]:
    state = reasoner.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None,
                            failures=0)
    assert reasoner.last_context is not None
    return context_tokens(text, reasoner.last_context), dict(state)


def run_fit_first(args: argparse.Namespace) -> int:
    """The first-message model: GoEmotions train (all but the fifth :func:`goemotions_tune_row` keeps out), its
    ``--group`` negative emotions against the rest, plus CLINC150 train requests (none of the benign sets the
    product is measured on) as not-negative rows, so that a plain request reads as one. GoEmotions dev is never
    read here."""
    data = args.data or default_data_dir()
    config = load_signal_config(args.signals)
    reasoner = SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))
    positive = GROUPS[args.group]
    rows = load_goemotions_rows(data / "goemotions", "train")
    fit_rows = [(text, labels) for text, labels, row_id in rows if not goemotions_tune_row(row_id)]
    texts = [text for text, _ in fit_rows]
    labels = [int(bool(emotions & positive)) for _, emotions in fit_rows]
    weights = [1.0] * len(texts)
    requests: list[str] = []
    if args.requests_weight > 0:
        clinc = json.loads((data / "clinc150" / "clinc150_dev.json").read_text(encoding="utf-8"))
        requests = [text for text, _ in clinc["train"]]
        texts += requests
        labels += [0] * len(requests)
        weights += [args.requests_weight] * len(requests)
    contexts = [_single_context(reasoner, text)[0] for text in texts]
    info = {"goemotions_train_rows": len(fit_rows), "group": args.group, "clinc150_train_requests": len(requests),
            "requests_weight": args.requests_weight, "c": args.c, "held_out": "crc32(id) % 5 == 0"}
    model = DissatisfactionModel.fit(texts, contexts, labels, c=args.c, weights=weights, info=info)
    model.save(args.out)
    report: dict[str, object] = {"written": str(args.out), **info}
    if args.grid:
        report["grid"] = _first_grid(model, reasoner, [(t, e) for t, e, i in rows if goemotions_tune_row(i)],
                                     positive, config.labels)
    print(json.dumps(report))
    return 0


def _first_grid(model: DissatisfactionModel, reasoner: SentimentReasoner, held: list[tuple[str, frozenset[str]]],
                positive: frozenset[str], labels: object) -> list[dict[str, float]]:
    """F1 of the product flag on the held-out fifth for each (weight, floor, veto), best first."""
    import numpy as np
    from sklearn.metrics import f1_score

    from tactful.agents.sentiment.model import LabelThresholds

    assert isinstance(labels, LabelThresholds)
    truth = [bool(emotions & positive) for _, emotions in held]
    rows = []
    for text, _ in held:
        tokens, state = _single_context(reasoner, text)
        idx = model.features([text], [tokens])
        p = float(1.0 / (1.0 + np.exp(-(float((idx @ model.coef)[0]) + model.intercept))))
        rows.append((p, state))
    out = []
    for weight in (0.5, 0.7, 1.0):
        for floor in (0.3, 0.4, 0.5, 0.6, 0.7):
            for veto in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6):
                flags = []
                for p, state in rows:
                    score, frustration = float(state["score"]), float(state["frustration"])  # type: ignore[arg-type]
                    if state["label"] in ("frustrated", "distressed"):
                        flags.append(True)
                        continue
                    dis = 1 - (1 - frustration) * (1 - weight * max(0.0, (p - floor) / (1 - floor)))
                    if score >= labels.positive_score and dis < labels.positive_max_frustration:
                        flags.append(False)
                        continue
                    flags.append(p >= veto and (dis >= labels.negative or score <= labels.negative_score))
                out.append({"weight": weight, "floor": floor, "veto": veto,
                            "f1": round(float(f1_score(truth, flags, zero_division=0)), 4)})
    return sorted(out, key=lambda r: -r["f1"])[:10]
