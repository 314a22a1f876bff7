"""Replay scenarios against the support graph and the marketing service.

The run context (policy bundle, fitted intent model, engine) is built once per tenant and shared by every
scenario; each scenario is its own conversation on a fresh in-memory checkpointer thread, with its own clock,
so results do not depend on the order or the parallelism of the run. On CPU-bound engines (offline, scripted)
``jobs > 1`` forks worker processes after the context is built; on the model engine it runs that many
conversations concurrently.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timedelta
from typing import Any, Protocol

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from tactful.agents.archive import forget
from tactful.agents.context import TurnContext
from tactful.agents.state import OOS_LABEL, AccountContext, Event
from tactful.errors import TactfulError
from tactful.evals.records import MarketingRecord, ScenarioRun, TurnRecord
from tactful.evals.scenario import (
    DEFAULT_START,
    KnownNames,
    LoadedScenario,
    MarketingScenario,
    ScenarioError,
    SupportScenario,
    Turn,
    check_names,
    parse_duration,
)
from tactful.graphs.context import build_context
from tactful.graphs.runner import SupportRunner, thread_id
from tactful.graphs.support import compile_support_graph
from tactful.settings import Settings

DEFAULT_STEP = timedelta(minutes=1)
CPU_ENGINES = {"offline", "scripted"}

_clock: contextvars.ContextVar[datetime] = contextvars.ContextVar("eval_clock")


def scenario_now() -> datetime:
    """The current scenario's clock (each scenario runs in its own task, so each sees its own time)."""
    return _clock.get()


class SimulatedMessage(Protocol):
    @property
    def text(self) -> str: ...


class UserSimulator(Protocol):
    """Plays the user of a scenario with a ``simulate`` block; returns ``None`` when the person is done."""

    async def next_message(
        self, scenario: SupportScenario, transcript: Sequence[tuple[str, str]]
    ) -> SimulatedMessage | None: ...


Progress = Callable[[ScenarioRun], None]


def _event(spec_type: str, at: datetime, detail: dict[str, Any], turn: int) -> Event:
    event: Event = {"type": spec_type, "at": at.isoformat()}
    event["detail"] = {"turn": turn, **detail}
    return event


