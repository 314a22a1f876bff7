"""Reply templates from ``prompts/replies.yaml`` and the offline drafting that assembles them.

A reply acknowledges the person's situation first (from their intent and recent events), then acts (answer,
question, options or handoff notice), then offers control: a path to a person and a way to correct a wrong guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tactful.agents.engine.seam import ReplyRequest, Tone
from tactful.agents.guards.grounding import sentences
from tactful.config import load_yaml_model


class Variants(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)
    standard: str
    brief: str
    steady: str | None = None

    def pick(self, tone: Tone) -> str:
        if tone == "steady":
            return self.steady or self.standard
        return self.brief if tone == "brief" else self.standard


class Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)
    ack: str
    standard: str
    brief: str


class ReplyTemplates(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)
    version: int = 1
    acknowledge_events: dict[str, str]
    acknowledge_repeat: Variants
    answers: dict[str, Answer]
    clarify: Variants
    clarify_options_other: str
    assist_intro: Variants
    out_of_scope: Variants
    out_of_scope_again: Variants | None = None
    """Said instead of ``out_of_scope`` when the bot's previous reply was already that answer: no canned repeat."""
    handoff: Variants
    handoff_safety: str
    block: Variants
    unavailable: Variants
    """Said when a turn could not be finished at all (the offline engine failed too): never nothing."""
    footer_human: Variants
    footer_correct: Variants
    option_human: str
    closing: Variants
    """The person says it worked or thanks us: close out instead of answering again."""
    acknowledged: Variants
    """A bare "ok": confirm and stay available."""
    noted_reference: str
    """A follow-up that carries a reference (order number, invoice id): say it was taken. Placeholder {ref}."""
    follow_up_nudge: Variants
    """A follow-up after the options were already listed: don't list them again."""
    queue_names: dict[str, str]


@lru_cache(maxsize=8)
def load_templates(prompts_dir: Path) -> ReplyTemplates:
    return load_yaml_model(prompts_dir / "replies.yaml", ReplyTemplates)


def queue_label(templates: ReplyTemplates, queue: str | None) -> str:
    return templates.queue_names.get(queue or "general", (queue or "support").replace("_", " "))


