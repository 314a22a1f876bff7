"""AnyOf answers exactly as trying its patterns one by one, in order: the joined search only skips texts none of
them matches."""

from __future__ import annotations

import re

from tactful.agents.guards.prefilter import AnyOf, joined


def _loop(items: list[tuple[int, re.Pattern[str]]], text: str) -> tuple[int, str] | None:
    for tag, p in items:
        if m := p.search(text):
            return tag, m.group(0)
    return None


def test_same_answer_as_the_loop_including_which_pattern_wins() -> None:
    items = list(
        enumerate(
            [
                re.compile(r"\bwe will refund\b", re.I),
                re.compile(r"(?m)^\s*Tone\s*:"),
                re.compile(r"refund", re.I),  # also matches where the first does: the first must still win
                re.compile(r"\d{3}-\d{4}"),
            ]
        )
    )
    assert AnyOf(items)._any is None  # every pattern has a literal requirement: the substring tests replace it
    with_search = [*items, (4, re.compile(r"\d+\w"))]  # no literal requirement: the joined search stays
    assert AnyOf(with_search)._any is not None
    texts = ["We WILL refund you", "no\nTone: calm", "a refund maybe", "call 555-1234", "nothing here", "tone: x",
             "12x", "1a"]
    for case in (items, with_search):
        any_of = AnyOf(case)
        for text in texts:
            hit = any_of.first(text)
            assert (None if hit is None else (hit[0], hit[1].group(0))) == _loop(case, text)


def test_back_references_are_not_joined() -> None:
    assert joined([re.compile(r"(a)\1"), re.compile("b")]) is None
    any_of = AnyOf(enumerate([re.compile(r"(a)\1"), re.compile("b")]))
    hit = any_of.first("xaa")
    assert hit is not None and hit[0] == 0