class EvalRunner:
    """Runs scenarios; build once per run and reuse for every scenario."""

    def __init__(self, settings: Settings, *, simulator: UserSimulator | None = None) -> None:
        self.settings = settings
        self.simulator = simulator
        self._contexts: dict[str, TurnContext] = {}
        self._saver = InMemorySaver()
        self._archive = InMemoryStore()
        self._support = SupportRunner(compile_support_graph(self._saver, store=self._archive), self.context_for)
        self._marketing: Any = None
        self._marketing_error: str | None = None

    # ------------------------------------------------------------------ shared context

    def context_for(self, tenant: str) -> TurnContext:
        ctx = self._contexts.get(tenant)
        if ctx is None:
            base = build_context(self.settings, tenant=tenant)
            ctx = dataclasses.replace(base, now=scenario_now)
            self._contexts[tenant] = ctx
        return ctx

    def prepare(self, scenarios: Sequence[LoadedScenario]) -> None:
        """Build every tenant's context (and the marketing service) up front, before any fork."""
        for item in scenarios:
            if isinstance(item.scenario, SupportScenario):
                self.context_for(item.scenario.tenant)
            elif self._marketing is None and self._marketing_error is None:
                self._load_marketing()

    def check_names(
        self, items: Sequence[LoadedScenario]
    ) -> tuple[list[LoadedScenario], list[ScenarioError]]:
        """Split off scenarios that expect an intent or queue their tenant's policy does not know (typos)."""
        kept: list[LoadedScenario] = []
        errors: list[ScenarioError] = []
        for item in items:
            problem = None
            if isinstance(item.scenario, SupportScenario):
                problem = check_names(item, self._known(item.scenario.tenant))
            if problem is None:
                kept.append(item)
            else:
                errors.append(problem)
        return kept, errors

    def _known(self, tenant: str) -> KnownNames:
        bundle = self.context_for(tenant).bundle
        taxonomy = bundle.taxonomy
        queues = {spec.queue for spec in taxonomy.intents} | {taxonomy.out_of_scope.queue}
        queues |= {t.queue for t in bundle.policy.triggers.values() if t.queue}
        return KnownNames(
            intents=frozenset({spec.name for spec in taxonomy.intents} | {OOS_LABEL}),
            queues=frozenset(queues),
        )

    def _load_marketing(self) -> None:
        try:
            from tactful.agents.marketing.alerts import InMemoryAlertSink
            from tactful.graphs.marketing_service import MarketingRequest, MarketingService
        except ImportError as exc:
            self._marketing_error = f"marketing service not available ({exc})"
            return
        # Through the compiled marketing graph, on the scenario clock, with alerts kept in memory (not sent).
        self._marketing = MarketingService(
            self.settings, alert_sink=InMemoryAlertSink(), via_graph=True, now=scenario_now
        )
        self._marketing_request = MarketingRequest

    # ------------------------------------------------------------------ one scenario

    async def run(self, item: LoadedScenario) -> ScenarioRun:
        scenario = item.scenario
        try:
            if isinstance(scenario, MarketingScenario):
                return await self._run_marketing(item.path, scenario)
            if self.simulator is not None and scenario.simulate is not None:
                return await self._run_simulated(item.path, scenario, self.simulator)
            return await self._run_support(item.path, scenario)
        except (TactfulError, ValueError, KeyError, TypeError, AssertionError) as exc:
            return ScenarioRun(
                id=scenario.id, product=scenario.product, path=item.path, error=f"{type(exc).__name__}: {exc}"
            )

    async def _turn(
        self,
        scenario: SupportScenario,
        *,
        number: int,
        text: str,
        events: list[Event],
        context: AccountContext | None,
        mode_before: str,
        restates: bool,
    ) -> TurnRecord:
        result = await self._support.turn(
            self._conversation(scenario),
            text,
            tenant=scenario.tenant,
            events=events,
            context=context,
            message_id=f"{scenario.id}:{number}",
        )
        return TurnRecord(
            turn=number,
            user=text,
            events=events,
            at=_clock.get().isoformat(),
            mode_before="human" if mode_before == "human" else "bot",
            restates=restates,
            result=result,
        )

    @staticmethod
    def _conversation(scenario: SupportScenario) -> str:
        return f"eval:{scenario.id}"

    async def _forget(self, scenario: SupportScenario) -> None:
        thread = thread_id(scenario.tenant, self._conversation(scenario))
        await self._saver.adelete_thread(thread)
        await forget(self._archive, thread)

    async def _run_support(self, path: str, scenario: SupportScenario) -> ScenarioRun:
        now = scenario.start
        pending: list[tuple[Turn, datetime]] = []
        records: list[TurnRecord] = []
        mode = "bot"
        number = 0
        await self._forget(scenario)
        try:
            for turn in scenario.turns:
                now += parse_duration(turn.after) if turn.after else DEFAULT_STEP
                if turn.user is None:
                    pending.append((turn, now))
                    continue
                number += 1
                _clock.set(now)
                events = [
                    _event(e.type, e.at or at, dict(e.detail), number)
                    for t, at in [*pending, (turn, now)]
                    for e in t.events
                ]
                pending = []
                context: dict[str, Any] = {}
                if number == 1:
                    context.update(scenario.context)
                context.update(turn.context or {})
                record = await self._turn(
                    scenario,
                    number=number,
                    text=turn.user,
                    events=events,
                    context=context or None,  # type: ignore[arg-type]
                    mode_before=mode,
                    restates=turn.restates,
                )
                records.append(record)
                mode = record.result.mode
        finally:
            await self._forget(scenario)
        return ScenarioRun(id=scenario.id, product="support", path=path, turns=records)

    async def _run_simulated(
        self, path: str, scenario: SupportScenario, simulator: UserSimulator
    ) -> ScenarioRun:
        assert scenario.simulate is not None
        now = scenario.start
        transcript: list[tuple[str, str]] = []
        records: list[TurnRecord] = []
        await self._forget(scenario)
        try:
            for number in range(1, scenario.simulate.max_turns + 1):
                message = await simulator.next_message(scenario, transcript)
                if message is None:
                    break
                now += DEFAULT_STEP
                _clock.set(now)
                mode_before = records[-1].result.mode if records else "bot"
                restates = _restates(message.text, [u for role, u in transcript if role == "user"])
                record = await self._turn(
                    scenario,
                    number=number,
                    text=message.text,
                    events=[],
                    context=dict(scenario.context) if number == 1 and scenario.context else None,  # type: ignore[arg-type]
                    mode_before=mode_before,
                    restates=restates,
                )
                records.append(record)
                transcript.append(("user", message.text))
                if record.result.reply:
                    transcript.append(("bot", record.result.reply))
                if record.result.mode == "human":
                    break
        finally:
            await self._forget(scenario)
        return ScenarioRun(id=scenario.id, product="support", path=path, source="simulated", turns=records)

    async def _run_marketing(self, path: str, scenario: MarketingScenario) -> ScenarioRun:
        if self._marketing is None and self._marketing_error is None:
            self._load_marketing()
        if self._marketing is None:
            return ScenarioRun(id=scenario.id, product="marketing", path=path, skipped=self._marketing_error)
        _clock.set(DEFAULT_START)
        payload = {"send_at": DEFAULT_START.isoformat(), **scenario.request}
        request = self._marketing_request.model_validate(payload)
        outcome = await self._marketing.decide(request, tenant=scenario.tenant)
        return ScenarioRun(
            id=scenario.id, product="marketing", path=path, marketing=marketing_record(outcome)
        )

    # ------------------------------------------------------------------ many scenarios

    async def run_many(
        self, items: Sequence[LoadedScenario], *, concurrency: int = 1, progress: Progress | None = None
    ) -> list[ScenarioRun]:
        """Run in this process, ``concurrency`` conversations at a time; results sorted by scenario id."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(item: LoadedScenario) -> ScenarioRun:
            async with gate:
                run = await self.run(item)  # each gathered coroutine is its own task: its own clock
            if progress:
                progress(run)
            return run

        runs = await asyncio.gather(*(one(item) for item in items))
        return sorted(runs, key=lambda r: r.id)


def _restates(text: str, earlier: Sequence[str]) -> bool:
    from tactful.evals.detectors import restates_earlier

    return restates_earlier(text, earlier)


def marketing_record(outcome: Any) -> MarketingRecord:
    """Normalise whatever the marketing service returned (a pydantic model or a mapping) into a record."""
    raw: dict[str, Any] = outcome.model_dump(mode="json") if hasattr(outcome, "model_dump") else dict(outcome)
    alert_key = next((k for k in ("concierge", "concierge_alert") if k in raw), None)
    return MarketingRecord(
        decision=str(raw.get("action", raw.get("decision", ""))),
        reason=str(raw.get("reason", "")),
        factors=[f if isinstance(f, dict) else {"name": str(f)} for f in raw.get("factors") or []],
        message=_message_text(raw.get("message")),
        concierge_alert=None if alert_key is None else bool(raw[alert_key]),
        raw=raw,
    )


def _message_text(message: Any) -> str | None:
    if message is None or isinstance(message, str):
        return message
    if isinstance(message, dict):
        parts = [str(message[k]) for k in ("subject", "title", "body", "text", "cta") if message.get(k)]
        return "\n".join(parts) or None
    return str(message)


# ---------------------------------------------------------------------- process parallelism

_worker: EvalRunner | None = None


def _run_chunk(items: list[LoadedScenario]) -> list[ScenarioRun]:
    assert _worker is not None
    return asyncio.run(_worker.run_many(items))


def run_scenarios(
    runner: EvalRunner,
    items: Sequence[LoadedScenario],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[ScenarioRun]:
    """Run every scenario, across ``jobs`` processes (CPU engines) or conversations (model engine)."""
    global _worker
    runner.prepare(items)
    cpu = runner.settings.engine in CPU_ENGINES
    if jobs <= 1 or not cpu or len(items) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return asyncio.run(runner.run_many(items, concurrency=jobs, progress=progress))
    _worker = runner
    chunk = max(1, min(8, len(items) // (jobs * 4) or 1))
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    runs: list[ScenarioRun] = []
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_run_chunk, c) for c in chunks]
            for future in as_completed(futures):
                for run in future.result():
                    runs.append(run)
                    if progress:
                        progress(run)
    finally:
        _worker = None
    return sorted(runs, key=lambda r: r.id)


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))
