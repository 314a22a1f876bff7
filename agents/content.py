"""Split a customer message into the customer's own words and the content they pasted, quoted or forwarded.

Pasted content — a forwarded e-mail with its headers, the lines after "here is the message I got:", quoted ``>``
lines, fenced code, a log or stack trace, a document between markers, a long quotation after "it says", an e-mail
or notice pasted bare but known by its form (:mod:`tactful.agents.letter`: written to its recipient) — is
*untrusted data*: the guards check it for instructions aimed at the bot (indirect injection), and the model engine
receives it as quoted data, never as instructions. Everything else is the customer speaking.

The split is structural and deterministic: one pass over the lines, every pattern (``policies/content.yaml``)
matched against a bounded prefix of one line, so the cost is linear in the message and bounded per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from tactful.agents.letter import LetterRules, letter_lines
from tactful.config import Regexes, Strict, check_patterns, load_yaml_model
from tactful.resources import POLICY_DIR

Kind = Literal["own", "pasted"]

Regex = Annotated[str, AfterValidator(lambda p: check_patterns([p])[0])]
_CLOSE_QUOTE = {'"': '"', "“": "”", "«": "»", "„": "“"}


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the message: ``text == message[start:end]``; ``kind`` says whose words they are."""

    text: str
    kind: Kind
    start: int
    end: int


class ContentRules(Strict):
    """The patterns of ``policies/content.yaml`` (each documented there)."""

    version: int = 1
    max_chars: int = Field(default=100_000, ge=1)
    scan_chars: int = Field(default=400, ge=20)
    fence: Regex
    quote_line: Regex
    header_key: Regex
    header_min_keys: int = Field(default=2, ge=1)
    block_start: Regexes = []
    block_end: Regexes = []
    introducer: Regexes = []
    saying: Regex
    inline_quote_min_chars: int = Field(default=20, ge=1)
    resume_own: Regexes = []
    resume_inline: Regexes = []
    log_line: Regexes = []
    log_min_lines: int = Field(default=2, ge=1)
    letter: LetterRules = LetterRules()

    @cached_property
    def compiled(self) -> _Compiled:
        return _Compiled(self)


class _Compiled:
    def __init__(self, rules: ContentRules) -> None:
        def one(pattern: str) -> re.Pattern[str]:
            return re.compile(pattern, re.IGNORECASE)

        def many(patterns: list[str]) -> list[re.Pattern[str]]:
            return [one(p) for p in patterns]

        self.fence = one(rules.fence)
        self.quote_line = one(rules.quote_line)
        self.header_key = one(rules.header_key)
        self.block_start = many(rules.block_start)
        self.block_end = many(rules.block_end)
        self.introducer = many(rules.introducer)
        self.saying = one(rules.saying)
        self.resume_own = many(rules.resume_own)
        self.resume_inline = many(rules.resume_inline)
        self.log_line = many(rules.log_line)


@lru_cache(maxsize=8)
def load_content_rules(path: Path | None = None) -> ContentRules:
    """The rules in ``path`` (default: the shipped ``policies/content.yaml``); ConfigError with file and line."""
    return load_yaml_model(path or POLICY_DIR / "content.yaml", ContentRules)


def _any(patterns: list[re.Pattern[str]], line: str) -> bool:
    return any(p.search(line) for p in patterns)


