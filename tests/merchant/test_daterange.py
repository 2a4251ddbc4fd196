from datetime import date

import pytest

from app import clock
from app.daterange import add_months, parse_range
from app.errors import InvalidInput

TOO_LONG = "查詢區間不可超過三個月"
BACKWARDS = "起日不可晚於迄日"


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2025, 11, 30), 3, date(2026, 2, 28)),
    (date(2023, 11, 30), 3, date(2024, 2, 29)),  # leap year
    (date(2026, 8, 31), 3, date(2026, 11, 30)),
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 10, 15), 3, date(2027, 1, 15)),
    (date(2026, 12, 31), 12, date(2027, 12, 31)),
])
def test_add_months_clamps_to_month_end(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2025-11-30", "2026-02-28", (date(2025, 11, 30), date(2026, 2, 28))),  # month-end clamp
    ("2025/11/29", "2026/02/28", (date(2025, 11, 29), date(2026, 2, 28))),
    ("2026-01-15", "2026-04-15", (date(2026, 1, 15), date(2026, 4, 15))),  # exactly 3 months
    ("2026-08-31", "2026-11-30", (date(2026, 8, 31), date(2026, 11, 30))),
    ("2026-03-01", "2026-03-01", (date(2026, 3, 1), date(2026, 3, 1))),  # one day
    ("2023-11-30", "2024-02-29", (date(2023, 11, 30), date(2024, 2, 29))),  # leap day
])
def test_accepted_ranges(start, end, expected):
    assert parse_range(start, end, default_days=30) == expected


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2025-11-30", "2026-03-01", TOO_LONG),
    ("2026-01-15", "2026-04-16", TOO_LONG),
    ("2026-08-31", "2026-12-01", TOO_LONG),
    ("2025-01-01", "2026-01-01", TOO_LONG),
    ("2026-03-02", "2026-03-01", BACKWARDS),
    ("2026-13-01", "2026-03-01", "日期格式錯誤，請輸入 YYYY/MM/DD"),
    ("yesterday", "", "日期格式錯誤，請輸入 YYYY/MM/DD"),
])
def test_refused_ranges(start, end, message):
    with pytest.raises(InvalidInput) as err:
        parse_range(start, end, default_days=30)
    assert err.value.message == message


def test_defaults_are_the_last_days_in_taipei():
    # 2026-11-21 23:30 Taipei is still 11/21 there (15:30 UTC)
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 23, 30))
    assert parse_range("", None, default_days=30) == (date(2026, 10, 23), date(2026, 11, 21))
    assert parse_range("2026-11-01", "", default_days=30) == (date(2026, 11, 1),
                                                             date(2026, 11, 21))
    assert parse_range("", "2026-06-30", default_days=7) == (date(2026, 6, 24),
                                                            date(2026, 6, 30))
    with pytest.raises(InvalidInput, match=TOO_LONG):
        parse_range("2026-01-01", "", default_days=30)  # through today: too long


def test_other_limits_name_their_length():
    with pytest.raises(InvalidInput, match="查詢區間不可超過十二個月"):
        parse_range("2025-01-01", "2026-01-02", default_days=30, max_months=12)
    assert parse_range("2025-01-01", "2026-01-01", default_days=30, max_months=12)
