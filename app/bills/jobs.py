"""Job entry points of billing: the daily return-fee settlement and the monthly bills. Each
takes its slot, calls the services and commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from app import clock
from app.bills import monthly, notices, settlement
from app.db import db


def settle_returns(slot: str) -> int:
    """Daily (02:30 Taipei): settle every day that is over and not yet settled, one transaction
    per day (a crash resumes at the first unsettled day). How many days were settled."""
    return settle_through(clock.business_day(datetime.fromisoformat(slot)) - timedelta(days=1))


def settle_through(last_day) -> int:  # noqa: ANN001 - a date
    done = 0
    day = settlement.first_unsettled_day()
    while day is not None and day <= last_day:
        done += settlement.settle_day(day)
        db.session.commit()
        day += timedelta(days=1)
    return done


def issue_bills(slot: str) -> int:
    """Monthly (the 1st, 03:00 Taipei): settle what is left of the month before, then bill every
    month whose bill day has come and that has no bills yet, with the bill-day notice of each bill
    written now (queued in the same transaction). How many bills were written."""
    today = clock.business_day(datetime.fromisoformat(slot))
    settle_through(today - timedelta(days=1))
    written = 0
    for month in monthly.months_to_bill(today):
        bill_ids = monthly.bill_month(month)
        notices.queue_bill_notices(bill_ids)
        written += len(bill_ids)
        db.session.commit()
    return written
