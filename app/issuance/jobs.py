"""Job entry points of issuance: issue a confirmed batch, send its notices, and (every minute)
take back batches whose issuing job died. Each reloads by id, calls the services, and commits."""

from __future__ import annotations

import logging

from app import jobs
from app.db import db
from app.issuance import notices, services
from app.issuance.models import Batch, BatchStatus

log = logging.getLogger(__name__)


def issue_batch(batch_id: int) -> None:
    """Claim a queued batch (committed at once: the page shows 發行中), issue it all-or-nothing
    in one transaction, then queue its notices; or record the failure with nothing left behind."""
    attempt = services.claim_batch(batch_id)
    db.session.commit()
    if attempt is None:
        return  # issued, issuing elsewhere, failed, or never confirmed
    try:
        services.issue_claimed_batch(batch_id, attempt)
        jobs.enqueue(notify_batch, batch_id, queue="notifications")
        db.session.commit()
    except jobs.LeaseLost:
        db.session.rollback()  # the sweeper took the batch back: another attempt issues it
        log.warning("batch %s: attempt %s lost its lease; its work was rolled back", batch_id, attempt)
    except Exception as exc:  # noqa: BLE001 - any failure fails the batch, visibly
        db.session.rollback()
        log.exception("batch %s: attempt %s failed", batch_id, attempt)
        services.fail_batch(batch_id, attempt, exc)
        db.session.commit()


def notify_batch(batch_id: int) -> None:
    """Queue the issuance notices of a succeeded batch's orders (idempotent)."""
    notices.queue_batch_notices(batch_id)
    db.session.commit()


def sweep_batches(slot: str) -> int:
    """Every minute: batches whose lease ran out (their job died) are queued again, or failed
    after MAX_ATTEMPTS. Safe to run twice or in parallel. Returns how many were queued again."""
    working = Batch.status.in_((BatchStatus.QUEUED, BatchStatus.ISSUING))
    queued = [batch.id for batch in jobs.abandoned(Batch, working)
              if services.return_abandoned(batch)]
    for batch_id in queued:
        jobs.enqueue(issue_batch, batch_id)
    db.session.commit()
    return len(queued)
