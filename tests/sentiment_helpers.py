"""Shared fixtures for the sentiment tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tactful.agents.sentiment.learned import DissatisfactionModel, TurnContext


@dataclass
class FixedModel(DissatisfactionModel):
    """A model that rates every turn ``p``: the calibration around the model is what is under test."""

    p: float = 0.5
    idf: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.float32))
    coef: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.float32))
    intercept: float = 0.0

    def score(self, text: str, ctx: TurnContext) -> float:
        return self.p
