"""Scratch trials for the intent classifier's features and heads (issue 13 item 7), on BANKING77 folds only.

    python scripts/intent_trials.py tfidf [--folds N] [--data FILE]
    python scripts/intent_trials.py encoder [--folds N] [--data FILE]      # needs pip install -e ".[encoder]"

Classifier-only top-label accuracy (no out-of-scope rule) on the product's own 5-fold split
(``stratified_folds(labels, 5, 0)``); ``--folds N`` scores the first N of the five folds. ``tfidf``: word + char
TF-IDF variants and linear heads. ``encoder``: TF-IDF + MiniLM x 1.5 with a LinearSVC (the product's encoder
channel), and that head fused with a k-nearest-neighbour vote over the embeddings, an RBF SVM on the embeddings,
and TF-IDF + RBF kernels. Prints one line per trial. Run from the repo root (``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import csv
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import SVC, LinearSVC

from tactful.agents.intent.model import load_encoder, stratified_folds

S = 0.7071  # each of two channels weighted 1/sqrt(2), as in the product
TFIDF_TRIALS: dict[str, dict[str, object]] = {
    "word12+char_wb25 (product)": {"channels": [("word", (1, 2), S), ("char_wb", (2, 5), S)]},
    "crammer-singer": {"channels": [("word", (1, 2), S), ("char_wb", (2, 5), S)], "multi_class": "crammer_singer"},
    "class_weight=balanced": {"channels": [("word", (1, 2), S), ("char_wb", (2, 5), S)], "balanced": True},
    "word13": {"channels": [("word", (1, 3), S), ("char_wb", (2, 5), S)]},
    "char16 (across words)": {"channels": [("word", (1, 2), S), ("char", (1, 6), S)]},
    "char_wb26": {"channels": [("word", (1, 2), S), ("char_wb", (2, 6), S)]},
    "char weight 0.8 / word 0.6": {"channels": [("word", (1, 2), 0.6), ("char_wb", (2, 5), 0.8)]},
    "three channels (+char36)": {
        "channels": [("word", (1, 2), 0.577), ("char_wb", (2, 5), 0.577), ("char", (3, 6), 0.577)]
    },
    "C=0.5": {"channels": [("word", (1, 2), S), ("char_wb", (2, 5), S)], "c": 0.5},
    "C=2": {"channels": [("word", (1, 2), S), ("char_wb", (2, 5), S)], "c": 2.0},
}


def _tfidf(texts: list[str], tr: np.ndarray, te: np.ndarray, channels: list) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    parts = []
    for kind, ngrams, weight in channels:
        vec = TfidfVectorizer(
            analyzer=kind,
            ngram_range=ngrams,
            sublinear_tf=True,
            min_df=2,
            token_pattern=r"(?u)\b\w+\b" if kind == "word" else None,
        )
        a = vec.fit_transform([texts[i] for i in tr]) * weight
        parts.append((a, vec.transform([texts[i] for i in te]) * weight))
    return sp.hstack([p[0] for p in parts], format="csr"), sp.hstack([p[1] for p in parts], format="csr")


def _knn_vote(sim: np.ndarray, y_train: np.ndarray, n_classes: int, k: int = 10) -> np.ndarray:
    idx = np.argpartition(-sim, k, axis=1)[:, :k]
    rows = np.arange(sim.shape[0])
    vote = np.zeros((sim.shape[0], n_classes))
    for j in range(k):
        np.add.at(vote, (rows, y_train[idx[:, j]]), np.exp(sim[rows, idx[:, j]] * 10))
    return vote / vote.sum(1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trials", choices=["tfidf", "encoder"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--data", default="../shared/datasets/banking77/train.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with open(args.data, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [r["text"] for r in rows]
    labels = [r["category"] for r in rows]
    names = sorted(set(labels))
    y = np.array([names.index(label) for label in labels])
    folds = stratified_folds(labels, 5, 0)
    scores: dict[str, list[float]] = {}
    emb = load_encoder("minilm").encode(texts).astype(np.float64) if args.trials == "encoder" else None
    for f in range(args.folds):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        if emb is None:
            for name, cfg in TFIDF_TRIALS.items():
                xa, xb = _tfidf(texts, tr, te, cfg["channels"])  # type: ignore[arg-type]
                svm = LinearSVC(
                    C=float(cfg.get("c", 1.0)),  # type: ignore[arg-type]
                    max_iter=2000,
                    multi_class=str(cfg.get("multi_class", "ovr")),
                    class_weight="balanced" if cfg.get("balanced") else None,
                )
                svm.fit(xa, y[tr])
                scores.setdefault(name, []).append(float((svm.predict(xb) == y[te]).mean()))
            continue
        xa, xb = _tfidf(texts, tr, te, TFIDF_TRIALS["word12+char_wb25 (product)"]["channels"])  # type: ignore[arg-type]
        ea, eb = emb[tr], emb[te]
        base = LinearSVC(C=1, max_iter=2000).fit(sp.hstack([xa, sp.csr_matrix(ea * 1.5)], format="csr"), y[tr])
        d = base.decision_function(sp.hstack([xb, sp.csr_matrix(eb * 1.5)], format="csr"))
        vote = _knn_vote(eb @ ea.T, y[tr], len(names))
        trials = {"TF-IDF + MiniLM x1.5, LinearSVC (product)": d}
        for w in (0.5, 1.0, 2.0):
            trials[f"  + kNN vote (k=10) x{w}"] = softmax(d * 6.5, axis=1) + w * vote
        trials["RBF SVM on MiniLM alone (C=10)"] = SVC(C=10, gamma=1.0).fit(ea, y[tr]).decision_function(eb)
        for w in (1.0, 2.25):
            gram = (xa @ xa.T).toarray() + w * np.exp(-(2 - 2 * ea @ ea.T))
            cross = (xb @ xa.T).toarray() + w * np.exp(-(2 - 2 * eb @ ea.T))
            kernel = SVC(C=1, kernel="precomputed").fit(gram, y[tr])
            trials[f"SVM, TF-IDF linear + {w} x RBF(MiniLM) kernel"] = kernel.decision_function(cross)
        for name, score in trials.items():
            scores.setdefault(name, []).append(float((score.argmax(1) == y[te]).mean()))
    for name, accs in scores.items():
        print(f"{name}: {np.mean(accs):.4f} (folds {', '.join(f'{a:.4f}' for a in accs)})")


if __name__ == "__main__":
    main()
