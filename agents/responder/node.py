"""Tone-adaptive responder: picks a tone from the person's state, drafts through the engine, and streams the
draft sentence by sentence — each piece is shown to the output guard before it may leave, so a guard can stop
the stream and nothing it would block reaches the client.

A model never writes the whole reply: the acknowledgement, the options, the path to a person and the correction
offer come from the templates, and each sentence of the model's answer must pass the grounding guard
(:mod:`tactful.agents.guards.grounding`); the first that does not ends the model's part and the template's answer
fills in what it left out. So a small model can only make a reply better or fall back to the offline one."""

from __future__ import annotations

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from tactful.agents.context import TurnContext
from tactful.agents.engine.seam import ReplyRequest, Tone
from tactful.agents.engine.sentences import SENTENCE_END
from tactful.agents.engine.tokens import HISTORY_WINDOW, fold_history
from tactful.agents.guards.grounding import Source, sentences
from tactful.agents.responder.chat_run import ReplyRun
from tactful.agents.responder.templates import ReplyParts, reply_parts
from tactful.agents.state import DecisionState, GuardVerdict, SentimentLabel, SentimentState, SupportState

_EARLIER_REPLIES = 2
"""How many of the bot's replies before the previous one a short model sentence must not copy word for word."""

STEADY_LABELS: frozenset[SentimentLabel] = frozenset({"frustrated", "distressed", "negative"})


def choose_tone(sentiment: SentimentState | None, *, channel: str | None, device: str | None) -> Tone:
    if sentiment and sentiment["label"] in STEADY_LABELS:
        return "steady"
    if (sentiment and sentiment["hurried"]) or channel in {"mobile", "sms"} or device == "mobile":
        return "brief"
    return "standard"


def _halted(v: GuardVerdict, *, before: GuardVerdict | None = None) -> dict[str, object]:
    decision: DecisionState = {
        "action": "escalate",
        "rule": "guard:stream",
        "reason": v["reason"],
        "factors": [{"name": "stream", "value": v["detail"], "effect": "handoff (stream guard)"}],
        "options": [],
    }
    verdicts = [before, v] if before else [v]
    return {"guards": verdicts, "guard_log": verdicts, "halted": True, "draft": "", "decision": decision}


class _Release:
    """Text on its way to the client: each piece is released only after the output guard saw all of it."""

    def __init__(self, ctx: TurnContext, *, turn: int) -> None:
        self.ctx, self.turn = ctx, turn
        self.write = get_stream_writer()
        self.text = ""
        self.released: list[str] = []  # pieces not yet reported to the reply run (messages stream mode)
        self.scan = ctx.guards.output_scan(turn=turn, stage="stream")

    def add(self, piece: str) -> GuardVerdict | None:
        """Release ``piece``; the guard's verdict instead when it trips on it (then nothing is released)."""
        if not piece:
            return None
        v = self.scan.add(piece)
        if v["tripped"]:
            self.write({"type": "guard", "verdict": v})
            return v
        self.write({"type": "token", "text": piece})
        self.text += piece
        self.released.append(piece)
        return None

    async def report(self, run: ReplyRun) -> None:
        """Hand the pieces released since the last call to ``run`` (LangGraph's ``messages`` stream)."""
        pieces, self.released = self.released, []
        for piece in pieces:
            await run.piece(piece)

    def sentences(self, text: str) -> GuardVerdict | None:
        """Release ``text`` complete sentence by complete sentence, then its tail."""
        sent = 0
        for m in SENTENCE_END.finditer(text):
            if v := self.add(text[sent : m.end()]):
                return v
            sent = m.end()
        return self.add(text[sent:])


