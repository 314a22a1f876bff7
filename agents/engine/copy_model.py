"""Marketing copy from a model: the facts it is given, the prompt, and the structured answer it must return.

The model engine sends one structured call per send (:class:`ModelCopy`), prompted with the decision's facts and
the template draft (``prompts/marketing.yaml``, section ``model``); the output guard checks what comes back like
any other draft.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from tactful.agents.engine.seam import CopyRequest, CopyResult
from tactful.agents.engine.tokens import ChatTurn
from tactful.agents.marketing.templates import ModelPrompts
from tactful.agents.prompts import Prompt

COPY_MAX_TOKENS = 400
DEFAULT_MAX_CHARS = 1200


class ModelCopy(BaseModel):
    """The model's message: a subject line (used by e-mail only) and the body."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    subject: str = Field(max_length=200)
    body: str = Field(min_length=1, max_length=4000)


def copy_facts(request: CopyRequest) -> str:
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


def copy_messages(prompts: ModelPrompts, request: CopyRequest, template: CopyResult) -> list[ChatTurn]:
    user = Prompt(name="marketing/user", version="1", text=prompts.user).render(
        facts=copy_facts(request),
        draft=f"Subject: {template.subject}\n{template.body}" if template.subject else template.body,
        avoid=", ".join(request.avoid) or "nothing in particular",
        max_chars=str(request.max_chars or DEFAULT_MAX_CHARS),
    )
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user}]


def copy_reask(prompts: ModelPrompts) -> Prompt:
    return Prompt(name="marketing/reask", version="1", text=prompts.reask)


def copy_result(answer: ModelCopy, request: CopyRequest, template: CopyResult) -> CopyResult:
    subject = answer.subject.strip() if request.channel == "email" else None
    return CopyResult(subject=subject or template.subject, body=answer.body.strip(), source="model")
