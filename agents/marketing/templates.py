"""The marketing copywriter: turns a decided send (goal, content, the person's state, channel) into a message.

One small seam, :class:`Copywriter`, with the offline :class:`TemplateCopywriter` (``prompts/marketing.yaml``,
deterministic) and :class:`ScriptedCopywriter` (a fake for tests and evals). A model-backed copywriter plugs
in through :func:`copywriter_for` when ``tactful.agents.engine.openai_compatible`` offers
``marketing_copywriter(settings, fallback=...)``. Whatever writes the text, the output guard
(``tactful.agents.marketing.guard``) checks it.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol, get_args, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tactful.agents.marketing.models import Channel, Content, ContentKind, Goal, PersonState
from tactful.config import Strict, load_yaml_model
from tactful.errors import ConfigError
from tactful.settings import Settings

PLACEHOLDERS = frozenset(
    {"first_name", "company", "title", "summary", "link", "cta", "discount", "help_link", "sender"}
)
SHORT_CHANNELS: frozenset[Channel] = frozenset({"sms", "push"})
_FORMATTER = string.Formatter()

Avoid = Literal["promotion", "discount", "pressure"]


# --------------------------------------------------------------------------- templates


def _fields(text: str) -> list[str]:
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad placeholder syntax in {text!r}: {exc}") from exc


class Template(Strict):
    subject: str
    body: list[str] = Field(min_length=1)
    short: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_placeholders(self) -> Template:
        for text in (self.subject, *self.body, *self.short):
            for name in _fields(text):
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder {{{name}}} in {text!r}; known: {sorted(PLACEHOLDERS)}"
                    )
        return self


class CampaignTemplates(Strict):
    steady: Template
    curious: Template | None = None
    engaged: Template | None = None
    leaving: Template | None = None

    def pick(self, state: PersonState) -> Template:
        chosen: Template | None = (
            getattr(self, state, None) if state in ("curious", "engaged", "leaving") else None
        )
        return chosen or self.steady


class HelpTemplates(Strict):
    struggling: Template
    leaving: Template | None = None

    def pick(self, state: PersonState) -> Template:
        return self.leaving if state == "leaving" and self.leaving else self.struggling


class Greeting(Strict):
    named: str
    anonymous: str


class ModelPrompts(Strict):
    """Prompts of the model copywriter (``tactful.agents.marketing.model_copy``)."""

    system: str
    user: str
    reask: str

    @model_validator(mode="after")
    def _known_placeholders(self) -> ModelPrompts:
        allowed = {"user": {"facts", "draft", "avoid", "max_chars"}, "reask": {"error"}}  # system: sent as is
        for name, names in allowed.items():
            for field_name in _fields(getattr(self, name)):
                if field_name not in names:
                    raise ValueError(f"{name}: unknown placeholder {{{field_name}}}; known: {sorted(names)}")
        return self


class MarketingTemplates(Strict):
    version: int = 1
    sender: str
    greeting: Greeting
    campaign: dict[Goal, CampaignTemplates]
    help: dict[str, HelpTemplates]
    model: ModelPrompts

    @model_validator(mode="after")
    def _complete(self) -> MarketingTemplates:
        missing = sorted(set(get_args(Goal)) - set(self.campaign))
        if missing:
            raise ValueError(f"campaign: no templates for goal(s) {', '.join(missing)}")
        if "general" not in self.help:
            raise ValueError("help: a `general` topic is required")
        return self


@lru_cache(maxsize=8)
def load_marketing_templates(prompts_dir: Path) -> MarketingTemplates:
    path = prompts_dir / "marketing.yaml"
    if not path.is_file():
        raise ConfigError("marketing templates not found", path=path)
    return load_yaml_model(path, MarketingTemplates)


# --------------------------------------------------------------------------- the seam


class CopyRequest(BaseModel):
    """Everything a copywriter needs; also what a model engine is prompted with."""

    model_config = ConfigDict(frozen=True)

    goal: Goal
    kind: ContentKind
    state: PersonState
    channel: Channel
    content: Content
    first_name: str | None = None
    company: str | None = None
    help_topic: str = "general"
    help_link: str = ""
    max_chars: int | None = None
    avoid: tuple[Avoid, ...] = ()


class CopyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str | None
    body: str
    source: Literal["offline", "model", "scripted"] = "offline"
    degraded: bool = False


@runtime_checkable
class Copywriter(Protocol):
    name: str

    async def write(self, request: CopyRequest) -> CopyResult: ...


_MISSING = re.compile(r"\{(\w+)\}")


def _render_lines(lines: Sequence[str], values: dict[str, str]) -> list[str]:
    """Each line filled in; a line that needs a value we do not have is dropped."""
    out: list[str] = []
    for line in lines:
        if any(not values.get(name) for name in _MISSING.findall(line)):
            continue
        out.append(line.format_map(values))
    return out


class TemplateCopywriter:
    """The offline copywriter: picks the template by goal × state (or help topic × state) and fills it."""

    name = "offline"

    def __init__(self, templates: MarketingTemplates) -> None:
        self.templates = templates

    def render(self, request: CopyRequest) -> CopyResult:
        t = self.templates
        if request.kind == "help":
            topic = t.help.get(request.help_topic) or t.help["general"]
            template = topic.pick(request.state)
        else:
            template = t.campaign[request.goal].pick(request.state)
        content = request.content
        discount = (
            f"{content.discount_pct:g}" if content.discount_pct and "discount" not in request.avoid else ""
        )
        values = {
            "first_name": request.first_name or "",
            "company": request.company or "",
            "title": content.title,
            "summary": content.summary,
            "link": content.link or "",
            "cta": content.cta or "",
            "discount": discount,
            "help_link": content.link if content.kind == "help" and content.link else request.help_link,
            "sender": t.sender,
        }
        short = request.channel in SHORT_CHANNELS
        lines = _render_lines(template.short if short else template.body, values)
        if short:
            return CopyResult(subject=None, body=" ".join(lines), source="offline")
        subject = template.subject.format_map(values)
        if request.channel != "email":  # in-app, whatsapp: the subject line leads the message
            return CopyResult(subject=None, body="\n\n".join([subject, *lines]), source="offline")
        greeting = (t.greeting.named if request.first_name else t.greeting.anonymous).format_map(values)
        body = "\n\n".join([greeting, *lines, f"— {t.sender}"])
        return CopyResult(subject=subject, body=body, source="offline")

    async def write(self, request: CopyRequest) -> CopyResult:
        return self.render(request)


class ScriptedCopywriter:
    """A fake that returns scripted drafts in order (the last one repeats) and records every request."""

    name = "scripted"

    def __init__(self, drafts: Sequence[CopyResult | str]) -> None:
        if not drafts:
            raise ValueError("ScriptedCopywriter needs at least one draft")
        self.drafts = [
            d if isinstance(d, CopyResult) else CopyResult(subject="Scripted", body=d, source="scripted")
            for d in drafts
        ]
        self.requests: list[CopyRequest] = []

    async def write(self, request: CopyRequest) -> CopyResult:
        draft = self.drafts[min(len(self.requests), len(self.drafts) - 1)]
        self.requests.append(request)
        if request.channel != "email" and draft.subject is not None:
            draft = draft.model_copy(update={"subject": None})
        return draft


def copywriter_for(settings: Settings, templates: MarketingTemplates) -> tuple[Copywriter, str]:
    """(copywriter, note) for the configured engine: templates for offline and scripted, the model copywriter
    (``tactful.agents.marketing.model_copy``) for openai. A missing model layer falls back to templates, and the note
    says so."""
    offline = TemplateCopywriter(templates)
    if settings.engine != "openai":
        return offline, "templates"
    try:
        module = importlib.import_module("tactful.agents.marketing.model_copy")
    except ImportError as exc:
        return offline, f"templates (model copywriter unavailable: {exc})"
    writer: Copywriter = module.marketing_copywriter(settings, offline)
    return writer, "model"
