"""The human-in-the-loop pause after a handoff: LangGraph's ``interrupt()`` with the handoff packet as its value.

While a person owns the conversation the thread waits here, so LangGraph tooling (Studio, Agent Inbox, the
SDK's ``threads.get``) sees it as *interrupted* on the packet. A person's answer is ``Command(resume=...)``:

* ``{"action": "reply", "text": "...", "agent": "ana"}`` (or just the text): a ``human_agent`` message; the
  thread waits again;
* ``{"action": "resolve" | "return", "agent"?, "note"?}``: the conversation goes back to the bot
  (:data:`BACK_TO_BOT`), which answers the next message.

A customer message meanwhile is a new run: ``ingest`` appends it and comes straight back here, silent.
The HTTP service answers through the same resume (``tactful.service.operations``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tactful.agents.context import TurnContext
from tactful.agents.guards.redact import mask
from tactful.agents.state import Message, SupportState
from tactful.errors import InputError

# What a hand-back to the bot resets: the next message gets a fresh bot reply, not an instant re-escalation.
BACK_TO_BOT: dict[str, object] = {
    "mode": "bot",
    "failures": 0,
    "restatements": 0,
    "attempts": 0,
    "clarifications": 0,
    "last_action": None,
    "handoff": None,
}

AgentName = Annotated[str, Field(max_length=200)]


class HumanAnswer(BaseModel):
    """A person's answer to the handoff pause (the ``resume`` value of a ``Command``)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    action: Literal["reply", "resolve", "return"]
    text: str | None = None  # bounded by the caller (the service: max_message_chars)
    agent: AgentName | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None

    @classmethod
    def read(cls, value: object) -> HumanAnswer:
        """A resume value: this shape as a dict, or a bare string (a reply)."""
        if isinstance(value, str):
            value = {"action": "reply", "text": value}
        try:
            answer = cls.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "resume"
            raise InputError(f"handoff answer: {where}: {err['msg']}") from exc
        if answer.action == "reply" and not (answer.text or "").strip():
            raise InputError("handoff answer: a reply needs some text")
        return answer


def answer_update(state: SupportState, answer: HumanAnswer, ctx: TurnContext) -> dict[str, object]:
    """The state change a person's answer makes; a reply's text is masked as every stored text is."""
    if answer.action != "reply":
        return dict(BACK_TO_BOT)
    text = mask(
        answer.text or "",
        emails=ctx.settings.mask_emails,
        phones=ctx.settings.mask_phones,
        phone_regions=ctx.settings.mask_phone_regions,
    )
    message: Message = {"role": "human_agent", "text": text, "turn": state.get("turn", 0), "at": ctx.now().isoformat()}
    return {"messages": [message]}


def pause_value(state: SupportState) -> dict[str, object]:
    """The interrupt's value: the handoff packet (or, for a conversation handed over before packets, its id)."""
    packet = state.get("handoff")
    if packet:
        return dict(packet)
    return {"conversation_id": state.get("conversation_id", ""), "reason": "handed_off"}


async def human_node(state: SupportState, runtime: Runtime[TurnContext]) -> dict[str, object]:
    """Wait for a person: pause on the packet, then apply their answer."""
    resumed = interrupt(pause_value(state))
    return answer_update(state, HumanAnswer.read(resumed), runtime.context)


def after_human(state: SupportState) -> str:
    return "human" if state.get("mode") == "human" else END
