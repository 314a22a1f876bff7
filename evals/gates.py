"""Gates: thresholds on suite metrics (``evals/gates.yaml``); a missed gate makes ``tactful eval`` exit non-
zero."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tactful.config import line_in, load_yaml_model
from tactful.errors import ConfigError
from tactful.evals.metrics import SuiteMetrics

DEFAULT_GATES = Path(__file__).resolve().parent / "gates.yaml"


class Gate(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None
    why: str = ""

    @model_validator(mode="after")
    def _bound(self) -> Gate:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs `min`, `max`, or both")
        return self


class GatesFile(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    version: int = 1
    gates: dict[str, Gate] = Field(min_length=1)


class GateResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    metric: str
    value: float | None
    min: float | None
    max: float | None
    ok: bool
    why: str


def gateable_metrics() -> set[str]:
    """Names of the scalar suite metrics."""
    scalar: tuple[object, ...] = (int, float, float | None)
    return {n for n, f in SuiteMetrics.model_fields.items() if f.annotation in scalar}


def load_gates(path: Path) -> GatesFile:
    """Load and check a gates file: every gate must name a gateable metric (file and line otherwise)."""
    gates = load_yaml_model(path, GatesFile)
    known = gateable_metrics()
    for name in gates.gates:
        if name not in known:
            line = line_in(path, ("gates", name))
            raise ConfigError(
                f"gates.{name}: unknown or non-scalar metric (see docs/evals.md)", path=path, line=line
            )
    return gates


def evaluate(gates: GatesFile, metrics: SuiteMetrics) -> list[GateResult]:
    """One result per gate. A metric with no value (nothing to measure) passes."""
    values = metrics.gateable()
    out: list[GateResult] = []
    for name, gate in gates.gates.items():
        value = values.get(name)
        ok = value is None or (
            (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
        )
        out.append(GateResult(metric=name, value=value, min=gate.min, max=gate.max, ok=ok, why=gate.why))
    return out
