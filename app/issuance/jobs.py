"""Job entry points of issuance: issue a confirmed batch, send its notices, and (every minute)
take back batches whose issuing job died. Each reloads by id, calls the services, and commits.

`run_claimed` is the claim-issue-or-fail of any batch issued all-or-nothing under a lease
(app/issuance/services.py): the installment orders' batches run through it too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app import jobs
from app.db import db
from app.issuance import notices, services
from app.issuance.models import Batch
from app.tickets.models import Order

log = logging.getLogger(__name__)


def run_claimed(batch_id: int, issue: Callable[[int, int], None], *, model: Any = Batch,
                orders: Any = Order) -> bool:
    """Claim a queued batch of `model` (committed at once: the page shows 發行中), run
    `issue(batch_id, attempt)` (which flushes everything it issues, and may queue follow-up
    jobs) and commit it in one transaction; or roll it back and record the failure, leaving
    nothing behind. True when it was issued."""
    attempt = services.claim_batch(batch_id, model)
    db.session.commit()
    if attempt is None:
        return False  # issued, issuing elsewhere, failed, or never confirmed
    try:
        issue(batch_id, attempt)
        db.session.commit()
        return True
    except jobs.LeaseLost:
        db.session.rollback()  # the sweeper took the batch back: another attempt issues it
        log.warning("%s %s: attempt %s lost its lease; its work was rolled back",
                    model.__tablename__, batch_id, attempt)
    except Exception as exc:  # noqa: BLE001 - any failure fails the batch, visibly
        db.session.rollback()
        log.exception("%s %s: attempt %s failed", model.__tablename__, batch_id, attempt)
        services.fail_batch(batch_id, attempt, exc, model, orders)
        db.session.commit()
    return False


def _issue_and_notify(batch_id: int, attempt: int) -> None:
    services.issue_claimed_batch(batch_id, attempt)
    jobs.enqueue(notify_batch, batch_id, queue="notifications")


def issue_batch(batch_id: int) -> None:
    """Claim a queued batch (committed at once: the page shows 發行中), issue it all-or-nothing
    in one transaction, then queue its notices; or record the failure with nothing left behind."""
    run_claimed(batch_id, _issue_and_notify)


def notify_batch(batch_id: int) -> None:
    """Queue the issuance notices of a succeeded batch's orders (idempotent)."""
    notices.queue_batch_notices(batch_id)
    db.session.commit()


def sweep_batches(slot: str) -> int:
    """Every minute: batches whose lease ran out (their job died) are queued again, or failed
    after MAX_ATTEMPTS. Safe to run twice or in parallel. Returns how many were queued again."""
    queued = services.requeue_abandoned(Batch)
    for batch_id in queued:
        jobs.enqueue(issue_batch, batch_id)
    db.session.commit()
    return len(queued)
