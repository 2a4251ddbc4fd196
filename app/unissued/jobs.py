"""Unissued ticket order jobs: the T+30 cancellation and the T+7 / T+19 reminders. They take
the schedule's slot, do everything owed up to its day (a missed day is caught up), commit per
order or per store, and are safe to run twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app import clock
from app.db import db
from app.stores.models import Store
from app.unissued import reminders, rules, services
from app.unissued.models import TicketOrder, TicketOrderState


def cancel_overdue(slot: str) -> int:
    """Daily: each order still unissued on T+30 (or later) is cancelled and its authorisation
    abandoned, one commit each. Returns how many."""
    today = clock.business_day(datetime.fromisoformat(slot))
    last_paid = today - timedelta(days=rules.CANCEL_DAYS)
    ids = db.session.scalars(
        select(TicketOrder.id).where(TicketOrder.state == TicketOrderState.UNISSUED,
                                     TicketOrder.paid_on <= last_paid)
        .order_by(TicketOrder.id).execution_options(unscoped=True)).all()
    db.session.commit()
    done = 0
    for row_id in ids:
        done += services.cancel_overdue(row_id, today)
        db.session.commit()
    return done


def send_reminders(slot: str) -> int:
    """Daily: the 待發行通知信 owed today, one e-mail per store. Returns how many stores."""
    today = clock.business_day(datetime.fromisoformat(slot))
    owed = reminders.owed(today)
    told = 0
    for store_id, items in owed.items():
        store = db.session.get(Store, store_id)
        if store is not None and reminders.send(store, items, today):
            told += 1
        db.session.commit()
    return told
