"""Job entry points of installment redemption (八 分期核銷). Each reloads by id, calls the
services, and commits."""

from __future__ import annotations

from sqlalchemy import update

from app import jobs
from app.db import db
from app.installments import issuing
from app.installments.models import InstallmentBatch, InstallmentOrder
from app.issuance.jobs import run_claimed
from app.issuance.models import BatchStatus

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
