"""After "that didn't work", the assist reply offers options and never resends the failed steps — also when the
earlier reply was written by a model, which carries the template's steps in its own order and spacing."""

from __future__ import annotations

from typing import Any

from tactful.agents.engine.seam import ReplyRequest
from tactful.agents.guards.grounding import sentences
from tactful.agents.responder.templates import reply_parts
from tests.support_helpers import shared_context


def _message(role: str, text: str, turn: int) -> Any:
    return {"role": role, "text": text, "turn": turn, "at": "2026-01-01T00:00:00+00:00"}


def _request(earlier_bot_reply: str) -> ReplyRequest:
    ctx = shared_context()
    intent: Any = {"label": "sso_confusion", "confidence": 0.99, "runner_up": None, "out_of_scope": False,
                   "risk": "medium", "queue": ctx.bundle.taxonomy.by_name["sso_confusion"].queue,
                   "source": "offline"}  # fmt: skip
    return ReplyRequest(
        turn_key="c:2",
        action="assist",
        tone="standard",
        intent=intent,
        sentiment=None,
        decision=None,
        context={},
        messages=[
            _message("user", "how do I sign in with sso?", 1),
            _message("bot", earlier_bot_reply, 1),
            _message("user", "that didn't work", 2),
        ],
    )


def test_steps_a_model_reply_already_carried_are_not_sent_again() -> None:
    templates = shared_context().templates
    steps = sentences(templates.answers["sso_confusion"].standard)
    # A model's reply: its own opening, then one of the template's sentences, not the whole block verbatim.
    model_reply = f'Single sign-on can be confusing.\n{steps[0]}\nReply "agent" any time to reach a person.'
    assert templates.answers["sso_confusion"].standard not in model_reply
    parts = reply_parts(templates, _request(model_reply))
    assert parts.body == () and parts.options  # options instead of the steps that failed


def test_steps_never_sent_are_still_given() -> None:
    templates = shared_context().templates
    parts = reply_parts(templates, _request("Could you tell me which sign-in page you use?"))
    assert parts.body == (templates.answers["sso_confusion"].standard,)
