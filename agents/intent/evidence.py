"""Does a message give any evidence for the intent the offline classifier put it in?

The offline classifier reads character n-grams and function words as well as content words, so a message that
shares nothing but "what is the …" or "no, not …" with an intent's examples can still land in it at 0.5–0.98
("what is the address?" in a billing question, "no, not now" in a technical issue). Such a placement is a guess,
not an issue the bot engaged: the node caps its confidence (``out_of_scope.evidence`` in
``policies/taxonomy.yaml``), so an opening message is answered as out of scope and a later one is not an issue
whose corrections count as failed answers. Evidence is a content word — not a function word, not a filler such as
"yes", "fine", "perfect" — shared, after a light suffix strip, with the intent's examples, clarify phrase or
description.
"""

from __future__ import annotations

import re

from tactful.agents.engine.seam import IntentResult
from tactful.agents.policy.files import IntentSpec, Taxonomy

_WORD = re.compile(r"[a-z][a-z0-9']*")
_SUFFIXES = ("ing", "ies", "ied", "ed", "es", "s", "ly")
STEM_LENGTH = 6  # "charges", "charged", "charging" -> "charg"; long words compared on their first letters


def stem(word: str) -> str:
    word = word.replace("'", "")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:STEM_LENGTH]


def content_stems(text: str, ignore: frozenset[str]) -> set[str]:
    """The stems of a text's content words: at least three letters, not in ``ignore`` (function words, fillers)."""
    return {stem(w) for w in _WORD.findall(text.lower()) if len(w) >= 3 and w.replace("'", "") not in ignore}


_CACHE: dict[int, tuple[Taxonomy, dict[str, frozenset[str]]]] = {}
_CACHE_SIZE = 8


def _vocabularies(taxonomy: Taxonomy) -> dict[str, frozenset[str]]:
    """Each intent's content stems, computed once per loaded taxonomy (kept alive with it, a few at most)."""
    hit = _CACHE.get(id(taxonomy))
    if hit is not None and hit[0] is taxonomy:
        return hit[1]
    ignore = taxonomy.out_of_scope.evidence.ignore_words
    vocabularies = {spec.name: frozenset(_spec_stems(spec, ignore)) for spec in taxonomy.intents}
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(taxonomy)] = (taxonomy, vocabularies)
    return vocabularies


def _spec_stems(spec: IntentSpec, ignore: frozenset[str]) -> set[str]:
    found: set[str] = set()
    for text in (*spec.examples, spec.clarify, spec.description, spec.name.replace("_", " ")):
        found |= content_stems(text, ignore)
    return found


def has_evidence(taxonomy: Taxonomy, label: str, text: str) -> bool:
    """True when ``text`` shares a content word with ``label``'s own texts (or the label is not in the taxonomy)."""
    vocabulary = _vocabularies(taxonomy).get(label)
    if vocabulary is None:
        return True
    return bool(content_stems(text, taxonomy.out_of_scope.evidence.ignore_words) & vocabulary)


def weigh_evidence(taxonomy: Taxonomy, result: IntentResult, text: str) -> IntentResult:
    """A placement whose message shares no content word with its intent is a guess: its confidence is capped
    (``out_of_scope.evidence.cap``) and its runner-up dropped — a choice between two guesses is no question worth
    asking. Out-of-scope answers and placements at or below the cap pass unchanged."""
    cap = taxonomy.out_of_scope.evidence.cap
    if cap <= 0.0 or result.out_of_scope or result.confidence <= cap or has_evidence(taxonomy, result.label, text):
        return result
    return result.model_copy(update={"confidence": cap, "runner_up": None, "runner_up_confidence": 0.0})
