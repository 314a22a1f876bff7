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

from tactful.agents.sentiment.corpus import TUNE_DIALOGUES, load_goemotions, load_sgd, replay
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
