"""select() builders for the merchant area's lists (三、廠商專區)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select

from app import clock
from app.auth.models import LoginEvent


def login_events(store_id: int, start: date, end: date, *, result: str = "") -> Select:
    """The store's login events between two Taipei dates (inclusive), newest first.

    LoginEvent is not store-scoped by the ORM (a login happens before there is a store), so
    the store is named here explicitly.
    """
    stmt = select(LoginEvent).where(
        LoginEvent.store_id == store_id,
        LoginEvent.at >= clock.day_start(start),
        LoginEvent.at <= clock.day_end(end),
    )
    if result == "success":
        stmt = stmt.where(LoginEvent.success.is_(True))
    elif result == "failure":
        stmt = stmt.where(LoginEvent.success.is_(False))
    return stmt.order_by(LoginEvent.at.desc(), LoginEvent.id.desc())
