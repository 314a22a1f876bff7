"""Quiet hours in the person's own time zone: daylight-saving changes, day boundaries and retry times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tactful.agents.marketing.policy import Window
from tactful.agents.marketing.time import is_quiet, next_allowed
from tests.marketing_helpers import decide, request

NIGHT = Window(start="21:00", end="08:00")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "tz", "quiet"),
    [
        # 12:30Z on the day New York springs forward is 08:30 EDT (a fixed -5 offset would say 07:30: quiet).
        ("2024-03-10T12:30", "America/New_York", False),
        # The day before, the same instant is 07:30 EST: quiet.
        ("2024-03-09T12:30", "America/New_York", True),
        # 12:30Z on the day New York falls back is 07:30 EST: quiet (with the summer offset it would be
        # 08:30).
        ("2024-11-03T12:30", "America/New_York", True),
        # Europe changes on a different Sunday: 06:30Z on 2024-03-31 is 08:30 CEST in Berlin, not 07:30.
        ("2024-03-31T06:30", "Europe/Berlin", False),
        ("2024-03-30T06:30", "Europe/Berlin", True),
    ],
)
def test_quiet_hours_follow_daylight_saving_in_the_persons_zone(moment: str, tz: str, quiet: bool) -> None:
    assert is_quiet(NIGHT, utc(moment), tz) is quiet


@pytest.mark.parametrize(
    ("moment", "tz", "quiet"),
    [
        ("2024-01-15T08:30", "Pacific/Auckland", True),  # 21:30 on the 15th in Auckland (NZDT, +13)
        ("2024-01-15T19:30", "Pacific/Auckland", False),  # 08:30 on the 16th there, still the 15th in UTC
        ("2024-01-15T18:59", "Pacific/Auckland", True),  # 07:59 on the 16th
        (
            "2024-01-16T07:30",
            "Pacific/Honolulu",
            True,
        ),  # 21:30 on the 15th in Honolulu (-10), the 16th in UTC
    ],
)
def test_quiet_hours_cross_the_utc_day_boundary(moment: str, tz: str, quiet: bool) -> None:
    assert is_quiet(NIGHT, utc(moment), tz) is quiet


def test_window_edges_are_start_inclusive_and_end_exclusive() -> None:
    assert is_quiet(NIGHT, utc("2024-06-01T21:00"), "UTC")
    assert is_quiet(NIGHT, utc("2024-06-01T07:59"), "UTC")
    assert not is_quiet(NIGHT, utc("2024-06-01T08:00"), "UTC")
    assert not is_quiet(NIGHT, utc("2024-06-01T20:59"), "UTC")


def test_a_window_that_does_not_wrap_midnight() -> None:
    lunch = Window(start="12:00", end="13:00")
    assert is_quiet(lunch, utc("2024-06-01T12:30"), "UTC")
    assert not is_quiet(lunch, utc("2024-06-01T13:00"), "UTC")


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    assert not is_quiet(Window(start="00:00", end="00:00"), utc("2024-06-01T00:00"), "UTC")


def test_retry_time_uses_the_offset_after_a_spring_forward() -> None:
    # 00:00 EST on 2024-03-10 is quiet; 08:00 that day is EDT (-4) = 12:00Z, not 13:00Z.
    assert next_allowed(NIGHT, utc("2024-03-10T05:00"), "America/New_York") == utc("2024-03-10T12:00")


def test_retry_time_after_the_evening_start_is_the_next_local_morning() -> None:
    # 22:00 in Berlin on 2024-03-30 (CET); next morning 08:00 is already CEST (+2) = 06:00Z.
    assert next_allowed(NIGHT, utc("2024-03-30T21:00"), "Europe/Berlin") == utc("2024-03-31T06:00")


def test_retry_time_when_the_window_ends_inside_the_skipped_hour() -> None:
    early = Window(start="01:00", end="02:30")  # 02:30 does not exist in New York on 2024-03-10
    assert next_allowed(early, utc("2024-03-10T06:10"), "America/New_York") == utc("2024-03-10T07:00")


def test_retry_time_when_the_window_ends_inside_the_repeated_hour() -> None:
    early = Window(start="00:30", end="01:30")  # 01:30 happens twice in New York on 2024-11-03
    assert next_allowed(early, utc("2024-11-03T04:45"), "America/New_York") == utc("2024-11-03T05:30")


def test_outside_quiet_hours_retry_is_now() -> None:
    assert next_allowed(NIGHT, utc("2024-06-01T12:00"), "UTC") == utc("2024-06-01T12:00")


async def test_decision_uses_the_persons_zone_on_a_dst_morning() -> None:
    morning = request(send_at="2024-03-10T12:30:00+00:00")  # 08:30 EDT in New York
    d = await decide(morning)
    assert d.action == "send"
    assert "08:30" in str(next(f.value for f in d.factors if f.name == "local_time"))


async def test_decision_suppresses_when_it_is_night_for_the_person_but_day_in_utc() -> None:
    d = await decide(request(send_at="2024-01-15T08:30:00+00:00", profile={"timezone": "Pacific/Auckland"}))
    assert (d.action, d.reason) == ("suppress", "quiet_hours")
    assert d.retry_at == utc("2024-01-15T19:00")  # 08:00 on the 16th in Auckland
