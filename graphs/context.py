"""Building the run-scoped context of support turns (:class:`tactful.agents.context.TurnContext`).

Building a context fits the tenant's intent model from its taxonomy, so contexts are cached per
(tenant, settings, engine factory) and shared by every turn of that tenant — and by the marketing generator,
whose copy goes through the same engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from tactful.agents.context import TurnContext
from tactful.agents.engine.offline import OfflineEngine, fit_taxonomy_model
from tactful.agents.engine.seam import Engine, Fallback
from tactful.agents.guards.grounding import Grounding, framing_headings
from tactful.agents.guards.rules import Guards
from tactful.agents.marketing.templates import load_marketing_templates
from tactful.agents.notes import load_agent_notes
from tactful.agents.policy.files import load_bundle
from tactful.agents.prompts import model_texts, system_texts
from tactful.agents.responder.templates import load_templates
from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.settings import Settings

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
        intent_model=fit_taxonomy_model(bundle.taxonomy),
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


def clear_context_cache() -> None:
    with _lock:
        _cache.clear()
