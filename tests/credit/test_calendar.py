"""The daily close's quiet window (20:15–20:30 Taipei) and the day counts, without a
database."""

from __future__ import annotations

from datetime import date

import pytest

from app import clock
from app.credit import calendar, jobs


@pytest.mark.parametrize(("hour", "minute", "second", "quiet"), [
    (20, 14, 59, False),
    (20, 15, 0, True),
    (20, 22, 30, True),
    (20, 29, 59, True),
    (20, 30, 0, False),
    (8, 15, 0, False),  # 20:15 UTC is 04:15 Taipei: the wall clock is Taipei's
])
def test_the_quiet_window_edges(hour, minute, second, quiet):
    at = clock.taipei_datetime(2026, 12, 7, hour, minute, second)
    assert calendar.in_quiet_window(at) is quiet


def test_the_quiet_window_is_read_on_the_taipei_clock():
    utc_1220 = clock.taipei_datetime(2026, 12, 8, 4, 20)  # 20:20 UTC the day before
    assert clock.taipei(utc_1220).hour == 4
    assert calendar.in_quiet_window(clock.taipei_datetime(2026, 12, 7, 20, 20)) is True
    assert calendar.in_quiet_window(utc_1220) is False
    assert jobs.in_quiet_window is calendar.in_quiet_window


def test_ages_are_taipei_days():
    late = clock.taipei_datetime(2026, 1, 1, 23, 59)
    assert calendar.age_days(late, date(2026, 1, 2)) == 1
    assert calendar.age_days(late, date(2026, 4, 1)) == 90
    assert calendar.abandon_due(late, date(2026, 4, 1)) is False
    assert calendar.abandon_due(late, date(2026, 4, 2)) is True
