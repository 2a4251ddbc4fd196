"""The one clock: now() in UTC, Taipei business days and day ends.

Every rule that depends on time asks this module. Tests freeze and move it with `frozen()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")

_frozen_at: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    if _frozen_at is not None:
        return _frozen_at
    return datetime.now(UTC)


def taipei(at: datetime | None = None) -> datetime:
    """An instant (default: now) seen on a Taipei wall clock."""
    return (at or now()).astimezone(TAIPEI)


def business_day(at: datetime | None = None) -> date:
    """The Taipei calendar day an instant falls on."""
    return taipei(at).date()


def day_start(day: date) -> datetime:
    """00:00 Taipei of the given day, as a UTC instant."""
    return datetime.combine(day, time.min, tzinfo=TAIPEI).astimezone(UTC)


def day_end(day: date) -> datetime:
    """The last instant of the given Taipei day (23:59:59.999999), as a UTC instant.

    "Same day until 23:59" windows close here: an action at or before it is in the window.
    """
    return day_start(day + timedelta(days=1)) - timedelta(microseconds=1)


def is_same_business_day(a: datetime, b: datetime) -> bool:
    return business_day(a) == business_day(b)


def freeze(at: datetime) -> None:
    global _frozen_at
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen_at = at.astimezone(UTC)


def unfreeze() -> None:
    global _frozen_at
    _frozen_at = None


def move(delta: timedelta) -> None:
    """Move a frozen clock forward (or back)."""
    if _frozen_at is None:
        raise RuntimeError("the clock is not frozen")
    freeze(_frozen_at + delta)


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    global _frozen_at
    previous = _frozen_at
    freeze(at)
    try:
        yield
    finally:
        _frozen_at = previous


def taipei_datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
                    second: int = 0) -> datetime:
    """A Taipei wall-clock time as a UTC instant (handy in tests and demo data)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=TAIPEI).astimezone(UTC)
