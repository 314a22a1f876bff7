"""Simulated users: a model plays the person of a scenario's ``simulate`` block (persona, goal), turn by turn.

Talks to the OpenAI-compatible server of ``Settings`` through the engine's
:class:`~tactful.agents.engine.client.ModelClient` — the one layer that retries, with its circuit breaker and a
validated structured answer, re-asked once. The prompt: ``evals/prompts/simulated_user.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tactful.agents.engine.budget import TurnBudgets
from tactful.agents.engine.client import ModelClient, Structured, UsageMeter
from tactful.agents.engine.tokens import ChatTurn
from tactful.agents.prompts import load_prompt
from tactful.evals.scenario import SupportScenario
from tactful.settings import Settings

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
MAX_TOKENS = 300


class SimulatedTurn(BaseModel):
    """The person's next message, and whether they are done."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    message: str
    done: bool


@dataclass(frozen=True)
class UserMessage:
    text: str


class OpenAIUserSimulator:
    """Asks the model for the person's next message; ``None`` once the person is done."""

    def __init__(self, settings: Settings, *, client: ModelClient | None = None) -> None:
        self.settings = settings
        self.client = client or ModelClient(settings=settings)
        self.model = settings.model_responder or settings.model
        self.prompt = load_prompt(PROMPTS_DIR, "simulated_user")
        self.spec = Structured(
            name="simulated_user",
            output=SimulatedTurn,
            reask=load_prompt(Path(settings.prompts_dir), "model/reask"),
        )
        self.budgets = TurnBudgets(settings, clock=self.client.clock)
        self.meter = UsageMeter(settings=settings)

    def messages(self, scenario: SupportScenario, transcript: Sequence[tuple[str, str]]) -> list[ChatTurn]:
        """The model's view: the persona as system prompt; the bot is ``user``, the person ``assistant``."""
        assert scenario.simulate is not None
        system = self.prompt.render(persona=scenario.simulate.persona, goal=scenario.simulate.goal)
        out: list[ChatTurn] = [{"role": "system", "content": system}]
        for who, text in transcript:
            out.append({"role": "assistant" if who == "user" else "user", "content": text})
        if not transcript:
            out.append({"role": "user", "content": "(The chat window is open. Write your first message.)"})
        return out

    async def next_message(
        self, scenario: SupportScenario, transcript: Sequence[tuple[str, str]]
    ) -> UserMessage | None:
        assert scenario.simulate is not None
        if not transcript and scenario.simulate.opening:
            return UserMessage(scenario.simulate.opening)
        turn = await self.client.structured(
            model=self.model,
            messages=self.messages(scenario, transcript),
            spec=self.spec,
            budget=self.budgets.fresh(),
            meter=self.meter,
            max_tokens=MAX_TOKENS,
        )
        text = turn.message.strip()
        if turn.done or not text:
            return None
        return UserMessage(text)
