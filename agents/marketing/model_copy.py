"""The model copywriter: marketing copy from any OpenAI-compatible server, through the shared model client.

One structured call per send (``{"subject", "body"}``), prompted with the decision's facts and the template
draft; retries, timeouts and the circuit breaker belong to :class:`tactful.agents.engine.client.ModelClient`. When the
model fails, the template draft answers and the result says ``degraded``. The output guard checks the model's
text like any other draft and falls back to the template when it fails.
"""

from __future__ import annotations

import asyncio
import json
import time

from pydantic import BaseModel, ConfigDict, Field

from tactful.agents.engine.client import Clock, ModelClient, Sleep, Structured, UsageMeter
from tactful.agents.marketing.copywriter import CopyRequest, CopyResult, TemplateCopywriter
from tactful.agents.prompts import Prompt
from tactful.errors import EngineError
from tactful.settings import Settings

COPY_MAX_TOKENS = 400
COPY_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
    "required": ["subject", "body"],
    "additionalProperties": False,
}


class ModelDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=200)
    body: str = Field(min_length=1, max_length=4000)


def facts(request: CopyRequest) -> str:
    """What the model may say, as compact JSON: nothing it is not given."""
    content = request.content
    data = {
        "goal": request.goal,
        "message_kind": request.kind,
        "person_state": request.state,
        "channel": request.channel,
        "first_name": request.first_name,
        "company": request.company,
        "title": content.title,
        "summary": content.summary,
        "link": content.link if request.kind != "help" else None,
        "help_topic": request.help_topic if request.kind == "help" else None,
        "help_link": request.help_link if request.kind == "help" else None,
        "discount_pct": content.discount_pct if "discount" not in request.avoid else None,
    }
    return json.dumps({k: v for k, v in data.items() if v not in (None, "")}, ensure_ascii=False)


class ModelCopywriter:
    name = "model"

    def __init__(
        self,
        *,
        settings: Settings,
        fallback: TemplateCopywriter,
        client: ModelClient | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.clock = clock
        self.client = client or ModelClient(settings=settings, sleep=sleep, clock=clock)
        prompts = fallback.templates.model
        self.system = prompts.system
        self.user = Prompt(name="marketing/user", version="1", text=prompts.user)
        self.spec = Structured(
            name="marketing_copy",
            schema=COPY_SCHEMA,
            reask=Prompt(name="marketing/reask", version="1", text=prompts.reask),
        )

    async def write(self, request: CopyRequest) -> CopyResult:
        template = self.fallback.render(request)
        user = self.user.render(
            facts=facts(request),
            draft=f"Subject: {template.subject}\n{template.body}" if template.subject else template.body,
            avoid=", ".join(request.avoid) or "nothing in particular",
            max_chars=str(request.max_chars or 1200),
        )
        try:
            draft = await self.client.structured(
                model=self.settings.model_responder or self.settings.model,
                messages=[{"role": "system", "content": self.system}, {"role": "user", "content": user}],
                spec=self.spec,
                parse=ModelDraft.model_validate_json,
                deadline=self.clock() + self.settings.turn_deadline_s,
                meter=UsageMeter(settings=self.settings),
                max_tokens=COPY_MAX_TOKENS,
            )
        except EngineError:
            return template.model_copy(update={"degraded": True})
        subject = draft.subject.strip() if request.channel == "email" else None
        return CopyResult(subject=subject or template.subject, body=draft.body.strip(), source="model")


def marketing_copywriter(settings: Settings, fallback: TemplateCopywriter) -> ModelCopywriter:
    return ModelCopywriter(settings=settings, fallback=fallback)
