"""Marketing copy templates (``prompts/marketing.yaml``) and the offline copy made from them.

The copy of a decided send goes through the engine seam (:meth:`tactful.agents.engine.seam.Engine.write_copy`):
the offline engine fills these templates, the model engine improves on them (prompted with the ``model``
section), a scripted engine answers from a list. Whatever writes the text, the output guard
(``tactful.agents.marketing.guard``) checks it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import get_args

from pydantic import Field, model_validator

from tactful.agents.engine.seam import CopyRequest, CopyResult
from tactful.agents.marketing.explanations import Explanations
from tactful.agents.marketing.models import Channel, Goal, PersonState
from tactful.config import Strict, load_yaml_model
from tactful.errors import ConfigError

PLACEHOLDERS = frozenset(
    {"first_name", "company", "title", "summary", "link", "cta", "discount", "help_link", "sender"}
)
SHORT_CHANNELS: frozenset[Channel] = frozenset({"sms", "push"})
_FORMATTER = string.Formatter()


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
    """Prompts of the model engine's copy (``tactful.agents.engine.copy_model``)."""

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
    explanations: Explanations
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


# --------------------------------------------------------------------------- rendering

_MISSING = re.compile(r"\{(\w+)\}")


def _render_lines(lines: Sequence[str], values: dict[str, str]) -> list[str]:
    """Each line filled in; a line that needs a value we do not have is dropped."""
    out: list[str] = []
    for line in lines:
        if any(not values.get(name) for name in _MISSING.findall(line)):
            continue
        out.append(line.format_map(values))
    return out


def render_copy(templates: MarketingTemplates, request: CopyRequest) -> CopyResult:
    """The offline copy: the template for goal × state (or help topic × state), filled in."""
    t = templates
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
