"""Run support turns for the HTTP service: one at a time per conversation, idempotent by client message id,
recorded in the store, resumable after a crash.

A turn runs in its own task that holds the conversation lock, so a client that disconnects (or a streaming
client that goes away) neither cancels the turn nor loses its result: the next retry with the same
``message_id`` gets the stored result. Before every locked operation the conversation is *reconciled*: a turn
interrupted by a crash between graph steps is resumed from its last checkpoint, and a finished turn whose
record was not written yet is recorded from the checkpoint.

A turn is recorded only once it is answered: a reply, a handoff, or silence while a person owns the
conversation. A turn whose graph fails is finished on the offline engine, and if even that fails it is closed
with a fixed apology (:meth:`~tactful.graphs.runner.SupportRunner.finish_interrupted`) — never recorded empty.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from langgraph.types import RunnableConfig, StateSnapshot

from tactful.agents.engine.offload import INLINE_MAX_CHARS, off_loop
from tactful.agents.state import AccountContext, Event, SupportState
from tactful.errors import ConversationBusyError, TactfulError, WorkerBusyError
from tactful.graphs.runner import StreamEvent, SupportRunner, TurnResult, result_from_state, thread_id
from tactful.graphs.sqlite_saver import Latest, OneTripSqliteSaver, reusing
from tactful.service.errors import ConflictError, PayloadTooLargeError
from tactful.service.locks import ConversationLocks, Lease
from tactful.service.masking import Masker
from tactful.service.metrics import Metrics
from tactful.service.models import HandoffOut, MessageIn
from tactful.service.store import Store

log = logging.getLogger("tactful.turns")

HandoffHook = Callable[[str, HandoffOut], None]
RecordedHook = Callable[[str, str, TurnResult, str], Awaitable[None]]
"""(tenant, conversation id, result, recorded at): called once a turn is recorded."""


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat()


class UnansweredTurnError(TactfulError):
    """A bot turn finished with neither a reply nor a handoff: it must not be recorded as done."""


def answered(result: TurnResult) -> bool:
    """A turn may be recorded as done: it has its reply or handoff, or it is silent (a person owns it)."""
    return result.action == "none" or bool(result.reply) or result.handoff is not None


def request_hash(message: MessageIn) -> str:
    """Fingerprint of a message without its id: a reused id with different content is a conflict."""
    return hashlib.sha256(message.model_dump_json(exclude={"message_id"}).encode("utf-8")).hexdigest()[:32]


class TurnHandle:
    """A submitted turn: its streamed events (when asked for) and its final result."""

    def __init__(self, *, stream: bool) -> None:
        self.stream = stream
        self.queue: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        self.future: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self.future.add_done_callback(_retrieve)
        self.replayed = False

    @classmethod
    def finished(cls, result: TurnResult, *, stream: bool) -> TurnHandle:
        handle = cls(stream=stream)
        handle.replayed = True
        handle.finish(result)
        return handle

    def emit(self, event: StreamEvent) -> None:
        if self.stream:
            self.queue.put_nowait(event)

    def finish(self, result: TurnResult) -> None:
        if self.stream:
            self.emit(StreamEvent(type="result", data=result.model_dump(mode="json")))
        self.queue.put_nowait(None)
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, exc: BaseException) -> None:
        self.queue.put_nowait(None)
        if self.future.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            self.future.cancel()
        else:
            self.future.set_exception(exc)

    async def result(self) -> TurnResult:
        """The turn's result; cancelling the caller does not cancel the turn."""
        return await asyncio.shield(self.future)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Events as they happen, ending with ``result`` (nothing more when the turn failed)."""
        while (event := await self.queue.get()) is not None:
            yield event

    @property
    def error(self) -> BaseException | None:
        return self.future.exception() if self.future.done() and not self.future.cancelled() else None


def _retrieve(future: asyncio.Future[TurnResult]) -> None:
    if not future.cancelled():
        future.exception()  # mark it retrieved: a failed turn is reported to its caller, not at GC


class TurnService:
    def __init__(
        self,
        *,
        runner: SupportRunner,
        store: Store,
        locks: ConversationLocks,
        masker: Masker,
        metrics: Metrics,
        max_message_chars: int,
        on_handoff: HandoffHook | None = None,
        on_recorded: RecordedHook | None = None,
    ) -> None:
        self.runner = runner
        self.store = store
        self.locks = locks
        self.masker = masker
        self.metrics = metrics
        self.max_message_chars = max_message_chars
        self.on_handoff = on_handoff
        self.on_recorded = on_recorded
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def config(tenant: str, conversation_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id(tenant, conversation_id)}}

    # ------------------------------------------------------------------ locking

    async def acquire(self, tenant: str, conversation_id: str) -> Lease:
        lease, _ = await self._acquire(tenant, conversation_id)
        return lease

    async def _acquire(self, tenant: str, conversation_id: str) -> tuple[Lease, Latest | None]:
        """The conversation's lease, reconciled, and the checkpoint read to reconcile it when the turn's run may
        use that read instead of its own (nothing written meanwhile; see :meth:`reconcile`)."""
        try:
            lease = await self.locks.acquire(tenant, conversation_id)
        except ConversationBusyError:
            self.metrics.busy.inc()
            raise
        except WorkerBusyError:
            self.metrics.overloaded.inc()
            raise
        self.metrics.lock_wait.observe(lease.waited_s)
        try:
            latest = await self.reconcile(tenant, conversation_id)
        except BaseException:
            await lease.release()
            raise
        return lease, latest

    @asynccontextmanager
    async def locked(self, tenant: str, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation (no turn runs meanwhile, in any worker) with its records reconciled."""
        lease = await self.acquire(tenant, conversation_id)
        try:
            yield
        finally:
            await lease.release()

    # ------------------------------------------------------------------ turns

    async def submit(
        self, tenant: str, conversation_id: str, message: MessageIn, *, stream: bool
    ) -> TurnHandle:
        """Start a turn (after waiting for the conversation) or replay the stored result of a retry."""
        if len(message.text) > self.max_message_chars:
            raise PayloadTooLargeError("text", self.max_message_chars)
        fingerprint = request_hash(message)
        if message.message_id and (done := await self._replay(tenant, conversation_id, message, fingerprint)):
            return TurnHandle.finished(done, stream=stream)
        lease, latest = await self._acquire(tenant, conversation_id)
        try:
            if message.message_id and (
                done := await self._replay(tenant, conversation_id, message, fingerprint)
            ):
                await lease.release()
                return TurnHandle.finished(done, stream=stream)
        except BaseException:
            await lease.release()
            raise
        handle = TurnHandle(stream=stream)
        task = asyncio.create_task(self._run(lease, handle, tenant, conversation_id, message, fingerprint, latest))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def _replay(
        self, tenant: str, conversation_id: str, message: MessageIn, fingerprint: str
    ) -> TurnResult | None:
        assert message.message_id
        stored = await self.store.turn_by_message(tenant, conversation_id, message.message_id)
        if stored is None:
            return None
        if stored.request_hash and stored.request_hash != fingerprint:
            raise ConflictError(
                f"message_id {message.message_id!r} was already used for a different message", code="message_id_reused"
            )
        self.metrics.replays.inc()
        return stored.result

    async def _run(
        self,
        lease: Lease,
        handle: TurnHandle,
        tenant: str,
        conversation_id: str,
        message: MessageIn,
        fingerprint: str,
        latest: Latest | None = None,
    ) -> None:
        started = time.perf_counter()
        held: list[Event] = []
        held_context: AccountContext = {}
        person: str | None = None
        streamed = logged = False
        try:
            if len(message.text) <= INLINE_MAX_CHARS and not message.events and message.context is None:
                # a short message alone: masking it costs less than the pool's two thread switches
                text, context, events = self._masked(message, datetime.now(UTC))
            else:
                text, context, events = await off_loop(self._masked, message, datetime.now(UTC))
            person = str(context["account_id"]) if context and context.get("account_id") else None
            if person:  # events that arrived before the person had a conversation
                held, held_context = await self.store.take_person_events(tenant, person)
                events = [*held, *events]
                context = {**held_context, **(context or {})}
            request = {"text": text, "message_id": message.message_id,
                       "events": events, "context": context, "fingerprint": fingerprint, "person_id": person}
            await self.store.begin_turn(tenant, conversation_id, request, at=utcnow_iso())
            logged = True
            try:
                with reusing(latest):  # the run's checkpoint read: the one reconcile made, under this lease
                    result = await self._stream_turn(handle, tenant, conversation_id, message, text, events, context)
            except Exception:
                log.exception("turn of conversation %s failed; finishing it on the offline engine", conversation_id)
                result = await self._finish_failed(tenant, conversation_id)
            streamed = True  # the graph took the events: the checkpoint holds them now
            await self._record(
                tenant,
                conversation_id,
                result,
                message_id=message.message_id,
                fingerprint=fingerprint,
                person_id=context.get("account_id") if context else None,
            )
            self.metrics.observe_turn(tenant, result, time.perf_counter() - started)
        except BaseException as exc:
            # Cancelled (a shutdown): the logged turn runs again before the conversation's next operation.
            rerun = logged and not isinstance(exc, Exception)
            if logged and not rerun:
                await self.store.end_turn(tenant, conversation_id)
            if person and (held or held_context) and not streamed and not rerun:
                await self.store.hold_person_events(  # the graph never got to them: keep them for the next turn
                    tenant, person, events=held, context=held_context, at=utcnow_iso()
                )
            await lease.release()
            handle.fail(exc)
            if not isinstance(exc, Exception):
                raise
            log.exception("turn of conversation %s failed", conversation_id)
            return
        await lease.release()
        handle.finish(result)

    def _masked(self, message: MessageIn, now: datetime) -> tuple[str, AccountContext | None, list[Event]]:
        """The message's text, context and events as they may be kept and sent on (CPU work: off the loop)."""
        context = self.masker.context(message.context.to_state()) if message.context else None
        return self.masker.text(message.text), context, self.masker.events([e.to_state(now) for e in message.events])

    async def _stream_turn(
        self,
        handle: TurnHandle,
        tenant: str,
        conversation_id: str,
        message: MessageIn,
        text: str,
        events: list[Event],
        context: AccountContext | None,
    ) -> TurnResult:
        result: TurnResult | None = None
        async for item in self.runner.run(
            conversation_id,
            text,
            tenant=tenant,
            events=events,
            context=context,
            message_id=message.message_id,
            events_too=handle.stream,  # a JSON answer drops the events: the graph need not stream them
        ):
            if isinstance(item, TurnResult):
                result = item
            else:
                handle.emit(item)
        assert result is not None
        return result

    async def _finish_failed(self, tenant: str, conversation_id: str) -> TurnResult:
        """The result of a turn whose graph raised, once finished (offline, or closed with the apology)."""
        values = await self.runner.finish_interrupted(conversation_id, tenant=tenant)
        if values is None or values.get("turn", 0) <= await self.store.last_turn(tenant, conversation_id):
            raise UnansweredTurnError(f"conversation {conversation_id}: the failed turn left no checkpoint")
        messages = values.get("messages", [])
        silent = bool(messages) and messages[-1]["role"] == "user"  # a person owns it: no bot message this turn
        return result_from_state(conversation_id, values, silent=silent)

    async def _record(
        self,
        tenant: str,
        conversation_id: str,
        result: TurnResult,
        *,
        message_id: str | None,
        fingerprint: str | None,
        person_id: str | None,
    ) -> None:
        if not answered(result):
            raise UnansweredTurnError(f"conversation {conversation_id}: turn {result.turn} has no reply")
        at = utcnow_iso()
        # The turn's checkpoint holds it now: a crash from here on is recovered from the checkpoint (reconcile),
        # so the log ends before the record is written, never after (a turn is never run twice).
        await self.store.end_turn(tenant, conversation_id)
        await self.store.record_turn(
            tenant, conversation_id, result, message_id=message_id, request_hash=fingerprint, at=at
        )
        await self.store.touch_conversation(
            tenant, conversation_id, person_id=person_id, mode=result.mode, turn=result.turn, at=at
        )
        if self.on_recorded:
            await self.on_recorded(tenant, conversation_id, result, at)
        if result.action == "escalate" and result.handoff:
            handoff = await self.store.create_handoff(
                tenant,
                conversation_id,
                turn=result.turn,
                packet=self.masker.packet(result.handoff),
                webhook="pending" if self.on_handoff else "none",
                at=at,
            )
            if self.on_handoff:
                self.on_handoff(tenant, handoff)

    # ------------------------------------------------------------------ recovery

    async def reconcile(self, tenant: str, conversation_id: str) -> Latest | None:
        """Finish a turn a crash interrupted, record a finished turn whose record is missing, and run again a
        logged turn a crash lost before its graph checkpointed it.

        On the SQLite checkpointer, returns the checkpoint read that the state was built from when the next run
        may start from it (nothing resumed or run again here, no pending writes): the caller holds the lease, so
        nothing else writes the thread before that run, which then reads the checkpoint once a turn, not twice."""
        config = self.config(tenant, conversation_id)
        saver = self.runner.graph.checkpointer
        latest = await saver.read_latest(config) if isinstance(saver, OneTripSqliteSaver) else None
        with reusing(latest):
            snapshot = await self.runner.graph.aget_state(config)
        written = False
        if snapshot.values:
            written = await self._reconcile_checkpoint(tenant, conversation_id, snapshot)
        pending = await self.store.pending_turn(tenant, conversation_id)
        if pending is not None:
            await self._rerun(tenant, conversation_id, pending)
            written = True
        if latest is None or written or not latest.reusable:
            return None
        latest.fresh = True
        return latest

    async def _rerun(self, tenant: str, conversation_id: str, pending: dict[str, Any]) -> None:
        """Run a logged turn that left no checkpoint (a crash before the end of its graph) and record it."""
        log.warning("conversation %s: running again a turn a crash lost", conversation_id)
        result: TurnResult | None = None
        try:
            result = await self.runner.turn(
                conversation_id,
                str(pending["text"]),
                tenant=tenant,
                events=pending.get("events") or [],
                context=pending.get("context") or None,
                message_id=pending.get("message_id"),
            )
        except Exception:
            log.exception("conversation %s: the lost turn failed again; finishing it offline", conversation_id)
            result = await self._finish_failed(tenant, conversation_id)
        assert result is not None
        await self._record(
            tenant,
            conversation_id,
            result,
            message_id=pending.get("message_id"),
            fingerprint=pending.get("fingerprint"),
            person_id=pending.get("person_id"),
        )

    async def _reconcile_checkpoint(self, tenant: str, conversation_id: str, snapshot: StateSnapshot) -> bool:
        """Whether the thread's checkpoints were written (an interrupted turn resumed)."""
        graph = self.runner.graph
        config = self.config(tenant, conversation_id)
        silent: bool | None = None
        resumed = False
        # A thread waiting for a person (the handoff's interrupt) is paused on purpose, not interrupted by a crash.
        if snapshot.next and not snapshot.interrupts:
            resumed = True
            before: SupportState = snapshot.values  # type: ignore[assignment]
            if tuple(snapshot.next) != ("human",):  # ("human",) alone: only the pause itself is to be set again
                silent = before.get("mode") == "human" and tuple(snapshot.next) == ("ingest",)
                log.warning(
                    "conversation %s: resuming a turn interrupted before %s", conversation_id, snapshot.next
                )
            try:
                async for _ in graph.astream(
                    None, config, context=self.runner.context_for(tenant), stream_mode="values"
                ):
                    pass
            except Exception:
                log.exception("conversation %s: the interrupted turn failed again", conversation_id)
                await self.runner.finish_interrupted(conversation_id, tenant=tenant)
            snapshot = await graph.aget_state(config)
        values: SupportState = snapshot.values  # type: ignore[assignment]
        if values.get("turn", 0) <= await self.store.last_turn(tenant, conversation_id):
            return resumed
        messages = values.get("messages", [])
        if silent is None:
            silent = bool(messages) and messages[-1]["role"] == "user"
        last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
        result = result_from_state(conversation_id, values, silent=silent)
        await self._record(
            tenant,
            conversation_id,
            result,
            message_id=last_user.get("message_id") if last_user else None,
            fingerprint=None,
            person_id=None,
        )
        return resumed

    async def aclose(self, *, grace_s: float = 10.0) -> None:
        """Let running turns finish (up to ``grace_s``); cancel the rest (they resume on the next message)."""
        pending = set(self._tasks)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace_s)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