class _Splitter:
    """One pass over the lines; a small state machine (own / fence / block / log)."""

    def __init__(self, text: str, rules: ContentRules) -> None:
        self.text = text
        self.rules = rules
        self.re = rules.compiled
        self.spans: list[tuple[int, int, Kind]] = []
        self.lines: list[tuple[int, str]] = []
        pos = 0
        for line in text.splitlines(keepends=True):
            self.lines.append((pos, line))
            pos += len(line)
        self.letter = letter_lines([self.scan(i) for i in range(len(self.lines))], rules.letter,
                                   is_own_question=lambda s: _any(self.re.resume_own, s))

    def mark(self, start: int, end: int, kind: Kind) -> None:
        if end > start:
            self.spans.append((start, end, kind))

    def scan(self, i: int) -> str:
        return self.lines[i][1][: self.rules.scan_chars].rstrip("\r\n") if i < len(self.lines) else ""

    def header_start(self, i: int) -> int | None:
        """Offset in line ``i`` where an e-mail header block starts, if this line and the next hold enough keys."""
        here = list(self.re.header_key.finditer(self.scan(i)))
        if not here:
            return None
        keys = {m.group(1).lower() for m in here}
        if len(keys) < self.rules.header_min_keys:
            keys |= {m.group(1).lower() for m in self.re.header_key.finditer(self.scan(i + 1))}
        return here[0].start() if len(keys) >= self.rules.header_min_keys else None

    def is_log(self, i: int) -> bool:
        return _any(self.re.log_line, self.scan(i))

    def starts_log(self, i: int) -> bool:
        need = self.rules.log_min_lines
        return i + need <= len(self.lines) and all(self.is_log(j) for j in range(i, i + need))

    def inline(self, i: int) -> bool:
        """Mark reported speech on line ``i`` ("the e-mail says: …", 'it reads "…"'); False if there is none."""
        start, line = self.lines[i]
        body = line.rstrip("\r\n")
        m = self.re.saying.search(self.scan(i))
        if not m:
            return False
        q = m.end()
        close = _CLOSE_QUOTE.get(body[q : q + 1])
        end = body.find(close, q + 1) + 1 if close else 0
        if end <= 0:
            end = len(body)
        if len(body[q:end].strip(" \"“”«»„")) < self.rules.inline_quote_min_chars:
            return False
        self.mark(start, start + q, "own")
        self.mark(start + q, start + end, "pasted")
        self.mark(start + end, start + len(line), "own")
        return True

    def paste_rest(self, i: int, at: int) -> Literal["own", "block"]:
        """Mark line ``i`` from offset ``at`` as pasted, up to where the customer's own question resumes on it."""
        start, line = self.lines[i]
        s = self.scan(i)
        resume = min((m.start() for p in self.re.resume_inline if (m := p.search(s, at + 1))), default=None)
        if resume is None:
            self.mark(start + at, start + len(line), "pasted")
            return "block"
        self.mark(start + at, start + resume, "pasted")
        self.mark(start + resume, start + len(line), "own")
        return "own"

    def run(self) -> list[tuple[int, int, Kind]]:
        state: Literal["own", "fence", "block", "log"] = "own"
        fence = ""
        prev_blank = True
        for i, (start, line) in enumerate(self.lines):
            s = self.scan(i)
            blank = not s.strip()
            end = start + len(line)
            if state == "fence":
                self.mark(start, end, "pasted")
                m = self.re.fence.match(s)
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not s[m.end() :].strip():
                    state = "own"
            elif state == "log" and not blank and (self.is_log(i) or line[:1] in " \t"):
                self.mark(start, end, "pasted")
            elif state == "block" and not (prev_blank and not blank and _any(self.re.resume_own, s)):
                if _any(self.re.block_end, s):
                    self.mark(start, end, "pasted")
                    state = "own"
                else:
                    state = self.paste_rest(i, 0)
            else:
                state = self.own_line(i)
                if state == "fence":
                    fence = self.re.fence.match(s).group(1)  # type: ignore[union-attr]
            prev_blank = blank
        return self.spans

    def own_line(self, i: int) -> Literal["own", "fence", "block", "log"]:
        """Classify line ``i`` read in the customer's own words; return the state for the lines after it."""
        start, line = self.lines[i]
        s = self.scan(i)
        end = start + len(line)
        if self.re.fence.match(s):
            self.mark(start, end, "pasted")
            return "fence"
        if self.re.quote_line.match(s):
            self.mark(start, end, "pasted")
            return "own"
        if _any(self.re.block_start, s):
            self.mark(start, end, "pasted")
            return "block"
        at = self.header_start(i)
        if at is not None:
            self.mark(start, start + at, "own")
            return self.paste_rest(i, at)
        if i in self.letter:
            self.mark(start, end, "pasted")
            return "own"
        if self.starts_log(i):
            self.mark(start, end, "pasted")
            return "log"
        if i + 1 < len(self.lines) and _any(self.re.introducer, s):
            self.mark(start, end, "own")
            return "block"
        if not self.inline(i):
            self.mark(start, end, "own")
        return "own"


