"""Everything the service does to a conversation besides running a turn: read it, fold in behavioural events,
and the human side of a handoff (claim, reply, resolve, return to the bot).

State changes go through ``graph.aupdate_state(..., as_node="finish")`` under the conversation lock:
``finish`` leads only to END, so the update leaves no pending task behind, and the list reducers (messages,
events) and the context merge apply as they do inside a turn. The next turn sees every change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from tactful.agents.engine.seam import SentimentRequest
from tactful.agents.state import AccountContext, Event, Message, SentimentState, SupportState
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
        await self.runner.graph.aupdate_state(
            self.turns.config(tenant, conversation_id), values, as_node="finish"
        )

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
            messages=values.get("messages", []),
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
            now = datetime.now(UTC)
            # Stamped with the coming turn: they weigh in full now and on the next turn, then fade.
            arriving: list[Event] = [
                {**e, "detail": {**e.get("detail", {}), "turn": turn + 1}}
                for e in self.masker.events([e.to_state(now) for e in body.events])
            ]
            context = self.masker.context(body.context.to_state()) if body.context else {}
            update: dict[str, object] = {}
            if arriving:
                update["events"] = arriving
            if context:
                update["context"] = context
            sentiment = self._reassess(tenant, values, [*values.get("events", []), *arriving], context)
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

    async def _hold(self, tenant: str, person_id: str, body: EventsIn) -> EventsOut:
        """No conversation yet: keep the events (and context) until the person's first message, which starts
        its conversation with them (a failed payment an hour before the chat opens still counts)."""
        now = datetime.now(UTC)
        events = self.masker.events([e.to_state(now) for e in body.events])
        context = self.masker.context(body.context.to_state()) if body.context else {}
        held = await self.store.hold_person_events(
            tenant, person_id, events=events, context=context, at=utcnow_iso()
        )
        return EventsOut(
            conversation_id=None, turn=0, events_added=len(events), events_held=held, context=context, sentiment=None
        )

    def _reassess(
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
        return ctx.offline.assess_now(request).state

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
                raise ConflictError(f"handoff {handoff_id} is already claimed by {handoff.assignee}")
            raise ConflictError(f"handoff {handoff_id} is {handoff.status}")
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
                    f"handoff {handoff_id} is {handoff.status}; the bot owns the conversation"
                )
            if handoff.status == "claimed" and body.agent and handoff.assignee not in (None, body.agent):
                raise ConflictError(f"handoff {handoff_id} is claimed by {handoff.assignee}")
            values = await self._values(tenant, handoff.conversation_id)
            message: Message = {
                "role": "human_agent",
                "text": self.masker.text(body.text),
                "turn": values.get("turn", 0),
                "at": utcnow_iso(),
            }
            await self._update(tenant, handoff.conversation_id, {"messages": [message]})
            await self.store.touch_handoff(tenant, handoff_id, agent=body.agent, at=message["at"])
        return await self.handoff(tenant, handoff_id)

    async def close(
        self, tenant: str, handoff_id: str, body: CloseIn, *, status: Literal["resolved", "returned"]
    ) -> HandoffOut:
        """Resolve the handoff or return it to the bot; either way the bot answers the next message."""
        handoff = await self.handoff(tenant, handoff_id)
        async with self.turns.locked(tenant, handoff.conversation_id):
            handoff = await self.handoff(tenant, handoff_id)
            if handoff.status not in ("open", "claimed"):
                raise ConflictError(f"handoff {handoff_id} is already {handoff.status}")
            await self._values(tenant, handoff.conversation_id)
            await self._update(tenant, handoff.conversation_id, dict(BACK_TO_BOT))
            note = self.masker.text(body.note) if body.note else None
            await self.store.close_handoff(
                tenant, handoff_id, status=status, agent=body.agent, note=note, at=utcnow_iso()
            )
        return await self.handoff(tenant, handoff_id)
