"""Deterministic guards. Each returns a :class:`GuardVerdict` with a reason code; none asks a model.

Input guards look at the user's message before anything is generated; decision guards look at the conversation's
history (repeated failure, restatements, trend × value); output guards look at a draft — whole, or as it streams.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from functools import cached_property, lru_cache

from tactful.agents.content import own_words
from tactful.agents.guards.grounding import Grounding, Source
from tactful.agents.guards.injection import InjectionDetector, load_detector
from tactful.agents.guards.leak import LeakCheck
from tactful.agents.guards.prefilter import AnyOf
from tactful.agents.guards.redact import find_sensitive
from tactful.agents.policy.files import PolicyBundle
from tactful.agents.state import Event, GuardVerdict, SentimentState

SENSITIVE_REASON = "sensitive_topic"


def verdict(
    guard: str, stage: str, *, reason: str = "", effect: str = "none", detail: str = "", turn: int = 0
) -> GuardVerdict:
    return {
        "guard": guard,
        "stage": stage,  # type: ignore[typeddict-item]
        "tripped": effect != "none",
        "reason": reason,
        "effect": effect,  # type: ignore[typeddict-item]
        "detail": detail,
        "turn": turn,
    }


def _shingles(text: str, size: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


@dataclass
class Guards:
    bundle: PolicyBundle
    system_texts: Sequence[str] = ()
    mask_emails: bool = False
    mask_phones: bool = False
    grounding: Grounding | None = None  # checks model-written sentences against the approved content
    leak_texts: Sequence[str] = ()  # prompt texts a draft must not quote (agents/guards/leak.py)
    leak_allowed: Sequence[str] = ()  # texts a draft may repeat (the reply templates)

    @cached_property
    def detector(self) -> InjectionDetector:
        """The layered injection detector (policies/injection.yaml); guards.yaml's own list joins its patterns."""
        return load_detector(self.bundle.directory, extra_patterns=list(self.bundle.guards.patterns.injection))

    @cached_property
    def leak(self) -> LeakCheck:
        b = self.bundle
        labels = [*(i.name for i in b.taxonomy.intents), *(i.queue for i in b.taxonomy.intents),
                  *b.policy.triggers, *(r.id for r in b.policy.rules), *(r.reason for r in b.policy.rules),
                  *self.detector.policy.patterns, *self.detector.policy.indirect]
        # the policy's own words count as system text too: a draft must not read out how intents are defined
        policy_texts = [i.description for i in b.taxonomy.intents]
        return LeakCheck.build([*self.leak_texts, *policy_texts], labels, allowed=self.leak_allowed)

    @cached_property
    def _re(self) -> dict[str, AnyOf[int]]:
        p = self.bundle.guards.patterns
        return {
            name: AnyOf(enumerate(re.compile(x, re.IGNORECASE) for x in getattr(p, name)),
                        prefilter=name == "unauthorized_promise")  # where one joined search is faster (prefilter.py)
            for name in ("human_request", "unauthorized_promise", "legal_statement", "secret")
        }

    @cached_property
    def _bot_identity(self) -> list[re.Pattern[str]]:
        return [re.compile(x, re.IGNORECASE) for x in self.bundle.guards.patterns.bot_identity]

    @cached_property
    def _system_shingles(self) -> list[set[tuple[str, ...]]]:
        return [s for s in (_shingles(t) for t in self.system_texts) if s]

    @staticmethod
    def _first(patterns: Iterable[re.Pattern[str]] | AnyOf[int], text: str) -> str | None:
        if isinstance(patterns, AnyOf):
            hit = patterns.first(text)
            return hit[1].group(0) if hit else None
        for pattern in patterns:
            m = pattern.search(text)
            if m:
                return m.group(0)
        return None

    # ------------------------------------------------------------------ input

    def human_request(self, text: str, *, turn: int) -> GuardVerdict:
        # "are you a real person?" asks about the bot; only what is left of the message can ask for a person
        for pattern in self._bot_identity:
            text = pattern.sub(" ", text)
        hit = self._first(self._re["human_request"], text)
        if hit:
            return verdict("human_request", "input", reason="human_requested", effect="handoff", detail=hit, turn=turn)
        return verdict("human_request", "input", turn=turn)

    def sensitive_topic(self, text: str, *, turn: int) -> GuardVerdict:
        for name, trig in self.bundle.policy.triggers.items():
            if not trig.sensitive:
                continue
            hit = self._first(self.bundle.compiled_triggers[name], text)
            if hit:
                return verdict(
                    "sensitive_topic", "input", reason=f"{SENSITIVE_REASON}:{name}", effect="handoff",
                    detail=hit, turn=turn,
                )
        return verdict("sensitive_topic", "input", turn=turn)

    def injection(self, text: str, *, turn: int, attempts_before: int) -> GuardVerdict:
        """An attempt to change the bot's rules or read its instructions, in the customer's words or in content
        they pasted. The first attempt is blocked; the ``injection_attempts``-th hands off. ``detail`` names the
        layer, class and part that fired (``pattern/override@own: …``, ``learned/classifier@pasted: p=0.97``)."""
        hit = self.detector.detect(text)
        if hit is None:
            return verdict("injection", "input", turn=turn)
        limit = self.bundle.policy.thresholds.injection_attempts
        effect = "handoff" if attempts_before + 1 >= limit else "block"
        return verdict("injection", "input", reason="prompt_injection", effect=effect, detail=hit.detail, turn=turn)

    def turn_budget(self, *, turn: int) -> GuardVerdict:
        budget = self.bundle.policy.thresholds.turn_budget
        if turn > budget:
            return verdict("turn_budget", "input", reason="turn_budget", effect="handoff",
                           detail=f"turn {turn} > budget {budget}", turn=turn)
        return verdict("turn_budget", "input", turn=turn)

    def input_checks(self, text: str, *, turn: int, injection_attempts: int) -> list[GuardVerdict]:
        # A sensitive topic or a request for a person is the customer's own: a pasted e-mail's "if you did not
        # authorise this payment, contact us" is data (agents/content.py); injection checks read everything.
        own = own_words(text) or text
        return [
            self.sensitive_topic(own, turn=turn),
            self.human_request(own, turn=turn),
            self.injection(text, turn=turn, attempts_before=injection_attempts),
            self.turn_budget(turn=turn),
        ]

    # ------------------------------------------------------------------ decision

    def decision_checks(
        self,
        *,
        turn: int,
        failures: int,
        restatements: int,
        sentiment: SentimentState | None,
        account_value: float | None,
    ) -> list[GuardVerdict]:
        t = self.bundle.policy.thresholds
        out: list[GuardVerdict] = []
        if failures >= t.repeated_failures:
            out.append(verdict("repeated_failure", "decision", reason="repeated_failure", effect="handoff",
                               detail=f"{failures} failed answers", turn=turn))
        elif restatements >= t.restatements:
            out.append(verdict("restated_issue", "decision", reason="restated_issue", effect="handoff",
                               detail=f"restated {restatements} times", turn=turn))
        if (
            sentiment is not None
            and account_value is not None
            and account_value >= t.high_value
            and sentiment["trend"] == "rising"
            and sentiment["frustration"] >= t.trend_value_frustration
        ):
            out.append(verdict("trend_value", "decision", reason="trend_value", effect="handoff",
                               detail=f"value {account_value:.0f}, frustration {sentiment['frustration']:.2f} rising",
                               turn=turn))
        if not out:
            out.append(verdict("decision", "decision", turn=turn))
        return out

    # ------------------------------------------------------------------ output

    def output_check(
        self, draft: str, *, turn: int, stage: str = "output", seen: list[set[tuple[str, ...]]] | None = None
    ) -> GuardVerdict:
        """The whole ``draft`` checked. ``seen`` (one set per system text, from :class:`OutputScan`) carries the
        system-text shingles found in the earlier parts of a draft checked piece by piece; it is updated."""
        leaked, draft_sh, found = self._draft_checks(draft)
        if leaked:
            return verdict("output", stage, reason="system_text_leak", effect="handoff", detail=leaked, turn=turn)
        if self._system_shingles:
            for i, sys_sh in enumerate(self._system_shingles):
                common: Set[tuple[str, ...]] = draft_sh & sys_sh
                if seen is not None:
                    seen[i] |= common
                    common = seen[i]
                overlap = len(common) / max(1, min(len(sys_sh), 20))
                if (draft_sh or common) and overlap >= self.bundle.guards.system_text_overlap:
                    return verdict("output", stage, reason="system_text_leak", effect="handoff",
                                   detail=f"overlap {overlap:.2f}", turn=turn)
        if found:
            return verdict("output", stage, reason=found[0], effect="handoff", detail=found[1], turn=turn)
        return verdict("output", stage, turn=turn)

    @cached_property
    def _draft_checks(self) -> Callable[[str], tuple[str | None, frozenset[tuple[str, ...]], tuple[str, str] | None]]:
        """What :meth:`output_check` reads off a draft's text alone — the prompt-text leak, the draft's shingles,
        the first of promise / legal statement / PII — remembered for the last :data:`DRAFT_MEMO` texts: the
        responder checks every sentence with the tail before it, and the approved sentences recur across turns
        and conversations. A pure function of the text and this tenant's guards, so the same verdicts."""

        def checks(draft: str) -> tuple[str | None, frozenset[tuple[str, ...]], tuple[str, str] | None]:
            leaked = self.leak.find(draft)
            shingles = frozenset(_shingles(draft)) if self._system_shingles and not leaked else frozenset()
            return leaked, shingles, None if leaked else self._draft_finding(draft)

        return lru_cache(maxsize=DRAFT_MEMO)(checks)

    def _draft_finding(self, draft: str) -> tuple[str, str] | None:
        hit = self._first(self._re["unauthorized_promise"], draft)
        if hit:
            return "unauthorized_promise", hit
        hit = self._first(self._re["legal_statement"], draft)
        if hit:
            return "legal_statement", hit
        hit = self._first(self._re["secret"], draft)
        found = find_sensitive(draft, emails=self.mask_emails, phones=self.mask_phones)
        if hit or found:
            return "pii_leak", ",".join(sorted({f.kind for f in found})) or "secret"
        return None

    @cached_property
    def _passed_whole(self) -> OrderedDict[str, None]:
        return OrderedDict()

    def note_passed(self, draft: str) -> None:
        """``draft``, whole, passed a stream check (:class:`OutputScan`): the output guard node need not check it
        again (:meth:`passed`). Kept for the few turns in flight; a process that did not see it checks again."""
        memo = self._passed_whole
        memo[draft] = None
        while len(memo) > PASSED_MEMO:
            memo.popitem(last=False)

    def passed(self, draft: str) -> bool:
        """Whether ``draft`` passed a stream check whole (and forget it): then :meth:`output_check` passes it too
        — the same checks on the same text, and the stream's shingle overlap counted what earlier pieces added,
        never less than the whole draft's own."""
        return self._passed_whole.pop(draft, False) is None

    def output_scan(self, *, turn: int, stage: str = "stream") -> OutputScan:
        """An incremental output check of a draft that is released piece by piece."""
        return OutputScan(self, turn=turn, stage=stage)

    def grounded(self, sentence: str, *, source: Source, turn: int) -> GuardVerdict:
        """A model-written sentence against the approved content; tripped means: fall back to the template."""
        finding = self.grounding.check(sentence, source) if self.grounding else None
        if finding is None:
            return verdict("grounding", "stream", turn=turn)
        return verdict("grounding", "stream", reason=finding.cause, effect="fallback", detail=finding.detail,
                       turn=turn)


