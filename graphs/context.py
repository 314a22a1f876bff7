"""Building the run-scoped context of support turns (:class:`tactful.agents.context.TurnContext`).

Building a context reads the tenant's files and fits its intent model, so contexts are cached per
(tenant, settings, engine factory) and shared by every turn of that tenant — and by the marketing generator,
whose copy goes through the same engine. :func:`resolve_context` turns the JSON context a LangGraph run carries
(:class:`~tactful.agents.context.RunContext`) into that cached context; a first build runs in a worker thread,
so no run blocks the event loop on file reads or fitting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path

from tactful.agents.context import RunContext, TurnContext
from tactful.agents.engine.offline import OfflineEngine, fit_taxonomy_model
from tactful.agents.engine.seam import Engine, Fallback
from tactful.agents.guards.grounding import Grounding, framing_headings
from tactful.agents.guards.rules import Guards
from tactful.agents.intent.cache import default_cache_dir
from tactful.agents.marketing.templates import load_marketing_templates
from tactful.agents.notes import load_agent_notes
from tactful.agents.policy.files import load_bundle
from tactful.agents.prompts import model_texts, system_texts
from tactful.agents.responder.templates import load_templates
from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.errors import InputError
from tactful.settings import Settings, get_settings

EngineFactory = Callable[[Settings, Fallback], Engine]

_cache: dict[tuple[str, str, EngineFactory | None], TurnContext] = {}
_lock = threading.Lock()


def _default_engine_factory(settings: Settings, offline: Fallback) -> Engine:
    if settings.engine == "offline":
        return offline
    if settings.engine == "openai":
        from tactful.agents.engine.openai_compatible import OpenAIEngine

        return OpenAIEngine(settings=settings, fallback=offline)
    from tactful.agents.engine.scripted import ScriptedEngine

    return ScriptedEngine(fallback=offline)


def build_context(
    settings: Settings,
    *,
    tenant: str | None = None,
    engine_factory: EngineFactory | None = None,
    cache: bool = True,
) -> TurnContext:
    """The context for ``tenant`` (default: the settings' tenant); invalid files raise ConfigError."""
    tenant = tenant or settings.tenant
    factory = engine_factory or _default_engine_factory
    # Every setting (two services with different models must not share a context) and the factory itself (not
    # its id, which Python reuses after garbage collection) tell contexts apart.
    key = (tenant, settings.model_dump_json(), engine_factory)
    if cache:
        with _lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit
    prompts = Path(settings.prompts_dir)
    bundle = load_bundle(Path(settings.policy_dir), tenant)
    templates = load_templates(prompts)
    notes = load_agent_notes(prompts)
    signals = load_signal_config(Path(settings.policy_dir) / "signals.yaml")
    offline = OfflineEngine(
        taxonomy=bundle.taxonomy,
        intent_model=fit_taxonomy_model(bundle.taxonomy, cache_dir=intent_cache_dir(settings)),
        reasoner=SentimentReasoner(signals),
        templates=templates,
        summary=notes.summary,
        copy_templates=load_marketing_templates(prompts),
    )
    ctx = TurnContext(
        tenant=tenant,
        engine=factory(settings, offline),
        offline=offline,
        bundle=bundle,
        guards=Guards(
            bundle,
            system_texts=system_texts(prompts),
            leak_texts=(*system_texts(prompts), *model_texts(prompts)),
            leak_allowed=_reply_texts(prompts),
            grounding=Grounding(bundle.grounding, headings=framing_headings(model_texts(prompts))),
        ),
        templates=templates,
        notes=notes,
        settings=settings,
    )
    if cache:
        with _lock:
            _cache[key] = ctx
    return ctx


def intent_cache_dir(settings: Settings) -> Path | None:
    """Where fitted intent models are cached, or None when ``intent_cache`` is off."""
    if not settings.intent_cache:
        return None
    return settings.cache_dir or default_cache_dir()


def _reply_texts(prompts: Path) -> tuple[str, ...]:
    """What the bot's own templates say: a draft repeating them quotes no prompt."""
    return tuple(p.read_text(encoding="utf-8") for p in sorted(prompts.glob("*.yaml")))


def clear_context_cache() -> None:
    with _lock:
        _cache.clear()
    _resolved.clear()


_RUN_FIELDS = frozenset(f.name for f in fields(RunContext))
_resolved: dict[RunContext, TurnContext] = {}


def run_context(value: object) -> RunContext:
    """``value`` (None, a mapping from a run's JSON, or a RunContext) as a validated :class:`RunContext`."""
    if value is None:
        return RunContext()
    if isinstance(value, RunContext):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - _RUN_FIELDS)
        if unknown:
            raise InputError(f"context: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(_RUN_FIELDS))})")
        return RunContext(**{str(k): v for k, v in value.items()})
    raise InputError(f"context must be an object with {', '.join(sorted(_RUN_FIELDS))}, not {type(value).__name__}")


def _build_for(run: RunContext) -> TurnContext:
    settings = get_settings()
    if run.engine is not None and run.engine != settings.engine:
        settings = settings.model_copy(update={"engine": run.engine})
    return build_context(settings, tenant=run.tenant)


async def resolve_context(value: object) -> TurnContext:
    """The live context for a run: a :class:`TurnContext` as given; otherwise the cached one for the run's
    JSON context (tenant, engine), built off the event loop the first time."""
    if isinstance(value, TurnContext):
        return value
    run = run_context(value)
    hit = _resolved.get(run)
    if hit is not None:
        return hit
    ctx = await asyncio.to_thread(_build_for, run)
    return _resolved.setdefault(run, ctx)

