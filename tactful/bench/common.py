"""What every benchmark section shares: the :class:`Section` it registers as, targets with met / missed-by,
percentiles, machine facts, progress on stderr, and the shape of a section's JSON."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape

from tactful.resources import source_checkout

JSON = dict[str, Any]

_console = Console(stderr=True, highlight=False)
_t0 = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr (stdout carries only the JSON)."""
    _console.print(f"[dim]bench {time.perf_counter() - _t0:6.1f}s[/] {escape(message)}", soft_wrap=True)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Target:
    """``value`` must stay at or below (``max``) or at or above (``min``) ``bound``."""

    name: str
    value: float | None
    bound: float
    kind: Literal["max", "min"]
    unit: str = ""
    note: str | None = None

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.bound if self.kind == "max" else self.value >= self.bound

    @property
    def missed_by(self) -> float | None:
        """How far past the bound the value is (always positive), or ``None`` when met or unmeasured."""
        if self.met or self.value is None:
            return None
        return round(abs(self.value - self.bound), 4)

    def as_dict(self) -> JSON:
        out: JSON = {
            "target": f"{'<=' if self.kind == 'max' else '>='} {self.bound:g}{(' ' + self.unit) if self.unit else ''}",
            self.kind: self.bound,
            "value": self.value,
            "met": self.met,
        }
        if self.unit:
            out["unit"] = self.unit
        if not self.met:
            out["missed_by"] = self.missed_by
            if self.missed_by is not None and self.bound:
                out["missed_by_pct"] = round(100 * self.missed_by / abs(self.bound), 1)
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Section:
    """One benchmark section, as ``tactful bench`` runs and reports it (see ``tactful.bench.sections``).

    ``options`` adds the section's own command-line options to its argument group; ``run`` measures, given the
    parsed arguments (``quick``, ``no_profile`` and ``database_url`` are there for every section), and returns
    its JSON (:func:`section`, :func:`skipped`); ``render`` turns that JSON into markdown lines."""

    name: str
    title: str
    summary: str
    run: Callable[[argparse.Namespace], JSON]
    render: Callable[[JSON], list[str]] | None = None
    options: Callable[[argparse._ArgumentGroup], None] | None = None


def section(targets: list[Target], data: JSON, *, wall_s: float) -> JSON:
    """A measured section: its targets, ``met`` (all of them), ``missed_by`` (the missed ones), then the data."""
    met = all(t.met for t in targets)
    out: JSON = {
        "status": "ok",
        "met": met,
        "targets": {t.name: t.as_dict() for t in targets},
    }
    if not met:
        out["missed_by"] = {t.name: t.missed_by for t in targets if not t.met}
    out["wall_s"] = round(wall_s, 2)
    out.update(data)
    return out


def skipped(reason: str, **data: Any) -> JSON:
    return {"status": "skipped", "met": None, "skipped": reason, **data}


def failed(exc: BaseException, *, wall_s: float) -> JSON:
    return {"status": "error", "met": False, "error": f"{type(exc).__name__}: {exc}", "wall_s": round(wall_s, 2)}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float | None, digits: int = 1) -> float | None:
    return None if seconds is None else round(seconds * 1000, digits)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=source_checkout() or ".",
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def machine() -> JSON:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "git_commit": _git_commit(),
    }


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) of a process, from ``/proc`` (``None`` where there is none)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds per thread of a process (thread id → seconds); empty where ``/proc`` has none."""
    out: dict[int, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return out


def machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU jiffies of the whole machine since boot, from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)
