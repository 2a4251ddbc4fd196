from datetime import UTC, date, datetime, timedelta

import pytest

from app import clock


def test_now_is_aware_utc():
    assert clock.now().tzinfo is UTC


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        (datetime(2026, 7, 1, 15, 59, 59, tzinfo=UTC), date(2026, 7, 1)),  # 23:59:59 Taipei
        (datetime(2026, 7, 1, 16, 0, 0, tzinfo=UTC), date(2026, 7, 2)),  # 00:00 Taipei
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_business_day_is_the_taipei_calendar_day(utc, day):
    assert clock.business_day(utc) == day


def test_day_end_is_the_last_instant_of_the_taipei_day():
    end = clock.day_end(date(2026, 7, 1))
    assert end == datetime(2026, 7, 1, 15, 59, 59, 999999, tzinfo=UTC)
    assert clock.business_day(end) == date(2026, 7, 1)
    assert clock.business_day(end + timedelta(microseconds=1)) == date(2026, 7, 2)
    assert clock.day_start(date(2026, 7, 2)) == end + timedelta(microseconds=1)


def test_frozen_clock_can_be_moved_and_restored():
    at = clock.taipei_datetime(2026, 7, 1, 23, 59)
    with clock.frozen(at):
        assert clock.now() == at
        clock.move(timedelta(minutes=1))
        assert clock.business_day() == date(2026, 7, 2)
    assert clock.now() != at + timedelta(minutes=1)


def test_freezing_needs_an_aware_time():
    with pytest.raises(ValueError):
        clock.freeze(datetime(2026, 1, 1))
