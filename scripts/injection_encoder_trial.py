"""Trial: the MiniLM sentence encoder (the `encoder` extra) as one more injection layer, beside the shipped detector.

Not a product layer yet: a measurement for issue 14 (docs/guards.md, "Encoder trial"). It embeds the guard corpus's
train and held-out parts (`tactful.agents.guards.corpus.rows`), fits a logistic regression on the train part's
embeddings (the corpus's own sample weights), and reports

- on the tuning fold (a model fitted without it): the shipped detector, the encoder alone and either of them, with
  the fold's support messages and hard negatives that fire, for a grid of C and thresholds;
- with ``--heldout C THRESHOLD`` (once, after choosing on the fold): the held-out part per source and subset,
  shipped detector against "shipped or encoder".

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/injection_encoder_trial.py --data ../shared/datasets
    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/injection_encoder_trial.py --data ../shared/datasets --heldout 16 0.9

Embedding ~35,000 texts takes ~14 CPU-minutes here; the embeddings are cached (``--cache``).
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from sklearn.linear_model import LogisticRegression

    from tactful.agents.guards.corpus import rows, tuning_fold
    from tactful.agents.guards.injection import load_detector
    from tactful.agents.intent.model import load_encoder
    from tactful.resources import POLICY_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/tactful_injection_embeddings.npz"))
    ap.add_argument("--heldout", nargs=2, type=float, metavar=("C", "THRESHOLD"))
    args = ap.parse_args()

    train, held = rows(args.data, "train"), rows(args.data, "heldout")
    texts = [r.text for r in train] + [r.text for r in held]
    if args.cache.is_file() and np.load(args.cache)["e"].shape[0] == len(texts):
        emb = np.load(args.cache)["e"]
    else:
        t0 = time.perf_counter()
        emb = np.asarray(load_encoder("minilm").encode(texts), dtype=np.float32)
        np.savez(args.cache, e=emb)
        print(f"embedded {emb.shape[0]} texts in {time.perf_counter() - t0:.0f} s")
    e_train, e_held = emb[: len(train)], emb[len(train) :]
    y = np.array([r.label for r in train])
    w = np.array([r.weight for r in train])
    fold = np.array([tuning_fold(r) for r in train])
    detector = load_detector(POLICY_DIR)

    def fit(mask: np.ndarray, c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=3000).fit(e_train[mask], y[mask], sample_weight=w[mask])

    if args.heldout is None:
        fold_rows = [r for r, f in zip(train, fold, strict=True) if f]
        shipped = np.array([detector.detect(r.text) is not None for r in fold_rows])
        support = np.array([r.source in ("banking77", "clinc150", "taxonomy") for r in fold_rows])
        hard = np.array([r.source == "neuralchemy" and r.label == 0 for r in fold_rows])
        attack = y[fold] == 1
        for c in (1.0, 4.0, 16.0):
            scores = fit(~fold, c).predict_proba(e_train[fold])[:, 1]
            for th in (0.9, 0.95, 0.97, 0.99):
                enc = scores >= th
                either = shipped | enc
                print(
                    f"C={c:<4} threshold={th:<4} attacks caught: shipped {shipped[attack].mean():.3f} "
                    f"encoder {enc[attack].mean():.3f} either {either[attack].mean():.3f} | fired on support "
                    f"{shipped[support].sum()} -> {either[support].sum()} of {support.sum()}, hard negatives "
                    f"{shipped[hard].sum()} -> {either[hard].sum()} of {hard.sum()}"
                )
        return 0
    c, th = args.heldout
    enc = fit(np.ones(len(train), dtype=bool), c).predict_proba(e_held)[:, 1] >= th
    shipped = np.array([detector.detect(r.text) is not None for r in held])
    either = shipped | enc
    groups: dict[tuple[int, str], list[int]] = collections.defaultdict(list)
    for i, r in enumerate(held):
        groups[(r.label, r.source + (f":{r.subset}" if r.subset else ""))].append(i)
        groups[(r.label, "all")].append(i)
    for (label, name), idx in sorted(groups.items()):
        at = np.array(idx)
        kind = "attacks" if label else "benign "
        print(f"{kind} {name:38s} n={len(at):5d} shipped {shipped[at].sum():5d} either {either[at].sum():5d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
