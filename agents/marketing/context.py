"""Run-scoped context of the marketing graph (kept apart from state): the tenant's policy, templates, the
sentiment reasoner, the engine that writes the copy (and the offline fallback whose template replaces a draft
the guard stops) and the alert sink. Built once per tenant; invalid files fail here, at start-up."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from tactful.agents.engine.seam import Engine, Fallback
from tactful.agents.marketing.alerts import AlertSink, LoggingAlertSink
from tactful.agents.marketing.policy import MarketingPolicy, load_marketing_policy, policy_path
from tactful.agents.marketing.signals import SentimentCache
from tactful.agents.marketing.templates import MarketingTemplates, load_marketing_templates
from tactful.agents.sentiment.model import SentimentReasoner, load_signal_config
from tactful.errors import ConfigError, InputError
from tactful.settings import Settings

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COPY_NOTES = {"offline": "templates", "openai": "model"}  # who writes the copy, as the decision's factor says


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MarketingContext:
    tenant: str
    settings: Settings
    policy: MarketingPolicy
    templates: MarketingTemplates
    reasoner: SentimentReasoner
    engine: Engine  # writes the copy (``write_copy``)
    offline: Fallback  # renders the safe template when the guard stops a draft
    copy_note: str
    alert_sink: AlertSink
    sentiment_cache: SentimentCache = field(default_factory=SentimentCache)
    now: Callable[[], datetime] = field(default=utcnow)


def check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant) or ".." in tenant:
        raise InputError(f"invalid tenant name {tenant!r}: letters, digits, '.', '_' and '-' only")
    return tenant


def _tenant_file(policy_dir: Path, tenant: str, name: str) -> Path:
    own = policy_dir / "tenants" / tenant / name
    return own if tenant != "default" and own.is_file() else policy_dir / name


@lru_cache(maxsize=16)
def _reasoner(signals_path: Path) -> tuple[SentimentReasoner, frozenset[str]]:
    """The sentiment reasoner for a signals file and the event types it knows (parsed once per file)."""
    config = load_signal_config(signals_path)
    return SentimentReasoner(config), frozenset(config.events.weights) | frozenset(config.events.aliases)


def build_marketing_context(
    settings: Settings,
    *,
    tenant: str = "default",
    policy_dir: Path | None = None,
    engine: Engine,
    offline: Fallback,
    alert_sink: AlertSink | None = None,
    now: Callable[[], datetime] | None = None,
) -> MarketingContext:
    """The context for ``tenant``, whose copy ``engine`` writes; a bad policy or template file raises
    :class:`ConfigError` with file and line."""
    check_tenant(tenant)
    directory = Path(policy_dir or settings.policy_dir)
    signals_path = _tenant_file(directory, tenant, "signals.yaml")
    reasoner, known = _reasoner(signals_path.resolve())
    policy = load_marketing_policy(policy_path(directory, tenant), known_signals=set(known))
    templates = load_marketing_templates(Path(settings.prompts_dir))
    missing = sorted(set(policy.help_topics) - set(templates.help))
    if missing:
        raise ConfigError(
            f"help_topics {', '.join(missing)} have no template in prompts/marketing.yaml `help`",
            path=policy_path(directory, tenant),
        )
    return MarketingContext(
        tenant=tenant,
        settings=settings,
        policy=policy,
        templates=templates,
        reasoner=reasoner,
        engine=engine,
        offline=offline,
        copy_note=COPY_NOTES.get(engine.name, engine.name),
        alert_sink=alert_sink or LoggingAlertSink(),
        now=now or utcnow,
    )
