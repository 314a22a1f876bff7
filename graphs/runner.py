"""Run one support turn against a compiled graph and shape the result (the HTTP/CLI turn contract)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from langgraph.types import RunnableConfig
from pydantic import BaseModel, ConfigDict

from tactful.agents.archive import History, history
from tactful.agents.context import TurnContext
from tactful.agents.state import (
    AccountContext,
    DecisionState,
    Event,
    GuardVerdict,
    HandoffPacket,
    IntentState,
    Message,
    SentimentState,
    SupportState,
    Usage,
    zero_usage,
)
from tactful.graphs.support import SupportGraph, SupportInput

log = logging.getLogger("tactful.runner")

TurnAction = Literal["respond", "clarify", "assist", "escalate", "none"]


class TurnResult(BaseModel):
    """What one user message produced. ``action`` is ``none`` when a person owns the conversation."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    conversation_id: str
    turn: int
    mode: Literal["bot", "human"]
    action: TurnAction
    reply: str | None
    options: list[str]
    intent: IntentState | None
    sentiment: SentimentState | None
    decision: DecisionState | None
    guards: list[GuardVerdict]
    handoff: HandoffPacket | None
    degraded: bool
    usage: Usage


class StreamEvent(BaseModel):
    """One server-sent event of a streamed turn: ``token``, ``guard``, ``handoff`` or the final ``result``."""

    type: Literal["token", "guard", "handoff", "result"]
    data: dict[str, Any]


def thread_id(tenant: str, conversation_id: str) -> str:
    return f"{tenant}:{conversation_id}"


def result_from_state(conversation_id: str, values: SupportState, *, silent: bool) -> TurnResult:
    mode = values.get("mode", "bot")
    decision = values.get("decision")
    handoff_now = values.get("last_action") == "escalate" and not silent
    action: TurnAction = "none" if silent else (decision["action"] if decision else "respond")
    if handoff_now:
        action = "escalate"
    return TurnResult(
        conversation_id=conversation_id,
        turn=values.get("turn", 0),
        mode=mode,
        action=action,
        reply=None if silent else values.get("reply") or None,
        options=[] if silent or not decision else list(decision["options"]),
        intent=values.get("intent"),
        sentiment=values.get("sentiment"),
        decision=None if silent else decision,
        guards=[] if silent else list(values.get("guards", [])),
        handoff=values.get("handoff") if mode == "human" else None,
        degraded=bool(values.get("degraded", False)),
        usage=values.get("usage") or zero_usage(),
    )


def silent_turn(values: SupportState) -> bool:
    """The turn left no bot message because a person owns the conversation: it ends in ``human`` mode on the
    customer's own message (a handoff ends on its notice)."""
    messages = values.get("messages", [])
    return values.get("mode") == "human" and bool(messages) and messages[-1]["role"] == "user"


