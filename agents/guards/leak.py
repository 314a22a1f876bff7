"""Leak check on the way out: a draft that quotes the prompts, the policy or internal labels is not released.

Three kinds of evidence, each enough on its own:

- a run of ``RUN_WORDS`` consecutive words of a prompt text (``prompts/system/*.md``, ``prompts/model/*.md``);
- a heading of those prompts ("Approved content", "Brief for this reply") anywhere, or a one-word field key of
  theirs ("Tone:", "Mood:") opening a line;
- an internal identifier of the policy bundle: an intent, queue, trigger, rule or reason name written as an
  identifier (``card_not_working``), or a pattern class of ``policies/injection.yaml``.

Matching is on lower-cased words, so punctuation or line breaks the model changed do not hide a quotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from tactful.agents.guards.prefilter import AnyOf

RUN_WORDS = 6
_WORD = re.compile(r"[a-z0-9']+")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|<!--.*?-->", re.S)
_HEADING = re.compile(r"^\s*#*\s*([A-Za-z][A-Za-z ,'\-]{2,60}?)\s*(?:\([^)]*\))?\s*:?\s*(?:\{[^}]*\})?\s*$")
_KEY = re.compile(r"^\s*([A-Z][a-z]{2,20})\s*:\s*\{")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class LeakCheck:
    runs: frozenset[tuple[str, ...]]
    headings: tuple[re.Pattern[str], ...]
    labels: re.Pattern[str] | None

    @cached_property
    def _headings(self) -> AnyOf[int]:
        return AnyOf(enumerate(self.headings))

    @classmethod
    def build(cls, texts: Sequence[str], labels: Iterable[str] = (), *, allowed: Sequence[str] = ()) -> LeakCheck:
        """From the prompt texts a reply must not quote, the internal labels, and texts a reply may say (the reply
        templates: runs found there are not evidence)."""
        ok = {tuple(w[i : i + RUN_WORDS]) for t in allowed for w in [_words(t)] for i in range(len(w))}
        runs: set[tuple[str, ...]] = set()
        heads: set[str] = set()
        keys: set[str] = set()
        for text in texts:
            body = _PLACEHOLDER.sub(" ", text)
            w = _words(body)
            runs |= {tuple(w[i : i + RUN_WORDS]) for i in range(len(w) - RUN_WORDS + 1)}
            for line in text.splitlines():
                if m := _KEY.match(line):
                    keys.add(m.group(1))
                elif (m := _HEADING.match(line)) and 2 <= len(m.group(1).split()) <= 6:
                    heads.add(m.group(1).strip())
        heading_res = [re.compile(r"\b" + r"\s+".join(map(re.escape, h.split())) + r"\b", re.I) for h in heads]
        heading_res += [re.compile(rf"(?m)^\s*{re.escape(k)}\s*:") for k in keys]
        names = sorted({x for x in labels if "_" in x}, key=len, reverse=True)
        label_re = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None
        return cls(frozenset(runs - ok), tuple(heading_res), label_re)

    def find(self, draft: str) -> str | None:
        """What in ``draft`` gives the prompts or labels away (for the verdict's detail), or None."""
        if hit := self._headings.first(draft):
            return f"prompt heading: {hit[1].group(0).strip()}"
        if self.labels is not None and "_" in draft and (m := self.labels.search(draft)):  # every label has one
            return f"internal label: {m.group(0)}"
        w = _words(draft)
        for i in range(len(w) - RUN_WORDS + 1):
            if tuple(w[i : i + RUN_WORDS]) in self.runs:
                return "prompt text: " + " ".join(w[i : i + RUN_WORDS])
        return None


def bundle_labels(names: Iterable[Iterable[str]]) -> list[str]:
    return [n for group in names for n in group]
