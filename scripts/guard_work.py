# ruff: noqa: E402  (a measuring script: imports placed where they are timed)
"""Output-guard work per support turn over the eval scenarios: calls, characters scanned, pattern searches."""

from tactful.agents.guards import rules

calls = {"n": 0, "chars": 0, "searches": 0}
real = rules.Guards.output_check


def counting(self, draft, **kw):
    calls["n"] += 1
    calls["chars"] += len(draft)
    n_pat = (
        sum(len(self._re[k]) for k in ("unauthorized_promise", "legal_statement", "secret"))
        + len(self.leak.headings)
        + (1 if self.leak.labels is not None else 0)
    )
    calls["searches"] += n_pat
    return real(self, draft, **kw)


rules.Guards.output_check = counting
real_h = rules.Guards.human_request


def counting_h(self, *a, **kw):
    calls["turns"] = calls.get("turns", 0) + 1
    return real_h(self, *a, **kw)


rules.Guards.human_request = counting_h
from tactful.evals.runner import EvalRunner, run_scenarios
from tactful.evals.scenario import load_all
from tactful.resources import EVALS_DIR
from tactful.settings import Settings

loaded, _ = load_all([EVALS_DIR / "scenarios" / "support"])
run_scenarios(EvalRunner(Settings(engine="offline")), loaded, jobs=1)
t = calls["turns"]
print(calls, {k: round(v / t, 1) for k, v in calls.items()})