class _ModelBody:
    """A model's draft turned into a reply that is never worse than the template: the skeleton (acknowledgement,
    options, path to a person, correction offer) comes from the template; the model's sentences go out one by one
    while the grounding guard accepts them; the first it rejects ends the model's part (recorded as a fallback),
    and every template sentence the model did not cover follows, so no approved step goes missing."""

    def __init__(self, ctx: TurnContext, request: ReplyRequest, parts: ReplyParts, out: _Release) -> None:
        self.ctx, self.parts, self.out = ctx, parts, out
        said = [m["text"] for m in request.messages if m["role"] == "user"]
        replies = [m["text"] for m in reversed(request.messages) if m["role"] == "bot"][: 1 + _EARLIER_REPLIES]
        self.source = Source(
            approved=parts.text(), said=said, previous=replies[0] if replies else "", earlier=replies[1:]
        )
        self.skeleton = [*parts.head, *parts.options, *parts.footer]
        self.said: list[str] = []  # the model's released sentences
        self.fallback: GuardVerdict | None = None
        self.cut = 0  # how much of the model's text has been taken in
        self.started = False

    def start(self) -> GuardVerdict | None:
        """Release the acknowledgement (once): it goes out before the model's first word."""
        if self.started:
            return None
        self.started = True
        return self.out.add("\n".join(self.parts.head))

    def feed(self, text: str, *, final: bool) -> GuardVerdict | None:
        """Take in the model's text so far (complete sentences; everything when ``final``)."""
        ends = [m.end() for m in SENTENCE_END.finditer(text, self.cut)]
        if final:
            ends.append(len(text))
        for end in ends:
            if self.fallback is not None:
                break
            sentence, self.cut = " ".join(text[self.cut : end].split()), end
            if v := self._sentence(sentence):
                return v
        return None

    def _sentence(self, sentence: str) -> GuardVerdict | None:
        grounding = self.ctx.guards.grounding
        if not sentence or (grounding and any(grounding.restates(sentence, line) for line in self.skeleton)):
            return None  # the skeleton line written again: the responder adds it itself
        v = self.ctx.guards.grounded(sentence, source=self.source, turn=self.out.turn)
        if v["tripped"]:
            self.fallback = v
            return None
        self.said.append(sentence)
        glue = "" if not self.out.text else "\n" if len(self.said) == 1 else " "
        return self.out.add(glue + sentence)

    def finish(self) -> GuardVerdict | None:
        """The template's sentences the model left out, then the options and the footer."""
        grounding = self.ctx.guards.grounding
        if not self.said:
            rest = "\n".join(self.parts.body)
        else:
            told = " ".join(self.said)
            template = [s for line in self.parts.body for s in sentences(line)]
            rest = " ".join(s for s in template if grounding is None or not grounding.covered(s, by=told))
            rest = " " + rest if rest else ""
        tail = "\n".join((*self.parts.options, *self.parts.footer))
        if v := self.out.sentences(("\n" if self.out.text and not self.said and rest else "") + rest):
            return v
        # the separator is chosen after the body went out: with no head and no model sentence, the body is the
        # first text of the reply and the footer still needs its own line
        return self.out.sentences(("\n" if self.out.text else "") + tail) if tail else None


async def responder_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    ctx = runtime.context
    decision = state.get("decision")
    intent = state.get("intent")
    context = state.get("context", {})
    turn = state.get("turn", 1)
    blocked = bool(decision and decision["rule"] == "guard:injection")
    action = "block" if blocked else (decision["action"] if decision else "respond")
    messages = state.get("messages", [])
    summary = fold_history(messages, tried=state.get("tried", []), settings=ctx.settings)
    request = ReplyRequest(
        turn_key=f"{state.get('conversation_id', '')}:{turn}",
        action=action,  # type: ignore[arg-type]
        tone=choose_tone(state.get("sentiment"), channel=context.get("channel"), device=context.get("device")),
        intent=intent,
        sentiment=state.get("sentiment"),
        decision=decision,
        context=context,
        messages=messages[-HISTORY_WINDOW:],
        summary=summary,
        events=state.get("events", [])[-5:],
        options=decision["options"] if decision else [],
    )
    update: dict[str, object] = {"summary": summary} if summary != state.get("summary", "") else {}
    parts = reply_parts(ctx.templates, request)
    template = ctx.offline.render(request)  # what the engine streams when it answers offline
    out = _Release(ctx, turn=turn)
    reply = await ReplyRun.start(name="reply", engine=ctx.engine.name, transcript=request.messages)
    text = ""
    model: _ModelBody | None = None  # None while the draft may still be the template itself
    halt: GuardVerdict | None = None
    stream = ctx.engine.draft(request)
    try:
        async for chunk in stream:
            if chunk.usage:
                update["usage"] = chunk.usage
            if chunk.degraded:
                update["degraded"] = True
            text += chunk.text
            if model is None and template.startswith(text):
                continue
            if model is None:
                model = _ModelBody(ctx, request, parts, out)
                halt = model.start()
            halt = halt or model.feed(text, final=False)
            await out.report(reply)
            if halt or model.fallback:
                break  # stop the model: what it would say next is not needed
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    if halt is None and model is None and text == template:
        halt = out.sentences(text)  # the offline reply (or the model engine's fallback to it)
    elif halt is None:
        model = model or _ModelBody(ctx, request, parts, out)
        halt = model.start() or model.feed(text, final=True) or model.finish()
    # no second whole-draft check here: the output guard node, next, checks the whole draft once
    await out.report(reply)
    await reply.end()
    if model is not None and model.fallback is not None:
        update["guards"] = [model.fallback]
        update["guard_log"] = [model.fallback]
    if halt is not None:
        return {**update, **_halted(halt, before=model.fallback if model else None)}
    label = intent["label"] if intent else None
    return {**update, "draft": out.text, "tried": [ctx.notes.action(decision, label, turn)]}


def after_responder(state: SupportState) -> str:
    return "handoff" if state.get("halted") else "output_guard"
