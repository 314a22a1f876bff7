"""``tactful seed``: fill a tenant with a realistic month of conversations and outcomes, so that ``tactful
report`` and ``tactful tune`` show something on a fresh machine.

Each conversation is one of the eval suite's support scenarios, played through the real support graph (offline
engine) on a simulated clock and recorded in the configured store exactly as the service records turns. The
people's side is simulated from what the scenario says should happen: a handoff the scenario expects is labelled
``needed`` (``wrong_queue`` when it went elsewhere than expected, ``packet_missing`` when the packet lacks fields),
one it forbids is labelled ``automatable``; a conversation the bot kept although the scenario expects a handoff
brings the same account back within a day or two (a regret contact). Some customers rate the conversation.
Conversation ids start with ``seed-`` and accounts with ``SEED-``; running it again adds another month.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langgraph.types import Command

from tactful.agents.context import TENANT_NAME
from tactful.agents.handoff.human import HumanAnswer
from tactful.agents.state import AccountContext, Event
from tactful.errors import InputError
from tactful.evals.scenario import SupportScenario, load_all, matches, parse_duration
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner, TurnResult
from tactful.graphs.support import compile_support_graph
from tactful.service.masking import Masker
from tactful.service.outcomes.replay import policy_version
from tactful.service.outcomes.service import open_outcome_store
from tactful.service.outcomes.store import OutcomeStore
from tactful.service.store import Store
from tactful.settings import load_settings

DEFAULT_SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios" / "support"
WORDS = {
    1: ("useless", "frustrating"),
    2: ("slow", "confusing"),
    3: ("okay", "fine"),
    4: ("helpful", "clear"),
    5: ("great", "quick"),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("seed", help="fill a tenant with a month of simulated conversations and outcomes")
    p.add_argument("--tenant", default="default", help="tenant to fill (default: default)")
    p.add_argument("--days", type=int, default=30, help="days back from now to spread them over (default 30)")
    p.add_argument("--conversations", type=int, default=240, help="how many conversations (default 240)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--scenarios", type=Path, nargs="*", default=None, help="support scenario files or folders")
    p.set_defaults(func=run)


def expected_escalation(s: SupportScenario) -> bool | None:
    """What the scenario's author says: a person is needed (True), must not be (False), or no view (None)."""
    if s.expect.escalated_by_turn is not None or s.expect.handoff is not None:
        return True
    if s.expect.never_escalated or s.expect.contained:
        return False
    actions = [t.expect.action for t in s.turns if t.expect and t.expect.action]
    if any(matches(a, "escalate") for a in actions):
        return True
    return None


@dataclasses.dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def iso(self) -> str:
        return self.now.isoformat()


