"""The learned layer of the injection detector: TF-IDF over hashed character and word n-grams, logistic regression.

Hashing keeps the saved model free of any text: the file (``.npz``, read without pickle) holds the vectoriser's
settings, the idf weights and the coefficients — numbers only. Scoring one message is two sparse transforms and a
dot product (well under a millisecond for a support message).
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tactful.agents.ngrams import HashedCounts, analyzer, tf_idf_row
from tactful.errors import ConfigError

if TYPE_CHECKING:
    from scipy import sparse

FORMAT = "tactful-injection-lr/1"
FORMAT_STRUCTURE = "tactful-injection-lr/2"  # /1 plus structure tokens (their regexes travel in the file)
CHAR_FEATURES = 2**18
WORD_FEATURES = 2**17


def _vectorizers(char_ngrams: tuple[int, int], word_ngrams: tuple[int, int]) -> tuple[HashedCounts, ...]:
    return (
        HashedCounts(analyzer("char_wb", char_ngrams), CHAR_FEATURES),
        HashedCounts(analyzer("word", word_ngrams, r"(?u)\b\w+\b"), WORD_FEATURES),
    )


@dataclass
class InjectionModel:
    """A fitted scorer: :meth:`score` is the probability that each text is an attack."""

    idf: NDArray[np.float32]
    coef: NDArray[np.float32]
    intercept: float
    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    info: dict[str, object] | None = None
    structure: tuple[tuple[str, str], ...] = ()
    """Classes of message structure (name, regex) — second-person orders to the assistant, role framing, output
    dictation… Each class found in a text adds one token to its word channel (``zzs<name>``). Empty: no tokens (the
    format /1 model). (A token for the text's length was tried and dropped: length tells the corpus's sources
    apart — short support messages, mid-length game attacks, long e-mails — not attacks from benign text.)"""

    @cached_property
    def _structure(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((name, re.compile(rx, re.IGNORECASE)) for name, rx in self.structure)

    def _words_text(self, text: str) -> str:
        """What the word channel reads: the text, plus its structure tokens when the model has structure classes."""
        if not self.structure:
            return text
        tokens = [f"zzs{name}" for name, rx in self._structure if rx.search(text)]
        return f"{text}\n{' '.join(tokens)}" if tokens else text

    def _features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from scipy import sparse

        chars, words = self._vectorizers
        x = sparse.hstack([chars.transform(texts), words.transform([self._words_text(t) for t in texts])],
                          format="csr")
        x.data = np.log1p(x.data) * self.idf[x.indices]  # sublinear tf × idf
        row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(row, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
        norms[norms == 0] = 1.0
        x.data /= norms[row].astype(x.data.dtype)
        return x

    @cached_property
    def _vectorizers(self) -> tuple[HashedCounts, ...]:
        return _vectorizers(self.char_ngrams, self.word_ngrams)

    def score(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        if len(texts) == 1:  # one message (the input guard): no sparse matrix, the same numbers
            chars, words = self._vectorizers
            idx, data = tf_idf_row([(chars, texts[0]), (words, self._words_text(texts[0]))], self.idf)
            z1 = float(self.coef[idx] @ data) + self.intercept
            return [float(p) for p in 1.0 / (1.0 + np.exp(-np.asarray([z1])))]
        x = self._features(texts)
        z = (
            np.asarray(
                [
                    float(self.coef[x.indices[a:b]] @ x.data[a:b])
                    for a, b in zip(x.indptr[:-1], x.indptr[1:], strict=True)
                ]
            )
            + self.intercept
        )
        return [float(p) for p in 1.0 / (1.0 + np.exp(-np.asarray(z).ravel()))]

    # ------------------------------------------------------------------ fit / save / load

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        *,
        c: float = 4.0,
        weights: Sequence[float] | None = None,
        info: dict[str, object] | None = None,
        structure: Sequence[tuple[str, str]] = (),
    ) -> InjectionModel:
        from scipy import sparse

        empty = np.zeros(CHAR_FEATURES + WORD_FEATURES, dtype=np.float32)
        probe = cls(idf=empty + 1, coef=empty, intercept=0.0, structure=tuple(structure))
        chars, words = _vectorizers(probe.char_ngrams, probe.word_ngrams)
        counts = sparse.hstack([chars.transform(texts), words.transform([probe._words_text(t) for t in texts])],
                               format="csr")
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        n = counts.shape[0]
        idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        idf[df == 0] = 0.0  # features never seen carry no weight (and keep the file small)
        model = cls(idf=idf, coef=empty, intercept=0.0, info=info, structure=tuple(structure))
        x = model._features(texts)
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        lr.fit(x, np.asarray(labels), sample_weight=None if weights is None else np.asarray(weights))
        model.coef = lr.coef_.ravel().astype(np.float32)
        model.intercept = float(lr.intercept_[0])
        return model

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta: dict[str, object] = {
            "format": FORMAT_STRUCTURE if self.structure else FORMAT,
            "char_ngrams": list(self.char_ngrams),
            "word_ngrams": list(self.word_ngrams),
            "intercept": self.intercept,
            "info": self.info or {},
        }
        if self.structure:
            meta["structure"] = [list(pair) for pair in self.structure]
        nz = np.flatnonzero(self.coef)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                index=nz.astype(np.int32),
                idf=self.idf[nz],
                coef=self.coef[nz],
                size=np.array([self.coef.size], dtype=np.int64),
            )

    @property
    def place(self) -> str:
        """Where the model was fitted to score: ``own`` words, ``pasted`` content, or ``both`` (one model)."""
        value = (self.info or {}).get("place", "both")
        return value if isinstance(value, str) else "both"

    @classmethod
    def load(cls, path: Path, *, place: str | None = None) -> InjectionModel:
        """The model in ``path``; :class:`ConfigError` when the file is not one (truncated, another format) or, with
        ``place``, when it was fitted for the other place (the own-words model named as the pasted one; a one-model
        file, ``both``, may score either)."""
        try:
            with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:  # closed even when unreadable
                meta = json.loads(bytes(data["meta"]).decode())
                size = int(data["size"][0])
                index = data["index"]
                idf = np.zeros(size, dtype=np.float32)
                coef = np.zeros(size, dtype=np.float32)
                idf[index] = data["idf"]
                coef[index] = data["coef"]
        except (OSError, KeyError, ValueError, IndexError, EOFError, zipfile.BadZipFile, zlib.error,
                json.JSONDecodeError, UnicodeDecodeError) as exc:  # a truncated or damaged file
            raise ConfigError(f"cannot read injection model: {exc}", path=path) from exc
        if meta.get("format") not in (FORMAT, FORMAT_STRUCTURE) or size != CHAR_FEATURES + WORD_FEATURES:
            raise ConfigError(f"not an injection model of format {FORMAT} or {FORMAT_STRUCTURE}", path=path)
        try:
            structure = tuple((str(name), str(rx)) for name, rx in meta.get("structure") or [])
            for _, rx in structure:
                re.compile(rx)
        except (TypeError, ValueError, re.error) as exc:
            raise ConfigError(f"injection model's structure classes are unreadable: {exc}", path=path) from exc
        if (meta["format"] == FORMAT_STRUCTURE) != bool(structure):
            raise ConfigError("injection model's format and structure classes disagree", path=path)
        model = cls(
            idf=idf,
            coef=coef,
            intercept=float(meta["intercept"]),
            char_ngrams=(int(meta["char_ngrams"][0]), int(meta["char_ngrams"][1])),
            word_ngrams=(int(meta["word_ngrams"][0]), int(meta["word_ngrams"][1])),
            info=meta.get("info") or {},
            structure=structure,
        )
        if place is not None and model.place not in (place, "both"):
            raise ConfigError(f"injection model fitted for {model.place!r} content, expected {place!r}", path=path)
        return model
