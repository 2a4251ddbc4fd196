"""ECTicket jobs: entry points taking ids (or the schedule's slot); they reload, call the
services and commit."""

from __future__ import annotations

import logging

from app import jobs
from app.db import db
from app.ecticket import notices

log = logging.getLogger(__name__)


def notices_due(slot: str) -> int:
    """Every minute: take back tries whose sender died and queue every notice due. Safe to run
    twice: each send claims its try. How many were queued."""
    taken_back = notices.sweep()
    due = notices.due_notice_ids()
    for notice_id in due:
        jobs.enqueue(send_notice, notice_id, retries=(), queue="notifications")
    db.session.commit()
    if taken_back:
        log.info("ECTicket notices: %s taken back, %s queued", taken_back, len(due))
    return len(due)


def send_notice(notice_id: int, trigger: str = "auto") -> str:
    """One try of one notice: claim (committed), POST outside any transaction, log and write
    the outcome. "skipped" when it is not to be sent now or another worker holds it."""
    held = notices.claim(notice_id, trigger=trigger)
    db.session.commit()
    if held is None:
        return "skipped"
    reply = notices.deliver(held)
    outcome = notices.finish(held, reply)
    db.session.commit()
    log.info("ECTicket notice %s attempt %s (%s): %s", notice_id, held.attempt, trigger, outcome)
    return outcome
