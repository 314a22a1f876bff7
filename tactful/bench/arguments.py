"""Argument types for the sections' options: a bad value is an argparse usage error (exit 2, one line)."""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from exc
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def non_negative_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from exc
    if not x >= 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of 0 or more, not {value}")
    return x


def positive_float(value: str) -> float:
    x = non_negative_float(value)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return x


def steps(value: str) -> tuple[int, ...]:
    """``50,200,500``: concurrent conversations per step, each 1..5000."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one step, e.g. 50,200,500")
    out = tuple(positive_int(p) for p in parts)
    if max(out) > 5000:
        raise argparse.ArgumentTypeError("at most 5000 concurrent conversations per step")
    return out
