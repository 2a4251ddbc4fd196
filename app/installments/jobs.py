"""Installment jobs: entry points taking ids (or the schedule's slot); they reload, call the
services and commit."""

from __future__ import annotations

import logging
from datetime import datetime

from app import clock, jobs
from app.db import db
from app.installments import notices, services

log = logging.getLogger(__name__)


# The daily redemption -------------------------------------------------------------------------

def redeem_due_periods(slot: str) -> int:
    """Daily (00:10 Taipei): every unused period whose expected date has come, up to the slot's
    day, → 核銷中, committed chunk by chunk (memory stays flat; a crash resumes where the
    committed chunks end, and a period is never moved twice). The next 01:00 bank sync sends
    them. Returns how many periods moved."""
    today = clock.business_day(datetime.fromisoformat(slot))
    total, after = 0, 0
    while True:
        moved, last = services.redeem_due(today, after)
        db.session.commit()
        if last is None:
            return total
        total, after = total + moved, last


# Refund notices (退款結果主動通知) ---------------------------------------------------------------

def refund_notices(slot: str) -> int:
    """Every minute: create the notices of refunds just completed, take back notices whose
    sender died, and queue a sending job for each notice due (the new ones at once). Safe to
    run twice: each send claims its attempt. How many were queued."""
    created = notices.create_notices()
    taken_back = notices.sweep()
    due = notices.due_notice_ids()
    for notice_id in due:
        jobs.enqueue(send_refund_notice, notice_id, retries=(), queue="notifications")
    db.session.commit()
    if created or taken_back:
        log.info("refund notices: %s created, %s taken back, %s queued", created, taken_back,
                 len(due))
    return len(due)


def send_refund_notice(notice_id: int, trigger: str = "auto") -> str:
    """One attempt of one notice: claim it (committed before the POST), POST it outside any
    transaction, then log it and write the outcome. What happened ("skipped" when the notice is
    not to be sent now or another worker holds it)."""
    held = notices.claim(notice_id, trigger=trigger)
    db.session.commit()
    if held is None:
        return "skipped"
    reply = notices.deliver(held)
    outcome = notices.finish(held, reply)
    db.session.commit()
    log.info("refund notice %s attempt %s (%s): %s", notice_id, held.attempt, trigger, outcome)
    return outcome
