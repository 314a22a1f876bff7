"""What text a pattern cannot match without: a literal it requires, checked with ``in`` before the search.

Most guard patterns are words (``\\bBrief\\s+for\\s+this\\s+reply\\b``, ``\\b(guarantee|promise)\\b.{0,40}...``) and
almost every text contains none of them; Python's engine cannot skip ahead to a literal under ``IGNORECASE`` or
behind a leading ``\\b``, so each search walks the whole text (~10 µs per pattern per 200 characters), while a
substring test takes well under a microsecond.

:func:`need` reads a compiled pattern's parse tree and returns the most selective requirement it can prove: a run
of literal characters at the pattern's top level, or a group of alternatives that each start with a literal run
(any one of them must then occur). :meth:`Need.may_match` is False only when the pattern cannot match: an
``IGNORECASE`` requirement is tested on the lower-cased text only when the text is ASCII (there, and only there,
Python's case-insensitive match of an ASCII letter is plain ASCII case folding: ``ſ``, ``K`` or ``İ`` match ``s``,
``k``, ``i`` but are not ASCII), otherwise the search runs. Patterns it cannot read (scoped flags, nothing literal
at the top level) get no requirement and are always searched.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

# The standard library's own regular-expression parser (``re._parser``, ``re._constants`` since Python 3.11).
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")


PREFILTER_MIN_CHARS = 24
"""Texts at least this long test a pattern's literal before searching it; on shorter ones a search is as cheap as
the test (measured, the injection detector's 128 patterns on two readings: 2 characters 10 µs searching against
62 µs testing first, 17–20 characters about even, 52 characters 0.91 ms against 0.22 ms, 91: 1.67 against
0.29)."""


@dataclass(frozen=True)
class Need:
    """Any one of ``alternatives`` must occur in a text the pattern matches (lower-cased when ``folded``)."""

    alternatives: tuple[str, ...]
    folded: bool

    def may_match(self, text: str, lowered: str | None = None) -> bool:
        """False only when no alternative occurs (``lowered``: ``text.lower()`` when the caller has it)."""
        if self.folded:
            if not text.isascii():
                return True
            text = text.lower() if lowered is None else lowered
        for a in self.alternatives:  # noqa: SIM110 - a loop, not any(): this runs a hundred times a message
            if a in text:
                return True
        return False


def _leading_run(items: Any) -> str:
    out: list[str] = []
    for op, av in items:
        if op is not _c.LITERAL:
            break
        out.append(chr(av))
    return "".join(out)


def _requirements(items: Any) -> list[tuple[str, ...]]:
    """Requirements of a top-level sequence: literal runs, and groups of literal-led alternatives."""
    found: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            found.append(("".join(run),))
            run = []
        branch = None
        if op is _c.BRANCH:
            branch = av[1]
        elif op is _c.SUBPATTERN and not av[1] and not av[2]:  # a group without scoped flags
            sub = av[3]
            if len(sub) == 1 and sub[0][0] is _c.BRANCH:
                branch = sub[0][1][1]
            elif lead := _leading_run(sub):
                found.append((lead,))
        if branch is not None:
            leads = tuple(_leading_run(alt) for alt in branch)
            if all(leads):
                found.append(leads)
    if run:
        found.append(("".join(run),))
    return found


def need(pattern: re.Pattern[str]) -> Need | None:
    """The most selective literal requirement of ``pattern`` (None when none can be proven)."""
    if not isinstance(pattern.pattern, str):
        return None
    try:
        tree = _p.parse(pattern.pattern, pattern.flags)
    except Exception:  # an unreadable tree only means no prefilter
        return None
    folded = bool(tree.state.flags & re.IGNORECASE)
    options = [r for r in _requirements(tree) if not folded or all(a.isascii() for a in r)]
    if not options:
        return None
    best = max(options, key=lambda r: (min(map(len, r)), -len(r)))
    return Need(tuple(a.lower() for a in best) if folded else best, folded)
