"""`status_sql.effective_status` agrees with `Ticket.current_status` for every stored status,
both kinds, and end dates before, on and after today (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import clock
from app.db import db
from app.products.models import ProductKind
from app.reports.status_sql import effective_status, in_group
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from tests.issuance.helpers import ready_store
from tests.products.helpers import TODAY
from tests.tickets.helpers import issue

T = clock.taipei_datetime
END_DATES = (TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1))


def _every_combination() -> list[tuple[int, TicketStatus, ProductKind]]:
    """One real ticket per (kind, stored status, end date), the status written directly: the
    point is the expression, not how a ticket gets there."""
    _, owner, pickup, gift = ready_store()
    made = []
    combos = list(itertools.product(TicketStatus, END_DATES))
    for product in (pickup, gift):
        tickets = issue(owner, owner.store, product, quantity=len(combos))
        for ticket, (status, end) in zip(tickets, combos, strict=True):
            db.session.execute(update(Ticket).where(Ticket.id == ticket.id)
                               .values(status=status, expires_on=end))
            made.append((ticket.id, status, product.kind))
    db.session.commit()
    return made


def _agree(today) -> int:  # noqa: ANN001
    db.session.expire_all()
    rows = db.session.execute(select(Ticket, effective_status(today))).all()
    wrong = [(t.id, t.status, t.expires_on, t.current_status, sql) for t, sql in rows
             if t.current_status is not sql]
    assert wrong == []
    return len(rows)


def _check(app) -> None:  # noqa: ANN001
    with app.app_context():
        clock.freeze(T(2026, 11, 21, 10, 0))
        made = _every_combination()
        assert _agree(clock.business_day()) == len(made) == 2 * 11 * 3
        # the end date runs through 23:59:59 Taipei: the last instant of today, then midnight
        clock.freeze(clock.day_end(TODAY))
        _agree(clock.business_day())
        clock.freeze(clock.day_start(TODAY + timedelta(days=1)))
        assert _agree(clock.business_day()) == len(made)
        # the rewrite only touches unused tickets past their end, each to its kind's status
        today = clock.business_day()
        moved = db.session.execute(
            select(Ticket.kind, Ticket.expires_on, effective_status(today))
            .where(Ticket.status == TicketStatus.UNUSED)).all()
        assert sorted((k.value, str(e), s.value) for k, e, s in moved) == sorted([
            ("gift", "2026-11-20", "expired"), ("gift", "2026-11-21", "expired"),
            ("gift", "2026-11-22", "unused"),
            ("pickup", "2026-11-20", "unused_escrow_expired"),
            ("pickup", "2026-11-21", "unused_escrow_expired"), ("pickup", "2026-11-22", "unused")])
        # filtering by a group in SQL gives what grouping current_status in Python gives
        tickets = db.session.scalars(select(Ticket)).all()
        for group in StatusGroup:
            expected = {t.id for t in tickets if t.current_status in STATUS_GROUPS[group]}
            got = set(db.session.scalars(select(Ticket.id).where(in_group(today, group))))
            assert got == expected and got
        db.session.remove()


def test_sql_status_agrees_with_current_status(app):
    _check(app)


@pytest.mark.postgres
def test_sql_status_agrees_with_current_status_on_postgresql(pg_app):
    _check(pg_app)
