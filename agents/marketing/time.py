"""Quiet hours in the person's own time zone: is a moment quiet, and when is the next moment that is not.

Wall-clock times come from ``zoneinfo``, so daylight-saving changes and day boundaries follow the person's
zone:
08:30 on the morning the clocks went forward is 08:30, not 07:30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tactful.agents.marketing.models import zone
from tactful.agents.marketing.policy import Window


def local_time(moment: datetime, tz: str) -> datetime:
    """``moment`` (aware) as wall-clock time in ``tz``."""
    return moment.astimezone(zone(tz))


def is_quiet(window: Window | None, moment: datetime, tz: str) -> bool:
    return window is not None and window.contains(local_time(moment, tz).time())


def _first_instant_at(local_day: datetime, window: Window, tz: str) -> datetime:
    """The first UTC instant on ``local_day`` whose wall clock in ``tz`` is at or after ``window.end``.

    Normally that is simply ``end`` on that day; when ``end`` falls in a spring-forward gap (it does not exist
    that day), it is the moment the clocks jump.
    """
    z = zone(tz)
    end = window.end_time
    naive = datetime.combine(local_day.date(), end)
    before = naive.replace(tzinfo=z, fold=1).astimezone(UTC)  # offset after a transition: earliest reading
    after = naive.replace(tzinfo=z, fold=0).astimezone(UTC)
    if before == after:
        return after
    # Ambiguous (fall back: the earlier of the two readings is the first) or in a gap (walk to the jump).
    start, stop = min(before, after), max(before, after)
    step = start
    while step < stop:
        wall = step.astimezone(z)
        if wall.date() == local_day.date() and wall.time() >= end:
            return step
        step += timedelta(minutes=1)
    return stop


def next_allowed(window: Window, moment: datetime, tz: str) -> datetime:
    """The first instant (UTC) at or after ``moment`` outside the quiet window."""
    local = local_time(moment, tz)
    if not window.contains(local.time()):
        return moment.astimezone(UTC)
    day = local
    if window.start_time > window.end_time and local.time() >= window.start_time:
        day = local + timedelta(days=1)
    return _first_instant_at(day, window, tz)