class SupportRunner:
    """Drives the support graph for any number of conversations and tenants."""

    def __init__(
        self,
        graph: SupportGraph,
        context_for: Callable[[str], TurnContext],
    ) -> None:
        self.graph = graph
        self.context_for = context_for

    def _config(self, tenant: str, conversation_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id(tenant, conversation_id)}}

    def _input(
        self,
        ctx: TurnContext,
        conversation_id: str,
        text: str,
        events: Sequence[Event],
        context: AccountContext | None,
        message_id: str | None,
    ) -> SupportInput:
        message: Message = {"role": "user", "text": text, "turn": 0, "at": ctx.now().isoformat()}
        if message_id:
            message["message_id"] = message_id
        payload: SupportInput = {
            "conversation_id": conversation_id,
            "messages": [message],
            "new_events": list(events),  # ingest stamps them with the turn and appends them to ``events``
        }
        if context:
            payload["context"] = context
        return payload

    async def run(
        self,
        conversation_id: str,
        text: str,
        *,
        tenant: str = "default",
        events: Sequence[Event] = (),
        context: AccountContext | None = None,
        message_id: str | None = None,
        events_too: bool = True,
    ) -> AsyncIterator[StreamEvent | TurnResult]:
        """Run a turn, yielding tokens and guard/handoff events as they happen, then the :class:`TurnResult`
        itself (no state read before the turn, no JSON round trip after it). With ``events_too=False`` only the
        result: the graph runs without its ``custom`` stream, so the nodes' stream writes cost nothing."""
        ctx = self.context_for(tenant)
        config = self._config(tenant, conversation_id)
        payload = self._input(ctx, conversation_id, text, events, context, message_id)
        values: SupportState | None = None
        modes: list[Literal["custom", "values"]] = ["custom", "values"] if events_too else ["values"]
        async for mode, chunk in self.graph.astream(
            payload, config, context=ctx, stream_mode=modes, durability=ctx.settings.durability
        ):
            if mode == "custom" and isinstance(chunk, dict):
                kind = chunk.get("type")
                if kind == "token":
                    yield StreamEvent(type="token", data={"text": chunk["text"]})
                elif kind == "guard":
                    yield StreamEvent(type="guard", data=dict(chunk["verdict"]))
                elif kind == "handoff":
                    yield StreamEvent(type="handoff", data={k: v for k, v in chunk.items() if k != "type"})
            elif mode == "values" and isinstance(chunk, dict):
                # The chunk a pause (the handoff's interrupt) ends on also names the interrupt: not state.
                values = {k: v for k, v in chunk.items() if k != "__interrupt__"}  # type: ignore[assignment]
        assert values is not None
        yield result_from_state(conversation_id, values, silent=silent_turn(values))

    async def stream(
        self,
        conversation_id: str,
        text: str,
        *,
        tenant: str = "default",
        events: Sequence[Event] = (),
        context: AccountContext | None = None,
        message_id: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Run a turn, yielding tokens and guard/handoff events as they happen, then the result."""
        async for item in self.run(
            conversation_id, text, tenant=tenant, events=events, context=context, message_id=message_id
        ):
            if isinstance(item, TurnResult):
                yield StreamEvent(type="result", data=item.model_dump(mode="json"))
            else:
                yield item

    async def turn(
        self,
        conversation_id: str,
        text: str,
        *,
        tenant: str = "default",
        events: Sequence[Event] = (),
        context: AccountContext | None = None,
        message_id: str | None = None,
    ) -> TurnResult:
        result: TurnResult | None = None
        async for item in self.run(
            conversation_id, text, tenant=tenant, events=events, context=context, message_id=message_id,
            events_too=False,  # nobody reads the tokens of a turn that only returns its result
        ):
            if isinstance(item, TurnResult):
                result = item
        assert result is not None
        return result

    async def values(self, conversation_id: str, *, tenant: str = "default") -> SupportState | None:
        snapshot = await self.graph.aget_state(self._config(tenant, conversation_id))
        return snapshot.values or None  # type: ignore[return-value]

    async def history(self, conversation_id: str, values: SupportState, *, tenant: str = "default") -> History:
        """The whole transcript, ``tried`` and guard log of a conversation whose state is ``values`` (the
        archive in the graph's store, then the state's windows)."""
        return await history(self.graph.store, thread_id(tenant, conversation_id), values)

    async def finish_interrupted(self, conversation_id: str, *, tenant: str = "default") -> SupportState | None:
        """Finish the turn a failure left half-done, so that it ends with a reply or a handoff (or silent, when a
        person owns the conversation), never with nothing: resume it on the offline engine; if even that fails,
        close it with the fixed apology (``unavailable`` in ``prompts/replies.yaml``). Returns the final state."""
        config = self._config(tenant, conversation_id)
        snapshot = await self.graph.aget_state(config)
        if not snapshot.next:
            return snapshot.values or None  # type: ignore[return-value]
        ctx = self.context_for(tenant)
        offline = dataclasses.replace(ctx, engine=ctx.offline)
        try:
            async for _ in self.graph.astream(
                None, config, context=offline, stream_mode="values", durability=ctx.settings.durability
            ):
                pass
        except Exception:
            log.exception("conversation %s: the turn failed on the offline engine too; closing it", conversation_id)
            values: SupportState = (await self.graph.aget_state(config)).values  # type: ignore[assignment]
            await self.graph.aupdate_state(config, _closing(ctx, values), as_node="finish")
        return (await self.graph.aget_state(config)).values or None  # type: ignore[return-value]


def _closing(ctx: TurnContext, values: SupportState) -> dict[str, object]:
    """The update that ends an unfinishable turn: the apology as the bot's reply (silence in human mode)."""
    if values.get("mode") == "human":
        return {"halted": False}
    text = ctx.templates.unavailable.pick("standard")
    turn = values.get("turn", 0)
    return {
        "halted": False,
        "degraded": True,
        "decision": None,
        "last_action": None,
        "reply": text,
        "messages": [{"role": "bot", "text": text, "turn": turn, "at": ctx.now().isoformat()}],
    }
