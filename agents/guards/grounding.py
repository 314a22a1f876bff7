"""Grounding of model-written replies: a sentence may only say what the approved content (this turn's offline reply)
or the customer's own words already say.

The responder asks :meth:`Grounding.check` about each sentence a model writes before releasing it. A sentence is
rejected when it leaks the prompt's framing or an internal label, repeats the bot's previous reply, or states a
URL, contact detail, number, commitment or step (content words) that the approved content does not hold. The
rules and thresholds are data: ``policies/grounding.yaml`` (:class:`tactful.agents.policy.files.GroundingFile`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import snowballstemmer

from tactful.agents.policy.files import GroundingFile

Cause = Literal[
    "framing_leak",
    "internal_label",
    "repeat",
    "ungrounded_url",
    "ungrounded_contact",
    "ungrounded_number",
    "ungrounded_promise",
    "ungrounded_step",
]
_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_LIST_ITEM = re.compile(r"^\s*\d{1,2}[.)]\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_HEADING = re.compile(r"^\s*([A-Za-z][A-Za-z ]{1,40}?)\s*(?:\([^)]*\))?\s*:\s*(?:\{\w+\})?\s*$")
_STEMMER = snowballstemmer.stemmer("english")
_VERBATIM_MIN_WORDS = 4


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (and lines); empty pieces dropped."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _verbatim_in(sentence: str, text: str) -> bool:
    """Whether ``sentence`` appears word for word (case and punctuation aside) in ``text``, as a run of its words;
    a pleasantry of a few words ("Thanks!", "Sure thing.") is never counted."""
    mine = [w.lower() for w in _WORD.findall(sentence)]
    if len(mine) < _VERBATIM_MIN_WORDS:
        return False
    theirs = " " + " ".join(w.lower() for w in _WORD.findall(text)) + " "
    return " " + " ".join(mine) + " " in theirs


def framing_headings(prompt_texts: Iterable[str]) -> list[str]:
    """The headings of prompt templates ("Tone", "Approved content"): a reply that starts a line with one followed
    by a colon is quoting the prompt."""
    found: list[str] = []
    for text in prompt_texts:
        for line in text.splitlines():
            m = _HEADING.match(line)
            if m and m.group(1).strip().lower() not in found:
                found.append(m.group(1).strip().lower())
    return found


@dataclass(frozen=True)
class Source:
    """What a model sentence may draw on this turn."""

    approved: str
    """The approved content: this turn's offline reply, skeleton included."""
    said: Sequence[str] = ()
    """The customer's messages: a number or reference they gave may be echoed back."""
    previous: str = ""
    """The bot's previous reply."""
    earlier: Sequence[str] = ()
    """The bot's replies before the previous one (a few): a short sentence copied from them word for word is a repeat
    too ("I can't help with that one here." two turns after it was said, inside an answer that does help)."""


@dataclass(frozen=True)
class Finding:
    cause: Cause
    detail: str