class Seeder:
    def __init__(
        self,
        *,
        runner: SupportRunner,
        store: Store,
        outcomes: OutcomeStore,
        tenant: str,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.runner = runner
        self.store = store
        self.outcomes = outcomes
        self.tenant = tenant
        self.clock = clock
        self.rng = rng
        self.masker = Masker()
        self.version = policy_version(runner.context_for(tenant).bundle)
        self.counts: dict[str, int] = {"conversations": 0, "turns": 0, "handoffs": 0, "labels": 0, "ratings": 0}

    async def _record(self, cid: str, result: TurnResult, account: str) -> None:
        at = self.clock.iso()
        await self.store.record_turn(self.tenant, cid, result, message_id=None, request_hash=None, at=at)
        await self.store.touch_conversation(
            self.tenant, cid, person_id=account, mode=result.mode, turn=result.turn, at=at
        )
        if result.action != "none":
            await self.outcomes.record_decision(
                self.tenant,
                cid,
                turn=result.turn,
                action=result.action,
                policy_version=self.version,
                shadow_version=None,
                shadow_action=None,
                shadow_rule=None,
                at=at,
            )
        self.counts["turns"] += 1

    async def conversation(
        self, cid: str, scenario: SupportScenario, account: str, *, texts: list[str] | None = None
    ) -> list[TurnResult]:
        """Play the scenario's messages (or ``texts``) on the clock; returns the turn results."""
        context: AccountContext = {**scenario.context, "account_id": account}  # type: ignore[typeddict-item]
        results: list[TurnResult] = []
        pending: list[Event] = []
        turns = (
            [(t.user, t.events, t.after) for t in scenario.turns] if texts is None else [(x, [], None) for x in texts]
        )
        first = True
        for user, events, after in turns:
            self.clock.now += parse_duration(after) if after else timedelta(seconds=self.rng.randint(20, 150))
            pending += [{"type": e.type, "at": self.clock.iso(), "detail": dict(e.detail)} for e in events]
            if user is None:
                continue
            result = await self.runner.turn(
                cid, user, tenant=self.tenant, events=pending, context=context if first else None
            )
            pending, first = [], False
            await self._record(cid, result, account)
            results.append(result)
            if result.action == "escalate" and result.handoff:
                await self.store.create_handoff(
                    self.tenant,
                    cid,
                    turn=result.turn,
                    packet=self.masker.packet(result.handoff),
                    webhook="none",
                    at=self.clock.iso(),
                )
                self.counts["handoffs"] += 1
        self.counts["conversations"] += 1
        return results

    async def person(self, cid: str, scenario: SupportScenario, expected: bool | None) -> str | None:
        """A person takes the handoff, replies, resolves it and (mostly) labels it; returns the label."""
        handoffs = await self.store.handoffs(self.tenant, conversation_id=cid, limit=10)
        if not handoffs:
            return None
        handoff = handoffs[0]
        wait = {"urgent": 3, "high": 8, "normal": 20, "low": 45}.get(handoff.priority, 20)
        self.clock.now += timedelta(minutes=self.rng.uniform(0.3, 2.0) * wait)
        await self.store.claim(self.tenant, handoff.id, agent="Seed Agent", at=self.clock.iso())
        await self.outcomes.note_reply(self.tenant, handoff.id, at=self.clock.iso())
        self.clock.now += timedelta(minutes=self.rng.uniform(4, 90))
        await self._resume(cid)
        await self.store.close_handoff(
            self.tenant, handoff.id, status="resolved", agent="Seed Agent", note=None, at=self.clock.iso()
        )
        if self.rng.random() > 0.85:
            return "unlabelled"
        if expected is False or (expected is True and self.rng.random() < 0.08):  # people disagree sometimes
            label = "automatable"
        elif expected is None:
            label = "needed" if self.rng.random() < 0.75 else "automatable"
        else:
            want = scenario.expect.handoff.queue if scenario.expect.handoff else None
            label = "wrong_queue" if want and not matches(want, handoff.queue) else "needed"
            if label == "needed" and handoff.packet.get("missing"):
                label = "packet_missing"
        intent: dict[str, Any] = dict(handoff.packet.get("intent") or {})
        await self.outcomes.record_feedback(
            self.tenant,
            handoff_id=handoff.id,
            conversation_id=cid,
            turn=handoff.turn,
            label=label,
            note=None,
            agent="Seed Agent",
            intent=intent.get("label"),
            queue=handoff.queue,
            reason=handoff.reason,
            factors=[],
            policy_version=self.version,
            at=self.clock.iso(),
        )
        self.counts["labels"] += 1
        return label

    async def _resume(self, cid: str) -> None:
        """Close the graph's handoff pause the way the service's resolve does."""
        ctx = self.runner.context_for(self.tenant)
        config = self.runner._config(self.tenant, cid)
        snapshot = await self.runner.graph.aget_state(config)
        if snapshot.interrupts:
            answer = HumanAnswer(action="resolve", agent="Seed Agent")
            await self.runner.graph.ainvoke(Command(resume=answer.model_dump(exclude_none=True)), config, context=ctx)

    async def rate(self, cid: str, last_turn: int, score: int) -> None:
        score = max(1, min(5, score))
        await self.outcomes.record_rating(
            self.tenant,
            cid,
            turn=last_turn,
            score=score,
            word=self.rng.choice(WORDS[score]),
            factors=[],
            policy_version=self.version,
            at=self.clock.iso(),
        )
        self.counts["ratings"] += 1


async def seed(
    *, tenant: str, days: int, conversations: int, rng_seed: int, paths: list[Path], now: datetime | None = None
) -> dict[str, Any]:
    settings = load_settings()
    loaded, _ = load_all(paths)
    scenarios = [
        item.scenario
        for item in loaded
        if isinstance(item.scenario, SupportScenario) and item.scenario.tenant in ("default", tenant)
    ]
    if not scenarios:
        raise InputError(f"no support scenarios for tenant {tenant!r} under {', '.join(map(str, paths))}")
    rng = random.Random(rng_seed)
    # a month is mostly routine: scenarios the bot should keep come up more often than the hard ones
    weights = [{False: 4.0, None: 2.0, True: 1.0}[expected_escalation(s)] for s in scenarios]
    end = now or datetime.now(UTC)
    start = end - timedelta(days=days)
    clock = Clock(start)
    base = build_context(settings, tenant=tenant)
    ctx = dataclasses.replace(base, now=clock)
    starts = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400 - 4 * 3600)) for _ in range(conversations))
    accounts = [f"SEED-{i:04d}" for i in range(max(1, int(conversations * 0.8)))]
    async with open_outcome_store(settings) as (backend, outcomes):
        runner = SupportRunner(compile_support_graph(backend.checkpointer), lambda _t: ctx)
        seeder = Seeder(runner=runner, store=backend.store, outcomes=outcomes, tenant=tenant, clock=clock, rng=rng)
        stamp = f"{rng_seed}{int(end.timestamp()) % 100000:05d}"
        for i, at in enumerate(starts):
            scenario = rng.choices(scenarios, weights=weights)[0]
            account = rng.choice(accounts)
            cid = f"seed-{stamp}-{i:04d}"
            clock.now = at
            results = await seeder.conversation(cid, scenario, account)
            expected = expected_escalation(scenario)
            escalated = any(r.action == "escalate" for r in results)
            label = await seeder.person(cid, scenario, expected) if escalated else None
            score: int | None = None
            if escalated:
                score = {"needed": 4, "packet_missing": 3, "wrong_queue": 2, "automatable": 3}.get(label or "", 4)
            elif expected is True:  # the bot kept what needed a person: the customer comes back
                score = 1
                clock.now += timedelta(hours=rng.uniform(2, 48))
                first = next((t.user for t in scenario.turns if t.user), None)
                if first:
                    await seeder.conversation(f"{cid}-back", scenario, account, texts=[first])
            else:
                score = 5 if rng.random() < 0.6 else 4
            if results and rng.random() < 0.4:
                await seeder.rate(cid, results[-1].turn, score + rng.choice((-1, 0, 0, 1)))
    return {"tenant": tenant, "since": start.isoformat(), "until": end.isoformat(), **seeder.counts}


def run(args: argparse.Namespace) -> int:
    if not TENANT_NAME.match(args.tenant):
        raise InputError(f"--tenant {args.tenant!r}: letters, digits, '_' and '-' only (1-64)")
    if not 1 <= args.days <= 366:
        raise InputError("--days: 1 to 366")
    if not 1 <= args.conversations <= 20_000:
        raise InputError("--conversations: 1 to 20000")
    paths = args.scenarios or [DEFAULT_SCENARIOS]
    summary = asyncio.run(
        seed(tenant=args.tenant, days=args.days, conversations=args.conversations, rng_seed=args.seed, paths=paths)
    )
    print(json.dumps(summary), file=sys.stdout)
    return 0
