"""Job functions for the job tests: each leaves a visible row so a test can tell it ran."""

from __future__ import annotations

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.news.models import NewsItem

ATTEMPTS: dict[str, int] = {}


def write_news(title: str) -> None:
    db.session.add(NewsItem(title=title, body="job", published_at=clock.now()))
    db.session.commit()


def flaky_write_news(title: str) -> None:
    """Fails on its first attempt, succeeds on the second (to exercise retries)."""
    ATTEMPTS[title] = ATTEMPTS.get(title, 0) + 1
    if ATTEMPTS[title] == 1:
        raise RuntimeError("first attempt fails")
    write_news(title)


def recurring_marker(slot: str) -> None:
    write_news(f"recurring {slot}")


def failing_recurring(slot: str) -> None:
    raise RuntimeError("boom")


def count_news(title: str) -> int:
    return db.session.scalar(select(func.count()).where(NewsItem.title == title)) or 0
