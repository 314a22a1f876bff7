"""Where outcomes live, next to the service's own records (same database, same ``?`` SQL for both dialects):
people's labels on handoffs, customers' ratings, per-turn decisions with the policy version (and what a
shadow policy would have decided), and when a person first replied to a handoff."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tactful.service.store import Database, Row

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tactful_handoff_feedback (
        handoff_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        label TEXT NOT NULL,
        note TEXT,
        agent TEXT,
        intent TEXT,
        queue TEXT,
        reason TEXT,
        factors TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        at TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS tactful_handoff_feedback_tenant ON tactful_handoff_feedback (tenant, at)""",
    """CREATE TABLE IF NOT EXISTS tactful_ratings (
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        score INTEGER NOT NULL,
        word TEXT,
        factors TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (tenant, conversation_id, turn))""",
    """CREATE TABLE IF NOT EXISTS tactful_decisions (
        tenant TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        action TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        shadow_version TEXT,
        shadow_action TEXT,
        shadow_rule TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (tenant, conversation_id, turn))""",
    """CREATE TABLE IF NOT EXISTS tactful_handoff_replies (
        handoff_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        first_reply_at TEXT NOT NULL)""",
]

MAX_CONVERSATIONS = 20_000
"""The most conversations one summary or tune reads (the newest first are dropped beyond it; flagged)."""


@dataclass
class Window:
    """Everything stored about the conversations that started in ``[since, until)``."""

    conversations: list[Row]
    turns: list[Row]
    handoffs: list[Row]
    feedback: list[Row]
    ratings: list[Row]
    decisions: list[Row]
    replies: list[Row]
    later_contacts: list[Row]
    """Conversations of the same people that started up to ``regret_h`` after the window."""
    truncated: bool


class OutcomeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def setup(self) -> None:
        for statement in SCHEMA:
            await self.db.execute(statement)

    async def record_feedback(
        self,
        tenant: str,
        *,
        handoff_id: str,
        conversation_id: str,
        turn: int,
        label: str,
        note: str | None,
        agent: str | None,
        intent: str | None,
        queue: str,
        reason: str,
        factors: list[Any],
        policy_version: str,
        at: str,
    ) -> None:
        """One label per handoff; a second one replaces the first (a person may correct it)."""
        await self.db.execute(
            "INSERT INTO tactful_handoff_feedback (handoff_id, tenant, conversation_id, turn, label, note, agent, "
            "intent, queue, reason, factors, policy_version, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (handoff_id) DO UPDATE SET label = excluded.label, note = excluded.note, "
            "agent = excluded.agent, at = excluded.at",
            (
                handoff_id,
                tenant,
                conversation_id,
                turn,
                label,
                note,
                agent,
                intent,
                queue,
                reason,
                json.dumps(factors),
                policy_version,
                at,
            ),
        )

    async def feedback(self, tenant: str, handoff_id: str) -> Row | None:
        rows = await self.db.fetchall(
            "SELECT * FROM tactful_handoff_feedback WHERE tenant = ? AND handoff_id = ?", (tenant, handoff_id)
        )
        return rows[0] if rows else None

    async def record_rating(
        self,
        tenant: str,
        conversation_id: str,
        *,
        turn: int,
        score: int,
        word: str | None,
        factors: list[Any],
        policy_version: str,
        at: str,
    ) -> None:
        await self.db.execute(
            "INSERT INTO tactful_ratings (tenant, conversation_id, turn, score, word, factors, policy_version, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, conversation_id, turn) DO UPDATE SET "
            "score = excluded.score, word = excluded.word, at = excluded.at",
            (tenant, conversation_id, turn, score, word, json.dumps(factors), policy_version, at),
        )

    async def record_decision(
        self,
        tenant: str,
        conversation_id: str,
        *,
        turn: int,
        action: str,
        policy_version: str,
        shadow_version: str | None,
        shadow_action: str | None,
        shadow_rule: str | None,
        at: str,
    ) -> None:
        await self.db.execute(
            "INSERT INTO tactful_decisions (tenant, conversation_id, turn, action, policy_version, shadow_version, "
            "shadow_action, shadow_rule, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (tenant, conversation_id, turn, action, policy_version, shadow_version, shadow_action, shadow_rule, at),
        )

    async def note_reply(self, tenant: str, handoff_id: str, *, at: str) -> None:
        """The first time a person replied on a handoff (later replies keep the first time)."""
        await self.db.execute(
            "INSERT INTO tactful_handoff_replies (handoff_id, tenant, first_reply_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (handoff_id, tenant, at),
        )

    async def window(self, tenant: str, *, since: str, until: str, regret_until: str) -> Window:
        conversations = await self.db.fetchall(
            "SELECT conversation_id, person_id, mode, turn, created_at, updated_at FROM tactful_conversations "
            "WHERE tenant = ? AND created_at >= ? AND created_at < ? ORDER BY created_at, conversation_id LIMIT ?",
            (tenant, since, until, MAX_CONVERSATIONS + 1),
        )
        truncated = len(conversations) > MAX_CONVERSATIONS
        conversations = conversations[:MAX_CONVERSATIONS]
        if not conversations:
            return Window([], [], [], [], [], [], [], [], truncated)
        last = conversations[-1]["created_at"]
        inside = (
            "conversation_id IN (SELECT conversation_id FROM tactful_conversations WHERE tenant = ? "
            "AND created_at >= ? AND created_at <= ?)"
        )
        scope = (tenant, tenant, since, last)

        async def rows(table: str, columns: str = "*") -> list[Row]:
            return await self.db.fetchall(f"SELECT {columns} FROM {table} WHERE tenant = ? AND {inside}", scope)

        turns = await rows("tactful_turns", "conversation_id, turn, action, mode, result, created_at")
        handoffs = await rows(
            "tactful_handoffs",
            "id, conversation_id, turn, status, queue, reason, packet, created_at, claimed_at, closed_at",
        )
        feedback = await rows("tactful_handoff_feedback")
        ratings = await rows("tactful_ratings", "conversation_id, turn, score, word, at")
        decisions = await rows("tactful_decisions")
        replies = await self.db.fetchall(
            "SELECT r.handoff_id, r.first_reply_at FROM tactful_handoff_replies r JOIN tactful_handoffs h "
            f"ON h.id = r.handoff_id WHERE r.tenant = ? AND h.tenant = ? AND h.{inside}",
            (tenant, *scope),
        )
        later = await self.db.fetchall(
            "SELECT conversation_id, person_id, created_at FROM tactful_conversations WHERE tenant = ? "
            "AND person_id IS NOT NULL AND created_at >= ? AND created_at < ?",
            (tenant, since, regret_until),
        )
        return Window(conversations, turns, handoffs, feedback, ratings, decisions, replies, later, truncated)
