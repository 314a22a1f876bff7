"""The learned channel of the sentiment reasoner: how likely this turn is a dissatisfied one, from its words and
its place in the dialogue.

A logistic regression over three hashed bags: the message's word n-grams, its character n-grams, and *context
tokens* that describe the turn in the dialogue (did the bot just ask, how long is the reply, which markers fired,
how close it is to an earlier customer message, how the previous turn read). Hashing keeps the saved model free
of any text: the ``.npz`` file (read without pickle) holds the settings, the idf weights and the coefficients,
numbers only. Scoring one turn is three sparse transforms of at most ``limits.max_chars`` characters and one dot
product, so the cost is linear in the message.

Fitted by ``tactful sentiment fit`` on the tuning part of the development data (``agents/sentiment/corpus.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tactful.agents.ngrams import HashedCounts, analyzer, tf_idf_row
from tactful.errors import ConfigError

if TYPE_CHECKING:
    from scipy import sparse

FORMAT = "tactful-dissatisfaction-lr/1"
CHAR_FEATURES = 2**17
WORD_FEATURES = 2**16
CONTEXT_FEATURES = 2**12
SIZE = CHAR_FEATURES + WORD_FEATURES + CONTEXT_FEATURES


@dataclass(frozen=True)
class TurnContext:
    """What the learned channel knows of the turn besides its words."""

    turn: int = 1
    bot_spoke: bool = False
    bot_asked: bool = False
    last_bot_action: str | None = None
    failures: int = 0
    markers: Sequence[str] = ()
    classes: Sequence[str] = ()  # meaning classes (decline, no_preference, excitement, delight)
    similarity: float = 0.0  # to the closest earlier customer message
    compound: float = 0.0
    previous_label: str | None = None


def _bucket(value: int, edges: Sequence[int]) -> str:
    for edge in edges:
        if value <= edge:
            return str(edge)
    return f"{edges[-1]}+"


def context_tokens(text: str, ctx: TurnContext) -> str:
    """The context of a turn as a line of tokens (hashed like words)."""
    words = len(text.split())
    tokens = [
        f"len_{_bucket(words, (1, 2, 3, 5, 8, 12, 20))}",
        f"turn_{_bucket(ctx.turn, (1, 2, 3, 5, 8))}",
        "bot_spoke" if ctx.bot_spoke else "bot_silent",
        f"fail_{min(ctx.failures, 3)}",
        f"sim_{int(min(0.99, max(0.0, ctx.similarity)) * 5)}",
        f"val_{round(max(-1.0, min(1.0, ctx.compound)) * 4)}",
        f"prev_{ctx.previous_label or 'none'}",
    ]
    if ctx.bot_asked:
        tokens.append("bot_asked")
        tokens.append(f"bot_asked_len_{_bucket(words, (1, 3, 8))}")
    if ctx.last_bot_action:
        tokens.append(f"act_{ctx.last_bot_action}")
    tokens += [f"m_{code}" for code in ctx.markers]
    tokens += [f"c_{name}" for name in ctx.classes]
    if text.rstrip().endswith("?"):
        tokens.append("asks")
    return " ".join(tokens)


def _vectorizers() -> tuple[HashedCounts, HashedCounts, HashedCounts]:
    """The three channels as sklearn's ``HashingVectorizer(alternate_sign=False, norm=None, lowercase=True)``
    would hash them (the saved model was fitted with those columns), without importing scikit-learn."""
    return (
        HashedCounts(analyzer("char_wb", (2, 5)), CHAR_FEATURES),
        HashedCounts(analyzer("word", (1, 2), r"(?u)\b\w+\b|[!?]"), WORD_FEATURES),
        HashedCounts(analyzer("word", (1, 1), r"\S+"), CONTEXT_FEATURES),
    )


@dataclass
class DissatisfactionModel:
    """A fitted scorer: :meth:`score` is the probability that a turn is a dissatisfied one."""

    idf: NDArray[np.float32]
    coef: NDArray[np.float32]
    intercept: float
    info: dict[str, object] = field(default_factory=dict)

    @cached_property
    def _vectorizers(self) -> tuple[HashedCounts, HashedCounts, HashedCounts]:
        return _vectorizers()

    def features(self, texts: Sequence[str], contexts: Sequence[str]) -> sparse.csr_matrix:
        from scipy import sparse

        chars, words, context = self._vectorizers
        x = sparse.hstack([chars.transform(texts), words.transform(texts), context.transform(contexts)], format="csr")
        x.data = np.log1p(x.data) * self.idf[x.indices]  # sublinear tf x idf
        row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(row, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
        norms[norms == 0] = 1.0
        x.data /= norms[row].astype(x.data.dtype)
        return x

    def score(self, text: str, ctx: TurnContext) -> float:
        chars, words, context = self._vectorizers
        idx, data = tf_idf_row([(chars, text), (words, text), (context, context_tokens(text, ctx))], self.idf)
        z = float(self.coef[idx] @ data) + self.intercept
        return float(1.0 / (1.0 + np.exp(-z)))

    # ------------------------------------------------------------------ fit / save / load

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        contexts: Sequence[str],
        labels: Sequence[int],
        *,
        c: float = 1.0,
        weights: Iterable[float] | None = None,
        info: dict[str, object] | None = None,
    ) -> DissatisfactionModel:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        probe = cls(idf=np.ones(SIZE, dtype=np.float32), coef=np.zeros(SIZE, dtype=np.float32), intercept=0.0)
        chars, words, context = probe._vectorizers
        counts = sparse.hstack(
            [chars.transform(texts), words.transform(texts), context.transform(contexts)], format="csr"
        )
        df = np.bincount(counts.indices, minlength=SIZE).astype(np.float64)
        n = counts.shape[0]
        idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        idf[df == 0] = 0.0  # features never seen carry no weight (and keep the file small)
        model = cls(idf=idf, coef=np.zeros(SIZE, dtype=np.float32), intercept=0.0, info=dict(info or {}))
        x = model.features(texts, contexts)
        lr = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        lr.fit(x, np.asarray(labels), sample_weight=None if weights is None else np.asarray(list(weights)))
        model.coef = lr.coef_.ravel().astype(np.float32)
        model.intercept = float(lr.intercept_[0])
        return model

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "intercept": self.intercept, "info": self.info}
        nz = np.flatnonzero(self.coef)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                index=nz.astype(np.int32),
                idf=self.idf[nz],
                coef=self.coef[nz],
                size=np.array([SIZE], dtype=np.int64),
            )

    @classmethod
    def load(cls, path: Path) -> DissatisfactionModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                size = int(data["size"][0])
                index = data["index"]
                idf = np.zeros(SIZE, dtype=np.float32)
                coef = np.zeros(SIZE, dtype=np.float32)
                if size == SIZE:
                    idf[index] = data["idf"]
                    coef[index] = data["coef"]
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"cannot read dissatisfaction model: {exc}", path=path) from exc
        if meta.get("format") != FORMAT or size != SIZE:
            raise ConfigError(f"not a dissatisfaction model of format {FORMAT}", path=path)
        return cls(idf=idf, coef=coef, intercept=float(meta["intercept"]), info=meta.get("info") or {})


@cache
def _load_once(path: Path, mtime_ns: int) -> DissatisfactionModel:
    return DissatisfactionModel.load(path)


def load_model(path: Path) -> DissatisfactionModel:
    """The model at ``path``, read once per file version (every reasoner of a process shares it; it is read-only)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read dissatisfaction model: {exc}", path=path) from exc
    return _load_once(path.resolve(), stamp)
