"""The service's own records, in the same database as the checkpoints: one row per turn (its result, the
client's message id for idempotency), a conversation index (person → latest conversation) and the handoff
queue. The SQL is shared by both dialects; ``?`` placeholders become ``%s`` for PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite

from tactful.agents.state import AccountContext, Event, HandoffPacket
from tactful.graphs.checkpoint import PgPool
from tactful.graphs.runner import TurnResult
from tactful.graphs.sqlite_saver import one_trip
from tactful.service.models import HandoffOut, HandoffStatus, WebhookStatus

Row = dict[str, Any]
Params = Sequence[object]
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tactful_turns (
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        message_id TEXT,
        request_hash TEXT,
        action TEXT NOT NULL,
        mode TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, conversation_id, turn))""",
    """CREATE UNIQUE INDEX IF NOT EXISTS tactful_turns_message
        ON tactful_turns (tenant, conversation_id, message_id)""",
    """CREATE TABLE IF NOT EXISTS tactful_conversations (
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        person_id TEXT,
        mode TEXT NOT NULL,
        turn INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, conversation_id))""",
    """CREATE INDEX IF NOT EXISTS tactful_conversations_person
        ON tactful_conversations (tenant, person_id, updated_at)""",
    """CREATE TABLE IF NOT EXISTS tactful_handoffs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        status TEXT NOT NULL,
        queue TEXT NOT NULL,
        priority TEXT NOT NULL,
        priority_rank INTEGER NOT NULL,
        reason TEXT NOT NULL,
        assignee TEXT,
        note TEXT,
        webhook TEXT NOT NULL,
        packet TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        claimed_at TEXT,
        closed_at TEXT,
        UNIQUE (tenant, conversation_id, turn))""",
    """CREATE INDEX IF NOT EXISTS tactful_handoffs_queue
        ON tactful_handoffs (tenant, status, queue, priority_rank, created_at)""",
    # events (and context) for a person who has no conversation yet; the person's first message takes them
    """CREATE TABLE IF NOT EXISTS tactful_person_events (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        person_id TEXT NOT NULL,
        events TEXT NOT NULL,
        context TEXT NOT NULL,
        at TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS tactful_person_events_person ON tactful_person_events (tenant, person_id, at)""",
    """CREATE INDEX IF NOT EXISTS tactful_person_events_age ON tactful_person_events (tenant, at)""",
    # who is delivering a handoff's webhook, until when (tactful/service/outbox.py)
    """CREATE TABLE IF NOT EXISTS tactful_webhook_leases (
        handoff_id TEXT PRIMARY KEY,
        leased_until TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS tactful_handoffs_webhook ON tactful_handoffs (webhook, created_at)""",
    # the turn under way per conversation, written before its graph runs: the write-ahead log that lets a turn
    # a crash lost (durability ``exit`` checkpoints only at the end of a turn) run again (tactful/service/turns.py)
    """CREATE TABLE IF NOT EXISTS tactful_pending_turns (
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        request TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, conversation_id))""",
]


class Database(Protocol):
    kind: Literal["sqlite", "postgres"]

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def aclose(self) -> None: ...


class SqliteDatabase:
    """One autocommit aiosqlite connection (WAL, busy timeout) to the checkpointer's database file.

    Statements run one at a time, each stepped to its end in one call: a SELECT left open while another
    statement writes would turn that write into a read-to-write upgrade, which SQLite refuses at once
    (``database is locked``) when another process or connection committed in between.
    """

    kind: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, synchronous: str = "normal") -> SqliteDatabase:
        conn = await aiosqlite.connect(str(path), isolation_level=None, timeout=30.0)
        conn.row_factory = aiosqlite.Row
        pragmas = ("PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=30000", f"PRAGMA synchronous={synchronous.upper()}")
        for pragma in pragmas:
            await conn.execute_fetchall(pragma)
        return cls(conn)

    async def execute(self, sql: str, params: Params = ()) -> int:
        args = tuple(params)

        def run(db: sqlite3.Connection) -> int:  # one round trip to the connection's thread, not two
            cursor = db.execute(sql, args)
            try:
                return cursor.rowcount
            finally:
                cursor.close()

        async with self.lock:
            return await one_trip(self.conn, run)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self.lock:
            rows = await self.conn.execute_fetchall(sql, tuple(params))
        return [dict(row) for row in rows]

    async def aclose(self) -> None:
        await self.conn.close()


