"""Query date ranges (查詢區間) of list and report pages, in Taipei business days.

`parse_range` turns the two date fields of a query form into an inclusive pair of dates,
fills a default window when they are empty, and refuses a range the seed forbids (longer than
three months, or backwards). Callers turn the dates into instants with
`clock.day_start(start)` and `clock.day_end(end)`.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from app import clock
from app.errors import InvalidInput

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
BAD_DATE = "日期格式錯誤，請輸入 YYYY/MM/DD"
START_AFTER_END = "起日不可晚於迄日"

_NUMERALS = {1: "一", 2: "兩", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九",
             10: "十", 11: "十一", 12: "十二"}


def too_long_message(max_months: int) -> str:
    """查詢區間不可超過三個月 (and the same for other limits)."""
    return f"查詢區間不可超過{_NUMERALS.get(max_months, str(max_months))}個月"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (11/30 + 3 months = 2/28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_date(value: str | None, *, field: str = "date") -> date | None:
    """A date typed as 2026-11-21 (HTML date input) or 2026/11/21; None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(BAD_DATE, fields={field: BAD_DATE})


def check_range(start: date, end: date, *, max_months: int | None = 3) -> None:
    """Raise InvalidInput unless start <= end <= start + max_months (month-end clamped)."""
    if start > end:
        raise InvalidInput(START_AFTER_END, fields={"start": START_AFTER_END})
    if max_months is not None and end > add_months(start, max_months):
        message = too_long_message(max_months)
        raise InvalidInput(message, fields={"end": message})


def parse_range(start_str: str | None, end_str: str | None, *, default_days: int,
                max_months: int | None = 3) -> tuple[date, date]:
    """The inclusive (start, end) Taipei dates of a query.

    Both empty: the last `default_days` days ending today. Only the start: through today.
    Only the end: the `default_days` days ending then. Raises InvalidInput with
    「起日不可晚於迄日」 or 「查詢區間不可超過三個月」.
    """
    start = parse_date(start_str, field="start")
    end = parse_date(end_str, field="end")
    if end is None:
        end = max(clock.business_day(), start) if start is not None else clock.business_day()
    if start is None:
        start = end - timedelta(days=default_days - 1)
    check_range(start, end, max_months=max_months)
    return start, end
