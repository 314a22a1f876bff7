"""Sixth round of issue 15 (tried, not shipped): extra context tokens for the dialogue model, on held-out folds of
the SGD tuning part (0-499) replayed through the graph, read as scripts/cv_sentiment.py reads them (shipped 0.6/0.4,
veto 0.4). The report part is never read.

    PYTHONPATH=. python scripts/cv_sentiment_context.py 0 a b c d e x g t [b+]   # a trailing + prints a small grid

Variants (letters combine): a reply form (opening negation, "instead", a hedge, a new number); b those paired with
the bot's question, a new number, a short reply; c earlier rejections; d length against the previous reply; e
negation by turn; x the bot-act tokens left out; g fitted on the graph's own turns; t the bot's previous text read
as acts (question, failure notice, confirmation request, offer) paired with the reply's form. The graph replay is
cached in /tmp/sent6_cv_context.pkl. docs/sentiment.md, "Sixth round".
"""

import json
import pickle
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cv_sentiment as cv

from tactful.agents.sentiment.corpus import TUNE_DIALOGUES, load_goemotions, load_sgd, replay
from tactful.agents.sentiment.learned import DissatisfactionModel, context_tokens
from tactful.agents.sentiment.model import LearnedChannel, SentimentReasoner, load_signal_config

FLAGGED = {"negative", "frustrated", "distressed"}
data = cv._eval_module().SHARED
config = load_signal_config(None)
off = SentimentReasoner(config.model_copy(update={"learned": LearnedChannel()}))
first = config.first_learned_model()
sgd = load_sgd(data / "uss" / "SGD.txt")
tune = [(i, sgd[i]) for i in TUNE_DIALOGUES if i < len(sgd)]
cache = Path("/tmp/sent6_cv_context.pkl")
if cache.exists():
    rows, train, extra = pickle.loads(cache.read_bytes())
else:
    rows = []
    previous = {}
    for index, request in cv.record_graph_requests(tune):
        state = off.assess(
            request.text,
            turn=request.turn,
            previous=previous.get(index),
            prior_user_texts=request.prior_user_texts,
            events=request.events,
            last_bot_action=request.last_bot_action,
            failures=request.failures,
            prior_bot_texts=request.prior_bot_texts,
        )
        previous[index] = state
        c = off.last_context
        first_p = first.score(request.text, c) if (first is not None and not c.bot_spoke) else None
        rows.append(
            {
                "fold": index % 5,
                "text": request.text,
                "ctx": context_tokens(request.text, c),
                "c": c,
                "prior": list(request.prior_user_texts),
                "classes": c.classes,
                "bot_spoke": c.bot_spoke,
                "state": state,
                "first_p": first_p,
                "events": bool(request.events),
                "truth": sgd[index][request.turn - 1].dissatisfied,
                "dlg": index,
                "turn": request.turn,
                "bot": (list(request.prior_bot_texts) or [None])[-1],
                "action": request.last_bot_action,
            }
        )
    train = []
    for i, d in tune:
        for k, t in enumerate(replay(off, [d])):
            train.append(
                {
                    "fold": i % 5,
                    "text": t.text,
                    "ctx": t.context,
                    "prior": [e.text for e in d[:k]][-10:],
                    "y": int(t.dissatisfied),
                    "act": d[k].system_act,
                    "sys": d[k].system_before,
                }
            )
    comments = load_goemotions(data / "goemotions", "train")
    comments = random.Random(0).sample(comments, 20000)
    extra = []
    for text, negative in comments:
        off.assess(text, turn=1, previous=None, prior_user_texts=[], events=[], last_bot_action=None, failures=0)
        extra.append((text, context_tokens(text, off.last_context), int(negative)))
    cache.write_bytes(pickle.dumps((rows, train, extra)))
print("rows", len(rows), "train", len(train), file=sys.stderr)


NEG = re.compile(r"^\W*(no|nope|nah|not|never|negative)\b", re.I)
INSTEAD = re.compile(r"\b(instead|rather|actually|change|make it|switch)\b", re.I)
HEDGE = re.compile(
    r"\b(how about|what about|maybe|perhaps|i guess|any other|anything else|is there|are there|other options?)\b", re.I
)
NUM = re.compile(r"\b\d+(?::\d+)?\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", re.I)
CAP = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+")


def nums(t):
    return {m.group(0).lower() for m in NUM.finditer(t)}


def form(text, prior, ctx, variant):
    toks = []
    asked = " bot_asked " in f" {ctx} "
    neg = bool(NEG.search(text))
    ins = bool(INSTEAD.search(text))
    hed = bool(HEDGE.search(text))
    n, pn = nums(text), set().union(*(nums(p) for p in prior)) if prior else set()
    new_num = bool(n) and bool(pn) and not (n & pn)
    prev_neg = bool(prior) and bool(NEG.search(prior[-1]))
    negs = sum(bool(NEG.search(p)) for p in prior)
    w = len(text.split())
    pw = len(prior[-1].split()) if prior else 0
    if "a" in variant:  # reply form tokens
        toks += [t for t, on in (("f_neg", neg), ("f_instead", ins), ("f_hedge", hed), ("f_newnum", new_num)) if on]
    if "b" in variant:  # interactions with the bot's act and the form
        if neg:
            toks.append("f_neg_asked" if asked else "f_neg_notasked")
        if neg and new_num:
            toks.append("f_neg_newnum")
        if neg and w <= 3:
            toks.append("f_neg_short")
        if ins and new_num:
            toks.append("f_ins_newnum")
    if "c" in variant:  # history of rejections
        if prev_neg:
            toks.append("f_prevneg")
        toks.append(f"f_negs_{min(negs, 3)}")
        if neg and negs:
            toks.append("f_neg_again")
    if "d" in variant:  # relative length  # noqa: SIM102
        if prior:
            toks.append("f_shorter" if w * 2 < pw else ("f_longer" if w > 2 * pw else "f_same"))
    if "e" in variant:  # turn x neg  # noqa: SIM102
        if neg:
            toks.append(f"f_neg_turn{min(len(prior) + 1, 8) // 3}")
    return " ".join(toks)


