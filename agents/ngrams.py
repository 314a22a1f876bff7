"""Word and character n-grams, and hashed n-gram counts, without importing scikit-learn.

The intent model and the injection detector were fit with scikit-learn's ``CountVectorizer`` / ``HashingVectorizer``
tokenisation; these functions give exactly the same n-grams (``lowercase=True``, no accent stripping, no stop
words) and the same hashed column for each (MurmurHash3, 32 bits, seed 0, as ``sklearn.utils.murmurhash3_32``), so
saved models keep working. Importing scikit-learn costs ~1–1.5 s per process; scoring a message needs none of it —
only fitting does (``tests/test_ngrams.py`` checks the two agree).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from scipy import sparse

_WHITE_SPACES = re.compile(r"\s\s+")
Analyzer = Callable[[str], list[str]]
COLUMN_CACHE_MAX = 200_000  # n-grams whose hashed column is remembered per channel (~20 MB at most)


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Character n-grams inside word boundaries, each word padded with one space (``analyzer="char_wb"``)."""
    min_n, max_n = ngram_range
    out: list[str] = []
    append = out.append
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        w = f" {word} "
        w_len = len(w)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(w[0:n])
            while offset + n < w_len:
                offset += 1
                append(w[offset : offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return out


def word_ngrams(text: str, ngram_range: tuple[int, int], pattern: re.Pattern[str]) -> list[str]:
    """Word n-grams of the lower-cased text's tokens (``analyzer="word"``), joined by one space."""
    tokens = pattern.findall(text.lower())
    min_n, max_n = ngram_range
    if max_n == 1:
        return list(tokens)
    out = list(tokens) if min_n == 1 else []
    start = 2 if min_n == 1 else min_n
    for n in range(start, min(max_n + 1, len(tokens) + 1)):
        for i in range(len(tokens) - n + 1):
            out.append(" ".join(tokens[i : i + n]))
    return out


def analyzer(kind: str, ngram_range: tuple[int, int], token_pattern: str = r"(?u)\b\w\w+\b") -> Analyzer:
    """The n-gram function of one channel: ``kind`` is ``"word"`` or ``"char_wb"``."""
    if kind == "char_wb":
        return partial(char_wb_ngrams, ngram_range=ngram_range)
    if kind == "word":
        return partial(word_ngrams, ngram_range=ngram_range, pattern=re.compile(token_pattern))
    raise ValueError(f"unknown analyzer {kind!r}")


# ------------------------------------------------------------------------------------------ MurmurHash3

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)


def _rotl(x: NDArray[np.uint32], r: int) -> NDArray[np.uint32]:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _fmix(h: NDArray[np.uint32]) -> NDArray[np.uint32]:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _murmur_same_length(keys: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """MurmurHash3_x86_32 (seed 0) of each row of ``keys`` (an ``m × length`` byte array)."""
    m, length = keys.shape
    h = np.zeros(m, dtype=np.uint32)
    nblocks = length // 4
    if nblocks:
        blocks = np.ascontiguousarray(keys[:, : nblocks * 4]).view("<u4")
        for b in range(nblocks):
            k = blocks[:, b] * _C1
            k = _rotl(k, 15) * _C2
            h = _rotl(h ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
    tail = keys[:, nblocks * 4 :].astype(np.uint32)
    if tail.shape[1]:
        k = np.zeros(m, dtype=np.uint32)
        for i in reversed(range(tail.shape[1])):
            k = k ^ (tail[:, i] << np.uint32(8 * i))
        h = h ^ (_rotl(k * _C1, 15) * _C2)
    return _fmix(h ^ np.uint32(length))


_M32 = 0xFFFFFFFF


def murmurhash3_32_one(key: str) -> int:
    """:func:`murmurhash3_32` of one key in plain integers: the same bits, without numpy's per-call overhead (the
    numpy path costs tens of µs per distinct key length, this ~1 µs per 4 bytes)."""
    data = key.encode("utf-8")
    length = len(data)
    end = length - length % 4
    h = 0
    for (k,) in _BLOCKS.iter_unpack(data[:end]):
        k = (k * 0xCC9E2D51) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        h ^= (k * 0x1B873593) & _M32
        h = ((h << 13) | (h >> 19)) & _M32
        h = (h * 5 + 0xE6546B64) & _M32
    if end < length:
        k = int.from_bytes(data[end:], "little")
        k = (k * 0xCC9E2D51) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        h ^= (k * 0x1B873593) & _M32
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h - (1 << 32) if h >= 1 << 31 else h


_BLOCKS = struct.Struct("<I")
PLAIN_HASH_MAX_KEYS = 256
"""Up to this many keys are hashed one by one in plain integers (:func:`murmurhash3_32_one`): a message's new
n-grams are a few dozen, of a dozen lengths; the numpy path pays per length and wins only on a fit's millions."""


def murmurhash3_32(keys: Sequence[str]) -> NDArray[np.int32]:
    """Signed 32-bit MurmurHash3 (seed 0) of each key's UTF-8 bytes, as ``murmurhash3_32(key, positive=False)``."""
    if len(keys) <= PLAIN_HASH_MAX_KEYS:
        return np.array([murmurhash3_32_one(k) for k in keys], dtype=np.int32)
    encoded = [k.encode("utf-8") for k in keys]
    out = np.zeros(len(encoded), dtype=np.uint32)
    by_length: dict[int, list[int]] = {}
    for i, e in enumerate(encoded):
        by_length.setdefault(len(e), []).append(i)
    with np.errstate(over="ignore"):
        for length, rows in by_length.items():
            raw = np.frombuffer(b"".join(encoded[i] for i in rows), dtype=np.uint8).reshape(len(rows), length)
            out[rows] = _murmur_same_length(raw)
    return out.view(np.int32)


def hashed_columns(keys: Sequence[str], n_features: int) -> NDArray[np.int64]:
    """The column ``HashingVectorizer`` gives each n-gram (``abs(hash) % n_features``)."""
    h = murmurhash3_32(keys).astype(np.int64)
    columns = np.abs(h) % n_features
    columns[h == -(2**31)] = (2**31 - 1 - (n_features - 1)) % n_features
    return columns


class HashedCounts:
    """Hashed n-gram counts of one channel, as sklearn's ``HashingVectorizer(alternate_sign=False, norm=None,
    dtype=float32)`` gives them (same n-grams, same MurmurHash3 columns), without importing sklearn."""

    def __init__(self, analyze: Analyzer, n_features: int) -> None:
        self.analyze = analyze
        self.n_features = n_features
        self._columns: dict[str, int] = {}  # n-gram -> column: n-grams recur across messages, hashing is numpy work

    def _lookup(self, grams: list[str]) -> list[int]:
        known = self._columns
        missing = list({g for g in grams if g not in known})
        if not missing:
            return [known[g] for g in grams]
        new = dict(zip(missing, hashed_columns(missing, self.n_features).tolist(), strict=True))
        if len(known) < COLUMN_CACHE_MAX:
            known.update(new)
        return [known[g] if g in known else new[g] for g in grams]

    def row(self, text: str) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """One text's columns (sorted, distinct) and counts: the indices and data of ``transform([text])``, without
        building a sparse matrix (scoring one message)."""
        columns = np.asarray(self._lookup(self.analyze(text)), dtype=np.int32)
        distinct, counts = np.unique(columns, return_counts=True)
        return distinct.astype(np.int32, copy=False), counts.astype(np.float32)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from scipy import sparse

        grams = [self.analyze(t) for t in texts]
        indptr = np.cumsum([0, *map(len, grams)])
        columns = np.asarray(self._lookup([g for row in grams for g in row]), dtype=np.int32)
        x = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns, indptr), shape=(len(texts), self.n_features)
        )
        x.sum_duplicates()
        return x


def tf_idf_row(
    parts: Sequence[tuple[HashedCounts, str]], idf: NDArray[np.float32]
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """One row of the learned scorers' features — each channel's counts side by side (as ``sparse.hstack``),
    sublinear tf × idf, L2-normalised — with the same arithmetic, in the same order, as their sparse path."""
    indices: list[NDArray[np.int32]] = []
    data: list[NDArray[np.float32]] = []
    offset = 0
    for counts, text in parts:
        cols, values = counts.row(text)
        indices.append(cols + np.int32(offset))
        data.append(values)
        offset += counts.n_features
    idx = np.concatenate(indices)
    x = np.log1p(np.concatenate(data)) * idf[idx]
    row = np.zeros(len(x), dtype=np.intp)
    norms = np.sqrt(np.bincount(row, weights=x.astype(np.float64) ** 2, minlength=1))
    norms[norms == 0] = 1.0
    x /= norms[row].astype(x.dtype)
    return idx, x