@dataclass(frozen=True)
class Grounding:
    config: GroundingFile
    headings: Sequence[str] = ()
    """Prompt headings (:func:`framing_headings`), from the prompt files the model is sent."""

    @cached_property
    def _stop(self) -> frozenset[str]:
        # sklearn's list, imported on first use: only model-written replies are checked, and sklearn costs ~1 s
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words = {w.lower() for w in ENGLISH_STOP_WORDS} | {w.lower() for w in self.config.phatic}
        return frozenset(words | {_STEMMER.stemWord(w) for w in words})

    @cached_property
    def _framing(self) -> list[re.Pattern[str]]:
        own = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in self.config.framing]
        heads = [re.compile(rf"^\s*{re.escape(h)}\s*[:(]", re.IGNORECASE | re.MULTILINE) for h in self.headings]
        return own + heads

    @cached_property
    def _compiled(self) -> dict[str, list[re.Pattern[str]]]:
        c = self.config
        return {
            name: [re.compile(p, re.IGNORECASE) for p in patterns]
            for name, patterns in (
                ("internal_label", c.internal_label),
                ("url", c.specifics.url),
                ("contact", c.specifics.contact),
                ("promise", c.promise),
            )
        }

    # ------------------------------------------------------------------ words

    def content(self, text: str) -> list[str]:
        """Content words of ``text``, stemmed: what a sentence claims, without the glue and the pleasantries."""
        out: list[str] = []
        for word in _WORD.findall(text):
            lower = word.lower().removesuffix("n't").split("'")[0]  # you're → you, doesn't → does
            if len(lower) < 3 or lower in self._stop:
                continue
            stem = _STEMMER.stemWord(lower)
            if stem not in self._stop:
                out.append(stem)
        return out

    def _vocabulary(self, texts: Iterable[str]) -> set[str]:
        return {w for t in texts for w in self.content(t)}

    @staticmethod
    def _share(words: Sequence[str], vocabulary: set[str]) -> float:
        return sum(1 for w in words if w in vocabulary) / len(words) if words else 1.0

    def _closest(self, words: Sequence[str], text: str) -> float:
        return max((self._share(words, self._vocabulary([s])) for s in sentences(text)), default=0.0)

    # ------------------------------------------------------------------ the checks

    def check(self, sentence: str, source: Source) -> Finding | None:
        """Why ``sentence`` may not be released, or ``None`` when it is grounded."""
        for pattern in self._framing:
            if m := pattern.search(sentence):
                return Finding("framing_leak", m.group(0).strip())
        for pattern in self._compiled["internal_label"]:
            if m := pattern.search(sentence):
                return Finding("internal_label", m.group(0))
        grounds = [source.approved, *source.said]
        known = " ".join(grounds).lower()
        for kind in ("contact", "url"):
            for pattern in self._compiled[kind]:
                for m in pattern.finditer(sentence):
                    if m.group(0).lower().rstrip(".,;:!?") not in known:
                        return Finding(f"ungrounded_{kind}", m.group(0))  # type: ignore[arg-type]
        numbers = {n for t in grounds for n in _NUMBER.findall(t)}
        for number in _NUMBER.findall(_LIST_ITEM.sub("", sentence)):
            if number not in numbers:
                return Finding("ungrounded_number", number)
        words = self.content(_LIST_ITEM.sub("", sentence))
        measured = len(words) >= self.config.min_content_words
        if measured and source.previous:
            before = self._closest(words, source.previous)
            if before >= self.config.repeat_overlap and self._closest(words, source.approved) < before:
                return Finding("repeat", f"{before:.2f} of its words from the previous reply")
        elif any(
            _verbatim_in(sentence, reply) for reply in (source.previous, *source.earlier) if reply
        ) and not _verbatim_in(sentence, source.approved):
            # Too short to measure by share, but word for word a sentence the bot sent lately: the same short answer
            # again reads as a bot stuck in a loop, unless this turn's approved content says it again.
            return Finding("repeat", "a sentence of a recent reply, word for word")
        approved = self._vocabulary([source.approved])
        for pattern in self._compiled["promise"]:
            for m in pattern.finditer(sentence):
                verb = (m.group(m.lastindex) if m.lastindex else m.group(0)).split()[-1].lower()
                stem = _STEMMER.stemWord(verb)
                if verb not in self._stop and stem not in self._stop and stem not in approved:
                    return Finding("ungrounded_promise", m.group(0))
        vocabulary = approved | self._vocabulary(source.said)
        names = [w for w in _WORD.findall(sentence)[1:] if w[0].isupper() and w != "I"]
        for name in names:
            stem = _STEMMER.stemWord(name.lower())
            if stem not in self._stop and stem not in vocabulary:
                return Finding("ungrounded_step", f"names {name!r}")
        if measured and self._share(words, vocabulary) < self.config.min_support:
            missing = sorted({w for w in words if w not in vocabulary})
            return Finding("ungrounded_step", "not in the approved content: " + ", ".join(missing[:6]))
        return None

    def covered(self, sentence: str, *, by: str) -> bool:
        """Whether the text ``by`` already says what ``sentence`` (from the approved content) says."""
        words = self.content(_LIST_ITEM.sub("", sentence))
        return self._share(words, self._vocabulary([by])) >= self.config.min_coverage

    def restates(self, sentence: str, line: str) -> bool:
        """Whether ``sentence`` is the skeleton ``line`` written again (the responder adds that line itself)."""
        words = self.content(_LIST_ITEM.sub("", sentence))
        return bool(words) and self._share(words, self._vocabulary([line])) >= self.config.skeleton_overlap
