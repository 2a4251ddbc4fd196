"""Rule j for issuance: a batch whose issuing job died (its lease ran out) is queued again by
the sweeper and issued exactly once, or failed with the reason after MAX_ATTEMPTS; a dead
attempt can never commit a second issue. (The kill -9 of a real worker is
tests/jobs/test_killed_worker.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app import clock, jobs
from app.billing.models import Charge
from app.db import db
from app.history import HistoryEntry
from app.issuance import jobs as issuance_jobs
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from tests.issuance.helpers import ready_store, rows

PAST_THE_LEASE = jobs.LEASE + timedelta(seconds=1)


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


def _batch(batch_id: int) -> Batch:
    db.session.expire_all()
    return db.session.get(Batch, batch_id)


def _confirmed(monkeypatch, count: int = 3) -> int:  # noqa: ANN001
    """A confirmed batch whose job is held (not run), as if it sat in a queue."""
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 10, 0))
    store, owner, pickup, _ = ready_store()
    batch = services.prepare_batch(owner, store, import_no="LEASE1", method=DeliveryMethod.IMMEDIATE,
                                   kind=ProductKind.PICKUP, rows=rows(pickup, count=count))
    db.session.commit()
    with monkeypatch.context() as held:
        held.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
        assert services.confirm_batch(owner, store, batch)
        db.session.commit()
    return batch.id


def _claimed_then_killed(batch_id: int) -> int:
    """What a worker does before it dies mid-issue: the claim, committed; nothing else."""
    attempt = services.claim_batch(batch_id)
    db.session.commit()
    assert attempt is not None
    return attempt


def _sweep() -> int:
    return issuance_jobs.sweep_batches(clock.now().isoformat())


def test_rule_j_a_batch_left_issuing_by_a_dead_worker_is_issued_once_by_the_sweeper(ctx, monkeypatch):
    batch_id = _confirmed(monkeypatch)
    assert _claimed_then_killed(batch_id) == 1
    assert _batch(batch_id).status is BatchStatus.ISSUING

    clock.move(jobs.LEASE - timedelta(seconds=1))
    assert _sweep() == 0  # its lease still holds: it may be working
    assert _batch(batch_id).status is BatchStatus.ISSUING

    clock.move(timedelta(seconds=2))
    assert _sweep() == 1  # queued again; the job runs (inline) after the sweeper's commit
    batch = _batch(batch_id)
    assert (batch.status, batch.attempts, batch.lease_until) == (BatchStatus.SUCCEEDED, 2, None)
    assert _count(Ticket) == 3 and _count(Order) == 3 and _count(Charge) == 1
    reasons = db.session.scalars(select(HistoryEntry.reason).where(
        HistoryEntry.subject_type == "batches", HistoryEntry.action == "requeued")).all()
    assert reasons == ["第 1 次發行作業中斷（系統程序終止），重新排入發行"]

    clock.move(PAST_THE_LEASE * 3)
    assert _sweep() == 0  # a finished batch holds no lease
    assert _count(Ticket) == 3


def test_rule_j_a_batch_whose_job_dies_every_time_fails_with_the_reason(ctx, monkeypatch):
    batch_id = _confirmed(monkeypatch)
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)  # the requeued jobs die too
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        assert _claimed_then_killed(batch_id) == attempt
        clock.move(PAST_THE_LEASE)
        assert _sweep() == (1 if attempt < jobs.MAX_ATTEMPTS else 0)
    batch = _batch(batch_id)
    assert (batch.status, batch.error) == (BatchStatus.FAILED, services.ABANDONED)
    assert "請以新的匯入單號重新發行" in batch.error
    assert _count(Ticket) == 0 and _count(Order) == 0
    assert services.claim_batch(batch_id) is None  # a late job finds nothing to do


def test_rule_j_a_queued_batch_whose_job_was_lost_is_queued_again(ctx, monkeypatch):
    batch_id = _confirmed(monkeypatch)  # confirmed, but its job never reached a worker
    clock.move(PAST_THE_LEASE)
    assert _sweep() == 1
    batch = _batch(batch_id)
    assert (batch.status, batch.attempts) == (BatchStatus.SUCCEEDED, 1)
    assert _count(Ticket) == 3


def test_rule_j_a_dead_attempt_cannot_issue_after_another_took_the_batch(ctx, monkeypatch):
    batch_id = _confirmed(monkeypatch)
    first = _claimed_then_killed(batch_id)
    clock.move(PAST_THE_LEASE)
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
    assert _sweep() == 1
    second = _claimed_then_killed(batch_id)
    services.issue_claimed_batch(batch_id, second)
    db.session.commit()
    # the first attempt was only slow, not dead, and carries on: refused before it writes
    with pytest.raises(jobs.LeaseLost):
        services.issue_claimed_batch(batch_id, first)
    db.session.rollback()
    assert _batch(batch_id).status is BatchStatus.SUCCEEDED and _count(Ticket) == 3


@pytest.mark.postgres
def test_rule_j_an_attempt_taken_back_while_it_issues_commits_nothing(pg_app, monkeypatch):
    """On PostgreSQL the sweeper (another connection) takes the batch back while the attempt is
    half-way through its transaction: the attempt's last write (a compare-and-set on its
    attempt) finds nothing, so its orders and tickets are rolled back, never committed."""
    with pg_app.app_context():
        batch_id = _confirmed(monkeypatch)
        real_charge = services.record_charge

        def taken_back_meanwhile(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            assert _count(Ticket) == 3  # inside the attempt's transaction
            with db.engine.begin() as conn:  # the sweeper, elsewhere
                conn.execute(update(Batch.__table__).where(Batch.__table__.c.id == batch_id)
                             .values(status=BatchStatus.QUEUED))
            return real_charge(*args, **kwargs)

        monkeypatch.setattr(services, "record_charge", taken_back_meanwhile)
        issuance_jobs.issue_batch(batch_id)
        db.session.expire_all()
        batch = db.session.get(Batch, batch_id)
        assert (batch.status, batch.attempts) == (BatchStatus.QUEUED, 1)  # the sweeper's
        assert _count(Ticket) == 0 and _count(Order) == 0 and _count(Charge) == 0
