"""Installment jobs: entry points taking ids (or the schedule's slot); they reload, call the
services and commit."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update

from app import clock, jobs
from app.db import db
from app.installments import issuing, notices, services
from app.installments.models import InstallmentBatch, InstallmentOrder
from app.issuance.jobs import run_claimed
from app.issuance.models import BatchStatus
from app.notifications.jobs import queue_due_notices, send_claimed_notice

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
    if created:
        log.info("refund notices: %s created", created)
    return queue_due_notices(notices.sweep, notices.due_notice_ids, _queue_send,
                             "refund notices")


def _queue_send(notice_id: int) -> None:
    jobs.enqueue(send_refund_notice, notice_id, retries=(), queue="notifications")


def send_refund_notice(notice_id: int, trigger: str = "auto") -> str:
    """One attempt of one notice (claim, POST, outcome)."""
    return send_claimed_notice(notice_id, trigger, notices.claim, notices.deliver,
                               notices.finish, "refund notice")


# Issuing orders (分期核銷訂單發行) --------------------------------------------------------------

def issue_batch(batch_id: int) -> None:
    """Claim a confirmed installment batch (committed at once: the page shows 發行中), write all
    its orders in one transaction, reporting progress as it goes; or record the failure with
    nothing left behind."""
    run_claimed(batch_id, _issue, model=InstallmentBatch, orders=InstallmentOrder)


def _issue(batch_id: int, attempt: int) -> None:
    issuing.issue_claimed_batch(batch_id, attempt,
                                on_progress=lambda issued: _progress(batch_id, attempt, issued))


def _progress(batch_id: int, attempt: int, issued: int) -> None:
    """How many orders are written so far, and a renewed lease, in a short transaction of its
    own so the page sees it while the batch's transaction is still open. LeaseLost when the
    batch was taken back. SQLite has a single writer, which the batch's transaction holds: there
    the count appears with the result."""
    if db.engine.dialect.name == "sqlite":
        return
    table = InstallmentBatch.__table__
    with db.engine.begin() as conn:
        held = conn.execute(
            update(table).where(table.c.id == batch_id, table.c.status == BatchStatus.ISSUING,
                                table.c.attempts == attempt)
            .values(issued_count=issued, lease_until=jobs.lease_end())).rowcount
    if not held:
        raise jobs.LeaseLost(f"installment batch {batch_id} attempt {attempt}")


def sweep_batches(slot: str) -> int:
    """Every minute: installment batches whose lease ran out (their job died) are queued again,
    or failed after MAX_ATTEMPTS. Safe to run twice or in parallel. How many were queued again."""
    queued = issuing.requeue_abandoned()
    for batch_id in queued:
        jobs.enqueue(issue_batch, batch_id)
    db.session.commit()
    return len(queued)