BQ = re.compile(r"\?\s*$")
BFAIL = re.compile(
    r"\b(sorry|can't|cannot|couldn't|unable|failed|outside|no results|not available|unavailable)\b", re.I
)
BCONF = re.compile(r"\b(please confirm|is that (right|correct)|shall i|do you want|would you like|confirm)\b", re.I)
BOFFER = re.compile(r"\b(i found|there (is|are)|how about|available|i have|option)\b", re.I)


def bot_form(bot, text):
    if not bot:
        return ""
    acts = [n for n, p in (("q", BQ), ("fail", BFAIL), ("conf", BCONF), ("offer", BOFFER)) if p.search(bot)]
    neg = bool(NEG.search(text))
    w = len(text.split())
    toks = [f"bt_{a}" for a in acts]
    for a in acts:
        if neg:
            toks.append(f"bt_{a}_neg")
        if w <= 3:
            toks.append(f"bt_{a}_short")
        if INSTEAD.search(text) or HEDGE.search(text):
            toks.append(f"bt_{a}_alt")
    return " ".join(toks)


def strip(ctx, variant):
    if "x" not in variant:
        return ctx
    return " ".join(t for t in ctx.split() if not (t.startswith("act_") or t.startswith("bot_asked")))


def run(variant, grid=False):
    train_ = train
    if "g" in variant:
        train_ = [
            {
                "fold": r["fold"],
                "text": r["text"],
                "ctx": r["ctx"],
                "prior": r["prior"],
                "y": int(r["truth"]),
                "bot": r["bot"],
            }
            for r in rows
        ]
    tr_text = [r["text"] for r in train_]
    tr_ctx = [
        strip(r["ctx"], variant)
        + " "
        + form(r["text"], r["prior"], r["ctx"], variant)
        + (" " + bot_form(r.get("sys") if "g" not in variant else r.get("bot"), r["text"]) if "t" in variant else "")
        for r in train_
    ]
    ev_ctx = [
        strip(r["ctx"], variant)
        + " "
        + form(r["text"], r["prior"], r["ctx"], variant)
        + (" " + bot_form(r["bot"], r["text"]) if "t" in variant else "")
        for r in rows
    ]
    prob = np.zeros(len(rows))
    for fold in range(5):
        idx = [i for i, r in enumerate(train_) if r["fold"] != fold]
        model = DissatisfactionModel.fit(
            [tr_text[i] for i in idx] + [e[0] for e in extra],
            [tr_ctx[i] for i in idx] + [e[1] for e in extra],
            [train_[i]["y"] for i in idx] + [e[2] for e in extra],
            weights=[1.0] * len(idx) + [0.3] * len(extra),
        )
        held = [i for i, r in enumerate(rows) if r["fold"] == fold]
        x = model.features([rows[i]["text"] for i in held], [ev_ctx[i] for i in held])
        prob[held] = 1.0 / (1.0 + np.exp(-(x @ model.coef + model.intercept)))
    truth = np.array([r["truth"] for r in rows])
    out = []
    pts = [(0.6, 0.4)] if not grid else [(w, f) for w in (0.5, 0.6, 0.7, 0.8) for f in (0.35, 0.4, 0.45, 0.5)]
    off_for = set(config.learned.off_for)
    veto = config.learned.veto
    for weight, floor in pts:
        flags = []
        for r, p in zip(rows, prob, strict=True):
            s = r["state"]
            w_, f_ = (weight, floor) if r["bot_spoke"] else config.learned.calibration(bot_spoke=False)
            q = p if r["first_p"] is None else r["first_p"]
            learned = 0.0 if off_for & set(r["classes"]) else w_ * max(0.0, (q - f_) / (1 - f_))
            vetoed = (
                r["first_p"] is not None
                and not off_for & set(r["classes"])
                and not r["events"]
                and r["first_p"] < config.learned.first_veto
            )
            vetoed = vetoed or (
                r["bot_spoke"] and not off_for & set(r["classes"]) and not r["events"] and not s["markers"] and p < veto
            )
            d = 1 - (1 - s["frustration"]) * (1 - learned)
            lab = off._label(
                s["score"], s["frustration"], dissatisfaction=d, distressed=s["label"] == "distressed", vetoed=vetoed
            )
            flags.append(lab in FLAGGED)
        flag = np.array(flags)
        tp = int((flag & truth).sum())
        P, R = tp / max(1, flag.sum()), tp / truth.sum()
        out.append(
            {
                "v": variant,
                "w": weight,
                "f": floor,
                "P": round(P, 4),
                "R": round(R, 4),
                "F1": round(2 * P * R / (P + R), 4),
                "calm": round(float((flag & ~truth).sum() / (~truth).sum()), 4),
            }
        )
    return out, prob


if __name__ == "__main__":
    for v in sys.argv[1:]:
        g = v.endswith("+")
        v = v.rstrip("+")
        res, _ = run(v if v != "0" else "", grid=g)
        for r in res:
            print(json.dumps(r), flush=True)