class PostgresDatabase:
    """Statements on the shared psycopg pool (autocommit, dict rows)."""

    kind: Literal["sqlite", "postgres"] = "postgres"

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), tuple(params))
            return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), tuple(params))
            return [dict(row) for row in await cursor.fetchall()]

    async def aclose(self) -> None:
        return None


class StoredTurn:
    """One recorded turn: its result and the client message id that produced it."""

    def __init__(self, row: Row) -> None:
        self.turn: int = row["turn"]
        self.message_id: str | None = row["message_id"]
        self.request_hash: str | None = row["request_hash"]
        self.created_at: str = row["created_at"]
        self.result = TurnResult.model_validate_json(row["result"])


def _handoff(row: Row) -> HandoffOut:
    data = dict(row)
    data["packet"] = json.loads(data["packet"])
    data.pop("tenant", None)
    data.pop("priority_rank", None)
    return HandoffOut.model_validate(data)


class Store:
    """Turns, the conversation index and handoffs, every row scoped by tenant."""

    def __init__(self, db: Database, *, held_events_max_age_s: float = 72 * 3600.0) -> None:
        self.db = db
        self.held_events_max_age_s = held_events_max_age_s

    def _held_since(self) -> str:
        return (datetime.now(UTC) - timedelta(seconds=self.held_events_max_age_s)).isoformat()

    async def setup(self) -> None:
        for statement in SCHEMA:
            await self.db.execute(statement)

    async def ping(self) -> None:
        await self.db.fetchall("SELECT 1 AS ok")

    # ------------------------------------------------------------------ turns

    async def turn_by_message(self, tenant: str, conversation_id: str, message_id: str) -> StoredTurn | None:
        rows = await self.db.fetchall(
            "SELECT * FROM tactful_turns WHERE tenant = ? AND conversation_id = ? AND message_id = ?",
            (tenant, conversation_id, message_id),
        )
        return StoredTurn(rows[0]) if rows else None

    async def last_turn(self, tenant: str, conversation_id: str) -> int:
        rows = await self.db.fetchall(
            "SELECT MAX(turn) AS turn FROM tactful_turns WHERE tenant = ? AND conversation_id = ?",
            (tenant, conversation_id),
        )
        return int(rows[0]["turn"] or 0) if rows else 0

    async def record_turn(
        self,
        tenant: str,
        conversation_id: str,
        result: TurnResult,
        *,
        message_id: str | None,
        request_hash: str | None,
        at: str,
    ) -> None:
        await self.db.execute(
            "INSERT INTO tactful_turns (tenant, conversation_id, turn, message_id, request_hash, action, "
            "mode, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                tenant,
                conversation_id,
                result.turn,
                message_id,
                request_hash,
                result.action,
                result.mode,
                result.model_dump_json(),
                at,
            ),
        )

    async def begin_turn(self, tenant: str, conversation_id: str, request: dict[str, Any], *, at: str) -> None:
        """Log the turn about to run (one per conversation: turns of a conversation run one at a time)."""
        await self.db.execute(
            "INSERT INTO tactful_pending_turns (tenant, conversation_id, request, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tenant, conversation_id) DO UPDATE SET request = excluded.request, "
            "created_at = excluded.created_at",
            (tenant, conversation_id, json.dumps(request), at),
        )

    async def pending_turn(self, tenant: str, conversation_id: str) -> dict[str, Any] | None:
        """The logged turn of a conversation that has not been recorded (a crash stopped it), if any."""
        rows = await self.db.fetchall(
            "SELECT request FROM tactful_pending_turns WHERE tenant = ? AND conversation_id = ?",
            (tenant, conversation_id),
        )
        return dict(json.loads(rows[0]["request"])) if rows else None

    async def end_turn(self, tenant: str, conversation_id: str) -> None:
        await self.db.execute(
            "DELETE FROM tactful_pending_turns WHERE tenant = ? AND conversation_id = ?", (tenant, conversation_id)
        )

    async def turns(self, tenant: str, conversation_id: str) -> list[StoredTurn]:
        rows = await self.db.fetchall(
            "SELECT * FROM tactful_turns WHERE tenant = ? AND conversation_id = ? ORDER BY turn",
            (tenant, conversation_id),
        )
        return [StoredTurn(r) for r in rows]

    # ------------------------------------------------------------------ conversations

    async def touch_conversation(
        self, tenant: str, conversation_id: str, *, person_id: str | None, mode: str, turn: int, at: str
    ) -> None:
        await self.db.execute(
            "INSERT INTO tactful_conversations (tenant, conversation_id, person_id, mode, turn, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, conversation_id) DO UPDATE SET "
            "person_id = COALESCE(excluded.person_id, tactful_conversations.person_id), "
            "mode = excluded.mode, turn = excluded.turn, updated_at = excluded.updated_at",
            (tenant, conversation_id, person_id, mode, turn, at, at),
        )

    async def hold_person_events(
        self,
        tenant: str,
        person_id: str,
        *,
        events: list[Event],
        context: AccountContext,
        at: str,
    ) -> int:
        """Keep events for a person with no conversation yet (and drop the tenant's held events older than
        ``held_events_max_age_s``); returns how many are held for them now."""
        await self.db.execute(
            "DELETE FROM tactful_person_events WHERE tenant = ? AND at < ?", (tenant, self._held_since())
        )
        await self.db.execute(
            "INSERT INTO tactful_person_events (id, tenant, person_id, events, context, at) VALUES (?, ?, ?, ?, ?, ?)",
            (uuid.uuid4().hex, tenant, person_id, json.dumps(events), json.dumps(context), at),
        )
        rows = await self.db.fetchall(
            "SELECT events FROM tactful_person_events WHERE tenant = ? AND person_id = ?", (tenant, person_id)
        )
        return sum(len(json.loads(row["events"])) for row in rows)

    async def take_person_events(self, tenant: str, person_id: str) -> tuple[list[Event], AccountContext]:
        """The events and context held for a person, oldest first, removed in the same statement (a second
        conversation of the same person cannot take them twice); none older than ``held_events_max_age_s``."""
        rows = await self.db.fetchall(
            "DELETE FROM tactful_person_events WHERE tenant = ? AND person_id = ? AND at >= ? "
            "RETURNING events, context, at",
            (tenant, person_id, self._held_since()),
        )
        events: list[Event] = []
        context: dict[str, Any] = {}
        for row in sorted(rows, key=lambda r: str(r["at"])):
            events.extend(json.loads(row["events"]))
            context.update(json.loads(row["context"]))
        return events, context  # type: ignore[return-value]

    async def conversation_of_person(self, tenant: str, person_id: str) -> str | None:
        rows = await self.db.fetchall(
            "SELECT conversation_id FROM tactful_conversations WHERE tenant = ? AND person_id = ? "
            "ORDER BY updated_at DESC, conversation_id LIMIT 1",
            (tenant, person_id),
        )
        return str(rows[0]["conversation_id"]) if rows else None

    # ------------------------------------------------------------------ handoffs

    async def create_handoff(
        self,
        tenant: str,
        conversation_id: str,
        *,
        turn: int,
        packet: HandoffPacket,
        webhook: WebhookStatus,
        at: str,
    ) -> HandoffOut:
        handoff_id = uuid.uuid4().hex
        await self.db.execute(
            "INSERT INTO tactful_handoffs (id, tenant, conversation_id, turn, status, queue, priority, "
            "priority_rank, reason, webhook, packet, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                handoff_id,
                tenant,
                conversation_id,
                turn,
                packet["queue"],
                packet["priority"],
                PRIORITY_RANK.get(packet["priority"], 1),
                packet["reason"],
                webhook,
                json.dumps(packet),
                at,
                at,
            ),
        )
        rows = await self.db.fetchall(
            "SELECT * FROM tactful_handoffs WHERE tenant = ? AND conversation_id = ? AND turn = ?",
            (tenant, conversation_id, turn),
        )
        return _handoff(rows[0])

    async def handoff(self, tenant: str, handoff_id: str) -> HandoffOut | None:
        rows = await self.db.fetchall(
            "SELECT * FROM tactful_handoffs WHERE tenant = ? AND id = ?", (tenant, handoff_id)
        )
        return _handoff(rows[0]) if rows else None

    async def handoffs(
        self,
        tenant: str,
        *,
        queue: str | None = None,
        priority: str | None = None,
        status: Sequence[HandoffStatus] = (),
        conversation_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[HandoffOut]:
        where, params = ["tenant = ?"], [tenant]
        for column, value in (("queue", queue), ("priority", priority), ("conversation_id", conversation_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if status:
            where.append(f"status IN ({', '.join('?' for _ in status)})")
            params.extend(status)
        rows = await self.db.fetchall(
            f"SELECT * FROM tactful_handoffs WHERE {' AND '.join(where)} "
            "ORDER BY priority_rank DESC, created_at, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_handoff(r) for r in rows]

    async def claim(self, tenant: str, handoff_id: str, *, agent: str, at: str) -> bool:
        """Claim an open handoff (or re-claim one's own); False when it is not claimable by ``agent``."""
        count = await self.db.execute(
            "UPDATE tactful_handoffs SET status = 'claimed', assignee = ?, "
            "claimed_at = COALESCE(claimed_at, ?), updated_at = ? WHERE tenant = ? AND id = ? "
            "AND (status = 'open' OR (status = 'claimed' AND "
            "assignee = ?))",
            (agent, at, at, tenant, handoff_id, agent),
        )
        return count > 0

    async def close_handoff(
        self,
        tenant: str,
        handoff_id: str,
        *,
        status: Literal["resolved", "returned"],
        agent: str | None,
        note: str | None,
        at: str,
    ) -> bool:
        count = await self.db.execute(
            "UPDATE tactful_handoffs SET status = ?, assignee = COALESCE(?, assignee), "
            "note = COALESCE(?, note), closed_at = ?, updated_at = ? "
            "WHERE tenant = ? AND id = ? AND status IN ('open', 'claimed')",
            (status, agent, note, at, at, tenant, handoff_id),
        )
        return count > 0

    async def touch_handoff(self, tenant: str, handoff_id: str, *, agent: str | None, at: str) -> None:
        """A human replied: an open handoff becomes claimed by the replying agent."""
        await self.db.execute(
            "UPDATE tactful_handoffs SET status = CASE WHEN status = 'open' THEN 'claimed' ELSE status END, "
            "assignee = COALESCE(assignee, ?), claimed_at = COALESCE(claimed_at, ?), updated_at = ? "
            "WHERE tenant = ? AND id = ?",
            (agent, at, at, tenant, handoff_id),
        )

    async def set_webhook_status(self, handoff_id: str, status: WebhookStatus) -> None:
        await self.db.execute("UPDATE tactful_handoffs SET webhook = ? WHERE id = ?", (status, handoff_id))
        if status in ("delivered", "failed"):
            await self.db.execute("DELETE FROM tactful_webhook_leases WHERE handoff_id = ?", (handoff_id,))

    async def lease_webhook(self, handoff_id: str, *, until: str, expired_before: str) -> bool:
        """Take the delivery of a handoff's webhook until ``until`` unless someone holds an unexpired lease;
        one statement, so two workers cannot both win."""
        count = await self.db.execute(
            "INSERT INTO tactful_webhook_leases (handoff_id, leased_until) VALUES (?, ?) "
            "ON CONFLICT (handoff_id) DO UPDATE SET leased_until = excluded.leased_until "
            "WHERE tactful_webhook_leases.leased_until < ?",
            (handoff_id, until, expired_before),
        )
        return count > 0

    async def stale_webhooks(
        self, *, expired_before: str, created_before: str, limit: int
    ) -> list[tuple[str, HandoffOut]]:
        """Pending handoff webhooks nobody is delivering: the lease ran out, or there never was one and the
        handoff is older than a delivery could take. Oldest first, with their tenants."""
        rows = await self.db.fetchall(
            "SELECT h.* FROM tactful_handoffs h LEFT JOIN tactful_webhook_leases l ON l.handoff_id = h.id "
            "WHERE h.webhook = 'pending' AND ((l.handoff_id IS NULL AND h.created_at < ?) OR l.leased_until < ?) "
            "ORDER BY h.created_at LIMIT ?",
            (created_before, expired_before, limit),
        )
        return [(str(row["tenant"]), _handoff(row)) for row in rows]
