"""Recognise pasted content by its form when nothing announces it: an e-mail or notice written *to* its recipient.

A customer often pastes an e-mail without its headers and without a line saying so. What gives it away is the
sender's voice: account events told in the second person ("your card … has been charged", "you sent a payment of
…"), mailing boilerplate ("reply to this e-mail", "you are receiving this", "unsubscribe", "if this transaction is
in error…"), a sign-off by a team, a greeting by name, a masked account number. A customer writes "my card", signs
with their own name and does not tell the bot to reply to an e-mail — so their own multi-line message, even one
shaped like a letter ("Hi, … Thanks, Ana"), stays their words.

The cue classes and their weights are data (``letter:`` in ``policies/content.yaml``). The message is read by
paragraphs (runs of non-blank lines); neighbouring paragraphs that carry cues form a candidate letter, which counts
as pasted when the weights of the *distinct* classes it shows reach ``min_score`` and one of them is a class of
``require_any`` (the sender's voice). Each pattern is matched against a bounded prefix of one line, so the cost is
linear in the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property

from pydantic import Field

from tactful.config import Regexes, Strict


class LetterCue(Strict):
    weight: int = Field(ge=1)
    patterns: Regexes


class LetterRules(Strict):
    """``letter:`` in ``policies/content.yaml`` (documented there). No cues: the form is never read."""

    cues: dict[str, LetterCue] = {}
    min_score: int = Field(default=4, ge=1)
    require_any: list[str] = []
    cannot_open: list[str] = []
    max_gap: int = Field(default=1, ge=0)
    signature_max_lines: int = Field(default=3, ge=0)
    signature_max_chars: int = Field(default=40, ge=1)
    signature_not: Regexes = []

    @cached_property
    def not_signature(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.signature_not]

    @cached_property
    def compiled(self) -> list[tuple[str, int, list[re.Pattern[str]]]]:
        return [(name, cue.weight, [re.compile(p, re.IGNORECASE) for p in cue.patterns])
                for name, cue in self.cues.items()]


def _paragraphs(lines: Sequence[str]) -> list[tuple[int, int]]:
    """``(first, last + 1)`` line indices of each run of non-blank lines."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(lines)))
    return out


def _is_signature(lines: Sequence[str], rules: LetterRules) -> bool:
    """A short closing paragraph: a few short lines that read as a name, a title or a team — not the customer
    reacting to the letter ("I never made this payment!": ``signature_not``)."""
    return 0 < len(lines) <= rules.signature_max_lines and all(
        len(line.strip()) <= rules.signature_max_chars and not any(p.search(line) for p in rules.not_signature)
        for line in lines)


def letter_lines(lines: Sequence[str], rules: LetterRules, *, is_own_question: Callable[[str], bool]) -> set[int]:
    """Indices of the lines that belong to a pasted letter (none when no paragraph run has the letter's form).

    ``lines`` are the message's lines already cut to the scanned prefix; ``is_own_question`` says whether a line
    is the customer speaking about the paste ("is this legit?") — such a line ends a letter and is never part of it.
    """
    compiled = rules.compiled
    if not compiled:
        return set()
    weights = {name: weight for name, weight, _ in compiled}
    weak = set(rules.cannot_open)
    line_cues = [{name for name, _, patterns in compiled if any(p.search(line) for p in patterns)} if line.strip()
                 else set() for line in lines]
    paras = _paragraphs(lines)
    cues = [set().union(*line_cues[first:end]) for first, end in paras]

    def own(j: int) -> bool:  # the customer asking about the paste; a paragraph in the sender's voice never is
        return not cues[j] - weak and is_own_question(lines[paras[j][0]])

    out: set[int] = set()
    k = 0
    while k < len(paras):
        if not cues[k] - weak or own(k):
            k += 1
            continue
        classes, last, j = set(cues[k]), k, k + 1
        while j < len(paras) and j - last <= rules.max_gap + 1 and not own(j):
            if cues[j]:
                classes |= cues[j]
                last = j
            j += 1
        score = sum(weights[c] for c in classes)
        if score >= rules.min_score and (not rules.require_any or classes & set(rules.require_any)):
            end_para = last
            while (end_para + 1 < len(paras) and end_para + 1 - last <= 1
                   and _is_signature(lines[paras[end_para + 1][0]:paras[end_para + 1][1]], rules)):
                end_para += 1
            first_line, end_line = paras[k][0], paras[end_para][1]
            while end_line - 1 > first_line and not line_cues[end_line - 1] and is_own_question(lines[end_line - 1]):
                end_line -= 1  # the customer's question right under the letter, without a blank line
            out.update(range(first_line, end_line))
            k = end_para + 1
        else:
            k += 1
    return out
