"""What one turn may spend on the model: a deadline and a number of requests, shared by every call of the turn.

The analysis, the streamed reply and the handoff summary of a turn draw on one :class:`TurnBudget`; every request
takes one from it — first tries, retries and re-asks alike — so a turn sends at most ``turn_max_requests``
requests whatever fails. :class:`TurnBudgets` finds a turn's budget from the turn key its specialists use.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tactful.errors import ModelUnavailableError
from tactful.settings import Settings

MEMO_SIZE = 256


@dataclass
class TurnBudget:
    started: float
    deadline: float  # ``clock`` time past which no request starts
    requests: int  # requests left

    def spend(self) -> None:
        """Take one request; raises ModelUnavailableError when none is left."""
        if self.requests <= 0:
            raise ModelUnavailableError("the turn's model requests are used up")
        self.requests -= 1


def turn_of(turn_key: str) -> str:
    """``conv:3``, ``conv:3:handoff`` and ``conv:3:notice`` belong to the same turn."""
    head, _, tail = turn_key.rpartition(":")
    return turn_key if tail.isdigit() or not head else head


class TurnBudgets:
    """The budget of each recent turn (a bounded memo), by turn key."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._turns: OrderedDict[str, TurnBudget] = OrderedDict()

    def fresh(self) -> TurnBudget:
        """A budget of its own, for a one-off call (a marketing message, a simulated user's line)."""
        now = self.clock()
        return TurnBudget(
            started=now, deadline=now + self.settings.turn_deadline_s, requests=self.settings.turn_max_requests
        )

    def of(self, turn_key: str) -> TurnBudget:
        turn = turn_of(turn_key)
        budget = self._turns.get(turn)
        if budget is None or self.clock() - budget.started > 2 * self.settings.turn_deadline_s:
            budget = self._turns[turn] = self.fresh()  # a new turn, or a key reused much later
            while len(self._turns) > MEMO_SIZE:
                self._turns.popitem(last=False)
        return budget
