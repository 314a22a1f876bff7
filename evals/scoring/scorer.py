"""The scorer: a scenario and its run → a :class:`SupportScore` or :class:`MarketingScore`; a run that could
not run (``error``) or did not apply (``skipped``) is scored as such without checks of its own."""

from __future__ import annotations

from typing import overload

from tactful.evals.detectors import Detectors
from tactful.evals.records import ScenarioRun
from tactful.evals.scenario import MarketingScenario, SupportScenario
from tactful.evals.scoring.marketing import score_marketing
from tactful.evals.scoring.score import Check, MarketingScore, Status, SupportScore
from tactful.evals.scoring.support import score_support


class Scorer:
    def __init__(self, detectors: Detectors) -> None:
        self.d = detectors

    @overload
    def score(self, scenario: SupportScenario, run: ScenarioRun) -> SupportScore: ...
    @overload
    def score(self, scenario: MarketingScenario, run: ScenarioRun) -> MarketingScore: ...
    def score(
        self, scenario: SupportScenario | MarketingScenario, run: ScenarioRun
    ) -> SupportScore | MarketingScore:
        if run.error is not None:
            return _unscored(scenario, run, status="error", note=run.error,
                             checks=[Check(name="run", ok=False, category="error", actual=run.error)])
        if run.skipped is not None:
            return _unscored(scenario, run, status="skipped", note=run.skipped, checks=[])
        if isinstance(scenario, MarketingScenario):
            return score_marketing(self.d, scenario, run)
        return score_support(self.d, scenario, run, scripted=run.source == "scripted")


def _unscored(scenario: SupportScenario | MarketingScenario, run: ScenarioRun, *, status: Status, note: str,
              checks: list[Check]) -> SupportScore | MarketingScore:
    kind = MarketingScore if isinstance(scenario, MarketingScenario) else SupportScore
    return kind(id=scenario.id, path=run.path, title=scenario.title, tags=scenario.tags, catches=scenario.catches,
                source=run.source, status=status, note=note, checks=checks)