def _merge(text: str, spans: list[tuple[int, int, Kind]]) -> list[Segment]:
    """Join neighbours of one kind; a whitespace-only run joins the run before it (or after it, at the start)."""
    runs: list[tuple[int, int, Kind]] = []
    leading: int | None = None
    for start, end, kind in spans:
        if not text[start:end].strip():
            if runs:
                runs[-1] = (runs[-1][0], end, runs[-1][2])
            elif leading is None:
                leading = start
            continue
        if leading is not None:
            start, leading = leading, None
        if runs and runs[-1][2] == kind:
            runs[-1] = (runs[-1][0], end, kind)
        else:
            runs.append((start, end, kind))
    if leading is not None:
        runs.append((leading, len(text), "own"))
    return [Segment(text[start:end], kind, start, end) for start, end, kind in runs]


MEMO_MAX_CHARS = 4_000
"""Messages up to this long are split once per process with the shipped rules and the split remembered
(:data:`MEMO_SIZE` of them): a turn reads its message's own words in five places (input guards, injection,
intent, sentiment, policy) and sentiment reads the earlier messages' every turn. The split is a pure function of
the text and the rules, so a remembered one is the same answer; longer messages (rare) are split every time."""
MEMO_SIZE = 4_096


@lru_cache(maxsize=MEMO_SIZE)
def _shipped_split(text: str) -> tuple[Segment, ...]:
    return tuple(_split(text, load_content_rules()))


@lru_cache(maxsize=MEMO_SIZE)
def _shipped_own_words(text: str) -> str:
    return _own_words(_shipped_split(text))


def split_message(text: str, *, rules: ContentRules | None = None) -> list[Segment]:
    """The message as consecutive segments covering all of it, in order; [] for an empty message.

    Text beyond ``max_chars`` is one pasted segment, unread (a message that long is not the customer typing).
    """
    if not text:
        return []
    if rules is None and len(text) <= MEMO_MAX_CHARS:
        return list(_shipped_split(text))
    return _split(text, rules or load_content_rules())


def _split(text: str, rules: ContentRules) -> list[Segment]:
    head = text[: rules.max_chars]
    spans = _Splitter(head, rules).run()
    if len(text) > len(head):
        spans.append((len(head), len(text), "pasted"))
    return _merge(text, spans)


def own_words(text: str, *, rules: ContentRules | None = None) -> str:
    """The customer's own words, the pasted parts left out (runs joined by a newline)."""
    if text and rules is None and len(text) <= MEMO_MAX_CHARS:
        return _shipped_own_words(text)
    return _own_words(split_message(text, rules=rules))


def _own_words(segments: Iterable[Segment]) -> str:
    return "\n".join(s.text.strip() for s in segments if s.kind == "own" and s.text.strip())


def _unquote(segment: str, rules: ContentRules) -> str:
    fence, quote = rules.compiled.fence, rules.compiled.quote_line
    lines = []
    for line in segment.splitlines():
        if fence.match(line[: rules.scan_chars]):
            continue
        m = quote.match(line)
        lines.append(re.sub(r"^(\s*>)+\s?", "", line) if m else line)
    return "\n".join(lines).strip()


def pasted_parts(text: str, *, rules: ContentRules | None = None) -> list[str]:
    """The pasted parts, each as its content: quote markers (``>``) and fence lines taken off."""
    rules = rules or load_content_rules()
    parts = (_unquote(s.text, rules) for s in split_message(text, rules=rules) if s.kind == "pasted")
    return [p for p in parts if p]