DRAFT_MEMO = 2_048
"""Draft texts whose text-only output checks one :class:`Guards` remembers (each at most a window of
:data:`SCAN_TAIL_CHARS` plus a sentence when streamed)."""
SCAN_TAIL_CHARS = 400
"""How much of the draft already released each stream check reads again with a new piece: enough for a pattern,
a quoted prompt run or a system-text shingle (8 words) that spans the boundary between two pieces."""
PASSED_MEMO = 256
"""Drafts that passed a stream check whole, remembered for the output guard node (:meth:`Guards.passed`): far more
than the turns one worker has in flight."""


class OutputScan:
    """The output guard over a draft released piece by piece (the responder's stream): each :meth:`add` checks
    the new piece with the tail of what passed before, not the whole draft again — the work per turn grows with
    the draft, not with its square. The output guard node still checks the whole draft once, after the stream."""

    def __init__(self, guards: Guards, *, turn: int, stage: str) -> None:
        self.guards, self.turn, self.stage = guards, turn, stage
        self.text = ""
        self._seen: list[set[tuple[str, ...]]] = [set() for _ in guards._system_shingles]

    def add(self, piece: str) -> GuardVerdict:
        """The verdict on ``piece`` following what passed; a piece that passes becomes part of the draft."""
        whole = len(self.text) <= SCAN_TAIL_CHARS  # the window is the whole draft so far
        window = self.text[-SCAN_TAIL_CHARS:] + piece
        v = self.guards.output_check(window, turn=self.turn, stage=self.stage, seen=self._seen)
        if not v["tripped"]:
            self.text += piece
            if whole:
                self.guards.note_passed(self.text)
        return v


# ---------------------------------------------------------------------- triggers


def fired_triggers(
    bundle: PolicyBundle,
    names: Iterable[str],
    *,
    text: str,
    events: Sequence[Event],
    frustration: float,
    failures: int,
) -> list[str]:
    """Which of the named escalation triggers hold now (any condition of a trigger is enough)."""
    counts = Counter(e["type"] for e in events)
    fired: list[str] = []
    for name in names:
        trig = bundle.policy.triggers[name]
        hit = any(p.search(text) for p in bundle.compiled_triggers[name])
        hit = hit or any(counts.get(kind, 0) >= n for kind, n in trig.events.items())
        hit = hit or (trig.frustration_at_least is not None and frustration >= trig.frustration_at_least)
        hit = hit or (trig.failures_at_least is not None and failures >= trig.failures_at_least)
        if hit:
            fired.append(name)
    return fired
