"""Choose the learned channel's weight and floor by 5-fold cross-validation on the SGD tuning part (0-499).

    python scripts/cv_sentiment.py [--data DIR] [--goemotions 20000] [--max-calm 0.057]

1. The tuning part is replayed once through the real support graph (offline engine), recording what the sentiment
   node asks the reasoner on every turn (the bot's side is the graph's own turns, as in ``eval_sentiment.py sgd``).
2. The reasoner, with the learned channel off, reads those requests again: its state is what the channel adds to.
   The channel only moves the label, so this replay gives the graph's labels exactly for any weight and floor.
3. For each fold (dialogue index mod 5) the channel is fitted as ``tactful sentiment fit`` fits it (SGD system
   turns as the bot's side, plus GoEmotions train) on the other four folds and scores the held-out dialogues.
4. Every (weight, floor) of a grid is scored on the pooled held-out turns: F1 of the product flag and the share of
   calm turns flagged. Printed: the grid and the best F1 with flagged calm turns at most ``--max-calm``.

The report part (500-999) is never read. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from tactful.agents.engine import offline
from tactful.agents.engine.seam import SentimentRequest, SentimentResult
from tactful.agents.sentiment.corpus import TUNE_DIALOGUES, load_goemotions, load_sgd, replay
from tactful.agents.sentiment.learned import DissatisfactionModel, context_tokens
from tactful.agents.sentiment.model import LearnedChannel, SentimentReasoner, load_signal_config

HERE = Path(__file__).resolve().parent
FLAGGED = {"negative", "frustrated", "distressed"}
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
FLOORS = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def _eval_module() -> Any:
    spec = importlib.util.spec_from_file_location("eval_sentiment", HERE / "eval_sentiment.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record_graph_requests(dialogues: list[tuple[int, list[Any]]]) -> list[tuple[int, SentimentRequest]]:
    """(dialogue index, request) for every turn the graph's sentiment node scored."""
    seen: list[tuple[int, SentimentRequest]] = []
    original = offline.OfflineEngine.assess_now

    def recording(self: offline.OfflineEngine, request: SentimentRequest) -> SentimentResult:
        seen.append((int(request.turn_key.rsplit(":", 1)[0].rsplit("-", 1)[1]), request))
        return original(self, request)

    offline.OfflineEngine.assess_now = recording  # type: ignore[method-assign]
    try:
        asyncio.run(_eval_module()._replay_graph(dialogues, None))
    finally:
        offline.OfflineEngine.assess_now = original  # type: ignore[method-assign]
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=_eval_module().SHARED)
    parser.add_argument("--signals", type=Path, default=None)
    parser.add_argument("--goemotions", type=int, default=20000)
    parser.add_argument("--goemotions-weight", type=float, default=0.3)
    parser.add_argument("--max-calm", type=float, default=0.057, help="most calm turns flagged (share)")
    parser.add_argument("--veto", type=float, default=None,
                        help="the dialogue model's veto (default: the signals' learned.veto)")
    args = parser.parse_args(argv)

    config = load_signal_config(args.signals)
    off = SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))
    first = config.first_learned_model()  # the first-message model, when the signals name one
    sgd = load_sgd(args.data / "uss" / "SGD.txt")
    tune = [(i, sgd[i]) for i in TUNE_DIALOGUES if i < len(sgd)]

    # The graph's view of each turn, re-read with the channel off.
    rows: list[dict[str, Any]] = []
    previous: dict[int, Any] = {}
    for index, request in record_graph_requests(tune):
        state = off.assess(request.text, turn=request.turn, previous=previous.get(index),
                           prior_user_texts=request.prior_user_texts, events=request.events,
                           last_bot_action=request.last_bot_action, failures=request.failures,
                           prior_bot_texts=request.prior_bot_texts)
        previous[index] = state
        assert off.last_context is not None
        first_p = None
        if first is not None and not off.last_context.bot_spoke:
            first_p = first.score(request.text, off.last_context)
        rows.append({"fold": index % 5, "text": request.text, "ctx": context_tokens(request.text, off.last_context),
                     "classes": off.last_context.classes, "bot_spoke": off.last_context.bot_spoke, "state": state,
                     "first_p": first_p, "events": bool(request.events),
                     "truth": sgd[index][request.turn - 1].dissatisfied})

    # Training rows as `tactful sentiment fit` builds them.
    train = [(i % 5, t.text, t.context, int(t.dissatisfied)) for i, d in tune for t in replay(off, [d])]
    comments = load_goemotions(args.data / "goemotions", "train") if args.goemotions else []
    if args.goemotions < len(comments):
        comments = random.Random(0).sample(comments, args.goemotions)
    extra = []
    for text, negative in comments:
        off.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0)
        assert off.last_context is not None
        extra.append((text, context_tokens(text, off.last_context), int(negative)))

    probability = np.zeros(len(rows))
    for fold in range(5):
        fit = [r for r in train if r[0] != fold]
        model = DissatisfactionModel.fit(
            [r[1] for r in fit] + [e[0] for e in extra], [r[2] for r in fit] + [e[1] for e in extra],
            [r[3] for r in fit] + [e[2] for e in extra],
            weights=[1.0] * len(fit) + [args.goemotions_weight] * len(extra))
        held = [i for i, r in enumerate(rows) if r["fold"] == fold]
        x = model.features([rows[i]["text"] for i in held], [rows[i]["ctx"] for i in held])
        probability[held] = 1.0 / (1.0 + np.exp(-(x @ model.coef + model.intercept)))

    truth = np.array([r["truth"] for r in rows])
    grid = []
    off_for = set(config.learned.off_for)
    veto = config.learned.veto if args.veto is None else args.veto
    for weight in WEIGHTS:
        for floor in FLOORS:
            flags = []
            for r, p in zip(rows, probability, strict=True):
                state = r["state"]
                # The grid is for turns after the bot has spoken; a first message keeps the shipped first calibration
                # (and, when the signals name one, the first-message model and its veto, as the reasoner reads it).
                w, f = (weight, floor) if r["bot_spoke"] else config.learned.calibration(bot_spoke=False)
                q = p if r["first_p"] is None else r["first_p"]
                learned = 0.0 if off_for & set(r["classes"]) else w * max(0.0, (q - f) / (1 - f))
                vetoed = (r["first_p"] is not None and not off_for & set(r["classes"]) and not r["events"]
                          and r["first_p"] < config.learned.first_veto)
                # After the bot has spoken, the dialogue model's veto (no marker, no event), as the reasoner reads it.
                vetoed = vetoed or (r["bot_spoke"] and not off_for & set(r["classes"]) and not r["events"]
                                    and not state["markers"] and p < veto)
                dissatisfaction = 1 - (1 - state["frustration"]) * (1 - learned)
                label = off._label(state["score"], state["frustration"], dissatisfaction=dissatisfaction,
                                   distressed=state["label"] == "distressed", vetoed=vetoed)
                flags.append(label in FLAGGED)
            flag = np.array(flags)
            tp = int((flag & truth).sum())
            precision, recall = tp / max(1, flag.sum()), tp / max(1, truth.sum())
            grid.append({"weight": weight, "floor": floor, "precision": round(precision, 4),
                         "recall": round(recall, 4),
                         "f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
                         "flagged_calm": round(float((flag & ~truth).sum() / max(1, (~truth).sum())), 4)})
    allowed = [g for g in grid if g["flagged_calm"] <= args.max_calm]
    print(json.dumps({"turns": len(rows), "best": max(allowed, key=lambda g: g["f1"]) if allowed else None,
                      "shipped": {"weight": config.learned.weight, "floor": config.learned.floor},
                      "grid": grid}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
