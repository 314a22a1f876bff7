"""VADER's compound score at a cost linear in the message and bounded per turn.

VADER itself is quadratic in the number of words: for every lexicon word it re-lowercases the whole token list
(negation and idiom checks), and an emoji expands into several words first, so 4,000 emoji become 24,000 words
and half a minute of CPU. :class:`BoundedValence` expands emoji itself, keeps at most ``max_words`` words, and
scores a long message in sentence-aligned segments of at most ``window_words`` words, each scored by VADER, whose
raw valence sums are added and normalised the way VADER normalises one text. A message that fits one window is
scored by VADER unchanged, so short messages read exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_ALPHA = 15.0  # VADER's normalisation constant: compound = s / sqrt(s² + alpha)
_SENTENCE_END = (".", "!", "?", ";")


def _raw(compound: float) -> float:
    """The raw valence sum behind a compound score (the inverse of VADER's normalisation)."""
    c = max(-0.9999, min(0.9999, compound))
    return c * math.sqrt(_ALPHA) / math.sqrt(1.0 - c * c)


def _normalised(raw: float) -> float:
    return max(-1.0, min(1.0, raw / math.sqrt(raw * raw + _ALPHA)))


class BoundedValence:
    """Compound scores in ``-1..1``; cost O(words) with at most ``max_words`` words read per message."""

    def __init__(self, *, window_words: int, max_words: int, analyzer: SentimentIntensityAnalyzer | None = None):
        if window_words < 1 or max_words < window_words:
            raise ValueError("need 1 <= window_words <= max_words")
        self.window_words = window_words
        self.max_words = max_words
        self.analyzer = analyzer or SentimentIntensityAnalyzer()
        self._emojis: dict[str, str] = self.analyzer.emojis

    def words(self, text: str) -> list[str]:
        """The message's words with each emoji spelled out as VADER would, cut at ``max_words``."""
        out: list[str] = []
        for token in text.split():
            if len(out) >= self.max_words:
                break
            if any(ch in self._emojis for ch in token):
                out.extend(self._spelled(token))
            else:
                out.append(token)
        return out[: self.max_words]

    def _spelled(self, token: str) -> Iterator[str]:
        plain: list[str] = []
        for ch in token:
            description = self._emojis.get(ch)
            if description is None:
                plain.append(ch)
                continue
            if plain:
                yield "".join(plain)
                plain = []
            yield from description.split()
        if plain:
            yield "".join(plain)

    def segments(self, words: Sequence[str]) -> list[list[str]]:
        """Consecutive runs of at most ``window_words`` words, cut after a sentence end where one is near."""
        out: list[list[str]] = []
        current: list[str] = []
        for word in words:
            current.append(word)
            full = len(current) >= self.window_words
            # Past half a window, a sentence end closes the segment so that VADER's "but" and negation
            # rules stay inside the sentence they belong to.
            if full or (len(current) >= self.window_words // 2 and word.endswith(_SENTENCE_END)):
                out.append(current)
                current = []
        if current:
            out.append(current)
        return out

    def compound(self, text: str) -> float:
        words = self.words(text)
        if len(words) <= self.window_words:
            if len(words) == len(text.split()):  # nothing spelled out or cut: exactly VADER
                return float(self.analyzer.polarity_scores(text)["compound"])
            return float(self.analyzer.polarity_scores(" ".join(words))["compound"])
        raw = sum(_raw(float(self.analyzer.polarity_scores(" ".join(seg))["compound"])) for seg in self.segments(words))
        return round(_normalised(raw), 4)
