"""Checkout jobs: entry points taking ids (or the schedule's slot); they reload, call the
services and commit."""

from __future__ import annotations

import logging

from app import jobs
from app.checkout import notices
from app.db import db

log = logging.getLogger(__name__)


def payment_notices(slot: str) -> int:
    """Every minute: take back tries whose sender died and queue every notice due. Safe to run
    twice: each send claims its try. How many were queued."""
    taken_back = notices.sweep()
    due = notices.due_notice_ids()
    for notice_id in due:
        jobs.enqueue(send_payment_notice, notice_id, retries=(), queue="notifications")
    db.session.commit()
    if taken_back:
        log.info("payment notices: %s taken back, %s queued", taken_back, len(due))
    return len(due)


def send_payment_notice(notice_id: int, trigger: str = "auto") -> str:
    """One try of one notice: claim (committed), POST outside any transaction, log and write
    the outcome. "skipped" when it is not to be sent now or another worker holds it."""
    held = notices.claim(notice_id, trigger=trigger)
    db.session.commit()
    if held is None:
        return "skipped"
    attempt, url, body = held
    reply = notices.deliver(url, body)
    outcome = notices.finish(notice_id, attempt, trigger, reply)
    db.session.commit()
    log.info("payment notice %s attempt %s (%s): %s", notice_id, attempt, trigger, outcome)
    return outcome
