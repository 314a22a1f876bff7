"""Normalise a message before the injection patterns and the classifier read it, and decode hidden fragments.

An attacker hides the words a pattern looks for: Unicode look-alikes (full-width letters, Cyrillic ``а`` for Latin
``a``), zero-width characters between letters, a literal ``\\n`` typed instead of a line break, letters spread out
(``i g n o r e``, ``i.g.n.o.r.e``), leetspeak (``1gn0r3``), or a whole sentence encoded as base64, hex or rot13.
:func:`views` returns the few readings of a message that undo each trick; a detector matches every view. What each
step folds is data (``policies/injection.yaml``, ``normalise:``); the steps themselves are here.

All steps are linear in the (capped) message length.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Mapping

from pydantic import Field

from tactful.config import Strict

# Format characters (Cf) that render as nothing: zero-width space/joiners, word joiner, BOM, soft hyphen, the
# invisible operators, and the tag characters; variation selectors are Mn but invisible too.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]")
_COMBINING = re.compile(r"[\u0300-\u036f]")  # diacritics stacked on a letter ("zalgo" text) after NFKD
_LITERAL_ESCAPE = re.compile(r"\\(?:[nrtv]|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_PUNCT_RUN = re.compile(r"([^\w\s])\1{2,}")
# Single letters split by one separator, five or more in a row: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
_SPREAD = re.compile(r"(?<![\w])(?:[^\W\d_][ .\-_*|/]){4,}[^\W\d_](?![\w])")
_SEPARATOR = re.compile(r"[ .\-_*|/]")
_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_B64_URLSAFE = re.compile(r"(?<![A-Za-z0-9_\-=])[A-Za-z0-9_\-]{16,}={0,2}(?![A-Za-z0-9_\-=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:(?:0x)?[0-9A-Fa-f]{2}[\s:,]?){8,}(?![0-9A-Fa-f])")
_WORD = re.compile(r"\S+")


class NormaliseRules(Strict):
    """The data of the normalisation steps (``policies/injection.yaml``, ``normalise:``)."""

    max_chars: int = Field(default=20_000, ge=100)
    """Only this much of a message is read; a longer one is cut (the rest is not the customer typing)."""
    homoglyphs: dict[str, str] = {}
    """Look-alike characters NFKC leaves alone (Cyrillic, Greek), each folded to its Latin letter."""
    letter_runs: list[str] = []
    """The first letter (the ``A``) of an A–Z run of symbol letters NFKC leaves alone — negative circled and
    squared capitals (``🅐``, ``🅰``), regional indicators (``🇦``): each run is read as the Latin capitals."""
    leet: dict[str, str] = {}
    """Digits and symbols read as letters inside a word that also has letters (``1gn0r3`` → ``ignore``)."""
    upside_down: dict[str, str] = {}
    """Letters turned upside down (``ǝ`` for ``e``; ``p`` and ``d``, ``u`` and ``n`` swap): a message with at
    least three of the non-Latin ones is read rotated back — flipped and reversed — in place of the backwards
    view."""
    leet_alt: dict[str, str] = {}
    """Second readings of the ambiguous leet symbols (``1`` and ``|`` are an ``l`` as often as an ``i``:
    ``th|s 1lm`` → ``this llm``): read as a view of its own, only when a word mixes letters with one of them."""
    decode_min_chars: int = Field(default=16, ge=8)
    """The shortest base64 run worth decoding; hex needs eight bytes."""
    decoded_min_letters: float = Field(default=0.7, ge=0.0, le=1.0)
    """Share of letters and spaces a decoded fragment must have to count as hidden text (not binary noise)."""
    max_fragments: int = Field(default=8, ge=0)
    """At most this many encoded fragments are decoded per message."""
    hidden_view_words: list[str] = []
    """The rot13 and backwards readings are matched only when they contain one of these words (what an attack
    hidden that way says): ordinary text read that way is noise, and matching it would double the cost."""


def fold(text: str, rules: NormaliseRules) -> str:
    """The message as a pattern should read it: NFKC, invisible characters out, look-alikes folded, literal
    escape sequences turned into the whitespace they spell, diacritic stacks and runs of spaces or punctuation
    collapsed, letters spread out by separators joined back."""
    text = text[: rules.max_chars]
    if text.count("\\") * 4 > len(text):  # a backslash between every letter: "\\I\\ \\h\\a\\v\\e"
        text = text.replace("\\", "")
    text = _LITERAL_ESCAPE.sub(_unescape, text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    if rules.homoglyphs:
        text = text.translate(_table(rules.homoglyphs))
    if rules.letter_runs and any(ord(c) > 0xFFFF for c in text):
        text = text.translate(_runs_table(tuple(rules.letter_runs)))
    if any(ord(c) > 0x7F for c in text):
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
        text = unicodedata.normalize("NFC", text)
    text = _SPREAD.sub(lambda m: _SEPARATOR.sub("", m.group(0)), text)
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text)


def _unescape(m: re.Match[str]) -> str:
    s = m.group(0)
    if s[1] in "nrv":
        return "\n"
    if s[1] == "t":
        return " "
    try:
        char = chr(int(s[2:], 16))
    except ValueError:
        return s
    return char if char.isprintable() or char in "\n\t" else " "


_tables: dict[tuple[tuple[str, str], ...], dict[int, str]] = {}


def _table(mapping: Mapping[str, str]) -> dict[int, str]:
    key = tuple(sorted(mapping.items()))
    table = _tables.get(key)
    if table is None:
        table = _tables[key] = {ord(k): v for k, v in mapping.items() if len(k) == 1}
    return table


_run_tables: dict[tuple[str, ...], dict[int, str]] = {}


def _runs_table(runs: tuple[str, ...]) -> dict[int, str]:
    table = _run_tables.get(runs)
    if table is None:
        table = _run_tables[runs] = {ord(a) + i: chr(ord("A") + i) for a in runs if len(a) == 1 for i in range(26)}
    return table


def unleet(text: str, rules: NormaliseRules, *, alt: bool = False) -> str:
    """Words that mix letters with leet digits/symbols, read as letters; other words unchanged. With ``alt``, the
    ambiguous symbols take their second reading (``leet_alt``)."""
    if not rules.leet:
        return text
    mapping = {**rules.leet, **rules.leet_alt} if alt else rules.leet
    table = _table(mapping)
    symbols = set(mapping)

    def one(m: re.Match[str]) -> str:
        word = m.group(0)
        if not any(c.isalpha() for c in word) or not any(c in symbols for c in word.strip(".,!?;:'\"()")):
            return word
        core = word.rstrip(".,!?;:'\")")
        return core.translate(table) + word[len(core):]

    return _WORD.sub(one, text)


def _readable(raw: bytes, rules: NormaliseRules) -> str | None:
    # code points written as 4-digit groups ("0049 0020 0068…") are UTF-16: every other byte is zero
    codec = "utf-16-be" if len(raw) % 2 == 0 and raw[::2].count(0) * 2 > len(raw) // 2 else "utf-8"
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    text = text.strip()
    if len(text) < 4:
        return None
    good = sum(1 for c in text if c.isalpha() or c.isspace())
    if good / len(text) < rules.decoded_min_letters or " " not in text:
        return None
    return text


def decoded_fragments(text: str, rules: NormaliseRules) -> list[str]:
    """Readable text hidden in base64 or hex runs of ``text`` (at most ``max_fragments``)."""
    out: list[str] = []
    for pattern, urlsafe in ((_B64, False), (_B64_URLSAFE, True)):
        for m in pattern.finditer(text):
            if len(out) >= rules.max_fragments:
                return out
            run = m.group(0)
            if len(run.rstrip("=")) < rules.decode_min_chars or (urlsafe and not re.search(r"[-_]", run)):
                continue
            try:
                raw = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(run + "=" * (-len(run) % 4))
            except (binascii.Error, ValueError):
                continue
            if (found := _readable(raw, rules)) is not None:
                out.append(found)
    for m in _HEX.finditer(text):
        if len(out) >= rules.max_fragments:
            break
        digits = re.sub(r"0x|[\s:,]", "", m.group(0))
        try:
            raw = bytes.fromhex(digits[: len(digits) // 2 * 2])
        except ValueError:
            continue
        if (found := _readable(raw, rules)) is not None:
            out.append(found)
    return out


def rot13(text: str) -> str:
    return codecs.encode(text, "rot_13")


FRAGMENTS_AT = 5  # views()[FRAGMENTS_AT:] are the decoded fragments
REVERSED_MAX_CHARS = 600  # only a short message is also read backwards ("DENWP neeb evah I")


def views(text: str, rules: NormaliseRules) -> list[str]:
    """The readings of ``text`` a detector matches, in fixed places: 0 folded (the main view); 1 with leetspeak
    read as letters; 2 rot13 of the folded text; 3 a short message read backwards ("" when longer); 4 leetspeak
    with the ambiguous symbols' second reading ("" when it reads as 1); then each decoded base64/hex fragment,
    folded. A view equal to an earlier one adds nothing to match."""
    folded = fold(text, rules)
    backwards = folded[::-1] if len(folded) <= REVERSED_MAX_CHARS else ""
    if rules.upside_down and len(folded) <= REVERSED_MAX_CHARS and (
        sum(text.count(c) for c in rules.upside_down if not c.isascii()) >= 3
    ):
        backwards = fold(text[: rules.max_chars].translate(_table(rules.upside_down))[::-1], rules)
    leet = unleet(folded, rules)
    alt = unleet(folded, rules, alt=True) if rules.leet_alt and any(c in folded for c in rules.leet_alt) else ""
    return [folded, leet, rot13(folded), backwards, "" if alt == leet else alt,
            *(fold(f, rules) for f in decoded_fragments(text[: rules.max_chars], rules))]


def learned_document(readings: list[str]) -> str:
    """What the learned layer reads: the main view plus the decoded fragments (the leet, rot13 and backwards
    readings are for the patterns only)."""
    return "\n".join([readings[0], *readings[FRAGMENTS_AT:]])