def _wait_text(minutes: int | None) -> str:
    if minutes is None:
        minutes = 10
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(minutes / 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def acknowledgement(templates: ReplyTemplates, request: ReplyRequest) -> str:
    """Plain-words recognition of what the person is trying to do and what stands in the way."""
    parts: list[str] = []
    seen: set[str] = set()
    for event in reversed(list(request.events)[-5:]):
        text = templates.acknowledge_events.get(event["type"])
        if text and event["type"] not in seen:
            parts.append(text)
            seen.add(event["type"])
            break
    intent = request.intent
    if not parts and intent and not intent["out_of_scope"] and intent["label"] in templates.answers:
        parts.append(templates.answers[intent["label"]].ack)
    markers = set(request.sentiment["markers"]) if request.sentiment else set()
    answered = any(m["role"] == "bot" for m in request.messages[:-1])
    if answered and markers & {"restated", "again", "nth_time", "bot_negative"}:
        parts.append(templates.acknowledge_repeat.pick(request.tone))
    return " ".join(parts)


_REFERENCE = re.compile(r"(?:#\s?\d{3,}|\b[A-Za-z]{2,4}-\d{3,}\b|\b\d{4,}\b)")


@dataclass(frozen=True)
class ReplyParts:
    """A reply in its four parts. ``head`` (acknowledgement), ``options`` and ``footer`` (the path to a person, the
    correction offer) are the deterministic skeleton; ``body`` is the answer, the one part a model may rewrite."""

    head: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()

    def lines(self) -> tuple[str, ...]:
        return (*self.head, *self.body, *self.options, *self.footer)

    def text(self) -> str:
        return "\n".join(self.lines())


def _option_lines(templates: ReplyTemplates, request: ReplyRequest) -> tuple[str, ...]:
    intro = templates.assist_intro.pick(request.tone)
    return (intro, *(f"{i}. {opt}" for i, opt in enumerate(request.options, start=1)))


def _follow_up(templates: ReplyTemplates, request: ReplyRequest) -> ReplyParts:
    """A follow-up on an issue the bot already answered: take any reference given, then offer the next steps —
    or, when they were listed already, say what happens next instead of listing them twice."""
    tone = request.tone
    said = request.messages[-1]["text"] if request.messages else ""
    ref = _REFERENCE.search(said)
    head = (templates.noted_reference.format(ref=ref.group(0)),) if ref else ()
    previous = next((m["text"] for m in reversed(request.messages[:-1]) if m["role"] == "bot"), "")
    if request.options and templates.assist_intro.pick(tone) not in previous:
        return ReplyParts(head=head, options=_option_lines(templates, request))
    return ReplyParts(head=head, body=(templates.follow_up_nudge.pick(tone),))


def reply_parts(templates: ReplyTemplates, request: ReplyRequest) -> ReplyParts:
    """The reply for ``request`` from templates only (deterministic), in its parts."""
    tone = request.tone
    intent = request.intent
    label = intent["label"] if intent else None
    answer = templates.answers.get(label) if label else None

    if request.action == "block":  # the attack is neither repeated nor followed; a low-risk request with it is answered
        if answer and intent and not intent["out_of_scope"]:
            steps = answer.brief if tone == "brief" else answer.standard
            return ReplyParts(body=(templates.block.pick("steady"), steps))
        return ReplyParts(body=(templates.block.pick(tone),))

    if request.action == "handoff":
        text = templates.handoff.pick(tone).format(
            queue_name=queue_label(templates, request.queue), wait=_wait_text(request.wait_minutes)
        )
        if request.decision and request.decision["reason"].endswith("safety"):
            return ReplyParts(body=(f"{templates.handoff_safety} {text}",))
        ack = acknowledgement(templates, request)
        return ReplyParts(body=(f"{ack} {text}".strip(),))

    if request.action == "clarify":
        first = request.options[0] if request.options else "your account"
        second = request.options[1] if len(request.options) > 1 else "something else"
        return ReplyParts(body=(templates.clarify.pick(tone).format(first=first, second=second),))

    reason = request.decision["reason"] if request.decision else ""
    if reason == "resolved":
        return ReplyParts(body=(templates.closing.pick(tone),))
    if reason == "acknowledged":
        return ReplyParts(body=(templates.acknowledged.pick(tone),))
    parts = ReplyParts()
    if reason == "follow_up":
        parts = _follow_up(templates, request)
    elif intent and intent["out_of_scope"]:
        said = templates.out_of_scope.pick(tone)
        last_bot = next((m["text"] for m in reversed(request.messages[:-1]) if m["role"] == "bot"), "")
        if templates.out_of_scope_again and said in last_bot:
            said = templates.out_of_scope_again.pick(tone)
        parts = ReplyParts(body=(said,))
    else:
        ack = acknowledgement(templates, request)
        head = (ack,) if ack else ()
        if request.action == "respond" and answer:
            parts = ReplyParts(head=head, body=(answer.brief if tone == "brief" else answer.standard,))
        elif request.action == "assist":
            already = answer is not None and _already_sent(answer.standard, request)
            body = (answer.standard,) if answer and tone != "brief" and not already else ()
            parts = ReplyParts(head=head, body=body, options=_option_lines(templates, request))
        else:
            parts = ReplyParts(head=head)
    footer: list[str] = []
    if reason != "follow_up" or parts.lines()[-1:] != (templates.follow_up_nudge.pick(tone),):
        footer.append(templates.footer_human.pick(tone))
    if not (intent and intent["out_of_scope"]):
        footer.append(templates.footer_correct.pick(tone))
    return ReplyParts(head=parts.head, body=parts.body, options=parts.options, footer=tuple(footer))


def _already_sent(answer: str, request: ReplyRequest) -> bool:
    """Whether a bot reply earlier in the window carried any sentence of ``answer``: a model-written reply holds
    the template's steps in its own order and spacing, not as one verbatim block, and after "that didn't work" no
    step of it is sent again."""
    sent = {" ".join(s.split()) for m in request.messages if m["role"] == "bot" for s in sentences(m["text"])}
    return any(" ".join(s.split()) in sent for s in sentences(answer))


def render_offline(templates: ReplyTemplates, request: ReplyRequest) -> str:
    """The whole reply text for ``request`` from templates only (deterministic)."""
    return reply_parts(templates, request).text()
