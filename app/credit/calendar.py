"""The card back office's calendar, without a database: the daily close at 20:15 Taipei, the
quiet window around it, and the day limits counted from the authorisation (Taipei days).

- Daily auto-close at 20:15 (ECPay closes at 20:15 and takes no API calls 20:15–20:30: the
  DoAction API answers "busy" in that window).
- Close within CLOSE_DAYS (21) days; later only the operator can (error_overDate).
- On day NOTICE_DAY (80) the finance contacts are told of transactions still authorised.
- Older than ABANDON_DAYS (90) days: the authorisation is abandoned by the system (day 91).
"""

from __future__ import annotations

from datetime import date, datetime, time

from app import clock

DAILY_CLOSE_AT = time(20, 15)
QUIET_UNTIL = time(20, 30)
NOTICE_DAY = 80
ABANDON_DAYS = 90


def in_quiet_window(at: datetime) -> bool:
    """True from 20:15:00 up to (not including) 20:30:00 Taipei: the daily close is running and
    API calls are answered "busy"."""
    wall = clock.taipei(at).time()
    return DAILY_CLOSE_AT <= wall < QUIET_UNTIL


def age_days(authorised_at: datetime, today: date) -> int:
    """Taipei days from the authorisation's day to `today` (0 on the day itself)."""
    return (today - clock.business_day(authorised_at)).days


def abandon_due(authorised_at: datetime, today: date) -> bool:
    return age_days(authorised_at, today) > ABANDON_DAYS
