"""Everything the service does to a conversation besides running a turn: read it, fold in behavioural events,
and the human side of a handoff (claim, reply, resolve, return to the bot).

A handed-off conversation's thread waits in the graph's ``human`` node (an ``interrupt()`` on the packet). A
person's reply, resolve or return-to-bot is the same ``Command(resume=...)`` LangGraph tooling would send
(:mod:`tactful.agents.handoff.human`), run under the conversation lock. Events and context go in through
``graph.aupdate_state(..., as_node="finish")``: the list reducers (messages, events) and the context merge apply
as they do inside a turn; on a bot conversation that leaves nothing pending, and a handed-off one is paused again
at once. The next turn sees every change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from langgraph.types import Command

from tactful.agents.engine.offload import off_loop
from tactful.agents.engine.seam import SentimentRequest
from tactful.agents.handoff.human import HumanAnswer, answer_update
from tactful.agents.state import AccountContext, Event, SentimentState, SupportState
from tactful.graphs.runner import SupportRunner
from tactful.service.errors import ConflictError, NotFoundError, PayloadTooLargeError
from tactful.service.masking import Masker
from tactful.service.models import (
    CloseIn,
    ConversationOut,
    DecisionRecord,
    EventsIn,
    EventsOut,
    HandoffOut,
    HumanReplyIn,
    StateSummary,
)
from tactful.service.store import Store
from tactful.service.turns import TurnService, utcnow_iso


class Operations:
    def __init__(
        self,
        *,
        turns: TurnService,
        runner: SupportRunner,
        store: Store,
        masker: Masker,
        max_message_chars: int,
    ) -> None:
        self.turns = turns
        self.runner = runner
        self.store = store
        self.masker = masker
        self.max_message_chars = max_message_chars

    async def _values(self, tenant: str, conversation_id: str) -> SupportState:
        snapshot = await self.runner.graph.aget_state(self.turns.config(tenant, conversation_id))
        if not snapshot.values:
            raise NotFoundError("conversation", conversation_id)
        return snapshot.values  # type: ignore[return-value]

    async def _update(self, tenant: str, conversation_id: str, values: dict[str, object]) -> None:
        config = self.turns.config(tenant, conversation_id)
        await self.runner.graph.aupdate_state(config, values, as_node="finish")
        await self._pause_again(tenant, conversation_id)

    async def _pause_again(self, tenant: str, conversation_id: str) -> None:
        """A handed-off conversation whose state was just updated goes back to waiting for a person."""
        config = self.turns.config(tenant, conversation_id)
        if (await self.runner.graph.aget_state(config)).next:
            ctx = self.runner.context_for(tenant)
            await self.runner.graph.ainvoke(None, config, context=ctx, durability=ctx.settings.durability)

    async def _answer(self, tenant: str, conversation_id: str, answer: HumanAnswer) -> None:
        """A person's answer to the handoff pause, as ``Command(resume=...)``. A conversation handed off before
        the pause existed (no interrupt pending) gets the same state change as an update."""
        graph = self.runner.graph
        config = self.turns.config(tenant, conversation_id)
        ctx = self.runner.context_for(tenant)
        snapshot = await graph.aget_state(config)
        if snapshot.next and not snapshot.interrupts:
            await self._pause_again(tenant, conversation_id)
            snapshot = await graph.aget_state(config)
        if snapshot.interrupts:
            await graph.ainvoke(
                Command(resume=answer.model_dump(exclude_none=True)),
                config,
                context=ctx,
                durability=ctx.settings.durability,
            )
            return
        values: SupportState = snapshot.values  # type: ignore[assignment]
        await graph.aupdate_state(config, answer_update(values, answer, ctx), as_node="human")
        await self._pause_again(tenant, conversation_id)

    # ------------------------------------------------------------------ read

    async def conversation(self, tenant: str, conversation_id: str) -> ConversationOut:
        values = await self._values(tenant, conversation_id)
        records = await self.store.turns(tenant, conversation_id)
        decisions = [
            DecisionRecord(
                turn=r.result.turn,
                at=r.created_at,
                message_id=r.message_id,
                mode=r.result.mode,
                action=r.result.action,
                reply=r.result.reply,
                intent=r.result.intent,
                decision=r.result.decision,
                guards=[g for g in r.result.guards if g["tripped"]],
                degraded=r.result.degraded,
            )
            for r in records
        ]
        state = StateSummary(
            intent=values.get("intent"),
            sentiment=values.get("sentiment"),
            context=values.get("context", {}),
            last_action=values.get("last_action"),
            attempts=values.get("attempts", 0),
            failures=values.get("failures", 0),
            restatements=values.get("restatements", 0),
            clarifications=values.get("clarifications", 0),
            injection_attempts=values.get("injection_attempts", 0),
            events=values.get("events", []),
            usage_total=values.get("usage_total"),
        )
        return ConversationOut(
            conversation_id=conversation_id,
            mode=values.get("mode", "bot"),
            turn=values.get("turn", 0),
            messages=(await self.runner.history(conversation_id, values, tenant=tenant))["messages"],
            state=state,
            decisions=decisions,
            handoffs=await self.store.handoffs(tenant, conversation_id=conversation_id, limit=1000),
        )

    # ------------------------------------------------------------------ events

    async def add_events(self, tenant: str, body: EventsIn) -> EventsOut:
        if body.conversation_id is not None:
            conversation_id = body.conversation_id
        else:
            assert body.person_id is not None
            found = await self.store.conversation_of_person(tenant, body.person_id)
            if found is None:
                return await self._hold(tenant, body.person_id, body)
            conversation_id = found
        async with self.turns.locked(tenant, conversation_id):
            values = await self._values(tenant, conversation_id)
            turn = values.get("turn", 0)
            masked, context = await off_loop(self._masked, body, datetime.now(UTC))
            # Stamped with the coming turn: they weigh in full now and on the next turn, then fade.
            arriving: list[Event] = [{**e, "detail": {**e.get("detail", {}), "turn": turn + 1}} for e in masked]
            update: dict[str, object] = {}
            if arriving:
                update["events"] = arriving
            if context:
                update["context"] = context
            sentiment = await self._reassess(tenant, values, [*values.get("events", []), *arriving], context)
            if sentiment is not None:
                update["sentiment"] = sentiment
            await self._update(tenant, conversation_id, update)
            if context.get("account_id"):
                await self.store.touch_conversation(
                    tenant,
                    conversation_id,
                    person_id=context["account_id"],
                    mode=values.get("mode", "bot"),
                    turn=turn,
                    at=utcnow_iso(),
                )
            after = await self._values(tenant, conversation_id)
        return EventsOut(
            conversation_id=conversation_id,
            turn=turn,
            events_added=len(arriving),
            context=after.get("context", {}),
            sentiment=after.get("sentiment"),
        )

    def _masked(self, body: EventsIn, now: datetime) -> tuple[list[Event], AccountContext]:
        """The events and context as they may be kept (CPU work: called off the event loop)."""
        context: AccountContext = self.masker.context(body.context.to_state()) if body.context else {}
        return self.masker.events([e.to_state(now) for e in body.events]), context

    async def _hold(self, tenant: str, person_id: str, body: EventsIn) -> EventsOut:
        """No conversation yet: keep the events (and context) until the person's first message, which starts
        its conversation with them (a failed payment an hour before the chat opens still counts)."""
        events, context = await off_loop(self._masked, body, datetime.now(UTC))
        held = await self.store.hold_person_events(
            tenant, person_id, events=events, context=context, at=utcnow_iso()
        )
        return EventsOut(
            conversation_id=None, turn=0, events_added=len(events), events_held=held, context=context, sentiment=None
        )

    async def _reassess(
        self, tenant: str, values: SupportState, events: list[Event], context: AccountContext
    ) -> SentimentState | None:
        """The current turn's sentiment re-scored with the new events (offline reasoner; no model call)."""
        users = [m["text"] for m in values.get("messages", []) if m["role"] == "user"]
        if not users:
            return None
        merged = {**values.get("context", {}), **context}
        ctx = self.runner.context_for(tenant)
        request = SentimentRequest(
            turn_key=f"{values.get('conversation_id', '')}:{values.get('turn', 0)}:events",
            text=users[-1],
            turn=max(1, values.get("turn", 1)),
            previous=values.get("sentiment"),
            prior_user_texts=users[:-1][-10:],
            events=events,
            last_bot_action=values.get("last_action"),
            failures=values.get("failures", 0),
            channel=str(merged["channel"]) if merged.get("channel") else None,
            device=str(merged["device"]) if merged.get("device") else None,
        )
        return (await off_loop(ctx.offline.assess_now, request)).state

    # ------------------------------------------------------------------ handoffs

    async def handoff(self, tenant: str, handoff_id: str) -> HandoffOut:
        handoff = await self.store.handoff(tenant, handoff_id)
        if handoff is None:
            raise NotFoundError("handoff", handoff_id)
        return handoff

    async def claim(self, tenant: str, handoff_id: str, *, agent: str) -> HandoffOut:
        if not await self.store.claim(tenant, handoff_id, agent=agent, at=utcnow_iso()):
            handoff = await self.handoff(tenant, handoff_id)
            if handoff.status == "claimed":
                raise ConflictError(
                    f"handoff {handoff_id} is already claimed by {handoff.assignee}", code="handoff_claimed"
                )
            raise ConflictError(f"handoff {handoff_id} is {handoff.status}", code="handoff_closed")
        return await self.handoff(tenant, handoff_id)

    async def reply(self, tenant: str, handoff_id: str, body: HumanReplyIn) -> HandoffOut:
        """A person's reply, appended to the conversation as a ``human_agent`` message."""
        if len(body.text) > self.max_message_chars:
            raise PayloadTooLargeError("text", self.max_message_chars)
        handoff = await self.handoff(tenant, handoff_id)
        async with self.turns.locked(tenant, handoff.conversation_id):
            handoff = await self.handoff(tenant, handoff_id)
            if handoff.status not in ("open", "claimed"):
                raise ConflictError(
                    f"handoff {handoff_id} is {handoff.status}; the bot owns the conversation", code="handoff_closed"
                )
            if handoff.status == "claimed" and body.agent and handoff.assignee not in (None, body.agent):
                raise ConflictError(f"handoff {handoff_id} is claimed by {handoff.assignee}", code="handoff_claimed")
            await self._values(tenant, handoff.conversation_id)
            answer = HumanAnswer(action="reply", text=await off_loop(self.masker.text, body.text), agent=body.agent)
            await self._answer(tenant, handoff.conversation_id, answer)
            await self.store.touch_handoff(tenant, handoff_id, agent=body.agent, at=utcnow_iso())
        return await self.handoff(tenant, handoff_id)

    async def close(
        self, tenant: str, handoff_id: str, body: CloseIn, *, status: Literal["resolved", "returned"]
    ) -> HandoffOut:
        """Resolve the handoff or return it to the bot; either way the bot answers the next message."""
        handoff = await self.handoff(tenant, handoff_id)
        async with self.turns.locked(tenant, handoff.conversation_id):
            handoff = await self.handoff(tenant, handoff_id)
            if handoff.status not in ("open", "claimed"):
                raise ConflictError(f"handoff {handoff_id} is already {handoff.status}", code="handoff_closed")
            await self._values(tenant, handoff.conversation_id)
            note = await off_loop(self.masker.text, body.note) if body.note else None
            action: Literal["resolve", "return"] = "resolve" if status == "resolved" else "return"
            await self._answer(
                tenant, handoff.conversation_id, HumanAnswer(action=action, agent=body.agent, note=note)
            )
            await self.store.close_handoff(
                tenant, handoff_id, status=status, agent=body.agent, note=note, at=utcnow_iso()
            )
        return await self.handoff(tenant, handoff_id)
