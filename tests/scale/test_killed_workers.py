"""kill -9 one of the two workers mid-batch and mid-sync: the other finishes the work, nothing
lost or doubled.

RQ alone would not do it in time: it takes a started job as abandoned only after the job's
timeout plus a minute, at a worker's clean-up (every ten minutes), and would then run a job that
knows nothing of the row left working. What resumes the work is the database lease (app.jobs):
the row's lease runs out two minutes after its last renewal, and the sweeper (every minute, in
whichever scheduler claims that minute) queues it again. The bounded run moves this process's
clock past the lease and runs the sweeper here, so the resumption is measured without the wait;
the full run (ECTIX_SCALE_FULL=1) waits for the surviving worker's own sweeper on the real
clock and measures the detection too.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from app import clock, jobs
from app.billing.models import Charge
from app.db import db
from app.escrow.models import BankSyncRun, LedgerEntry, LedgerKind, SyncRunStatus
from app.escrow.sync import ABANDONED_RETRY
from app.history import HistoryEntry
from app.issuance import services as issuance
from app.issuance.models import BatchStatus
from app.jobs import latest_slot
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus as S
from tests.issuance.helpers import ready_store, rows
from tests.processes import wait_for
from tests.scale.harness import CSRF, FULL, Cluster, figure, fresh_batch, login, size, sync_night

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The full run's wait for the survivor's sweeper: the lease, the next minute's slot, a tick.
DETECTION_LIMIT = jobs.LEASE.total_seconds() + 150


def _sweep_past_the_lease(cluster: Cluster, sweeper: str) -> None:
    """The bounded run's stand-in for waiting: the sweeper run here, on a clock past the lease;
    what it queues goes to RQ, for the surviving worker."""
    with clock.frozen(clock.now() + jobs.LEASE + timedelta(seconds=5)), cluster.via_rq():
        run = jobs.run_now(sweeper)
    assert run.status == "done", run.error


def test_a_worker_killed_mid_batch_the_other_issues_it_once(cluster, seeding):
    store, owner, pickup, _ = ready_store("scalekillbatch")
    count, quantity = 10, size(20, 100)
    batch = issuance.prepare_batch(owner, store, import_no="SCALEKILL", method=DeliveryMethod.IMMEDIATE,
                                   kind=ProductKind.PICKUP, rows=rows(pickup, count=count, quantity=quantity))
    db.session.commit()
    batch_id = batch.id
    blocker_engine = create_engine(cluster.database_url, poolclass=NullPool)
    blocker = blocker_engine.connect()
    try:
        # The issuing transaction will wait at its charge row, after the orders and tickets.
        blocker.begin()
        blocker.execute(text("LOCK TABLE charges IN SHARE MODE"))
        base = cluster.urls[0]
        browser = login(base, "scalekillbatch")
        csrf = CSRF.search(browser.get(f"{base}/issuance/batches/{batch_id}", timeout=30).text).group(1)
        browser.post(f"{base}/issuance/batches/{batch_id}/confirm", data={"csrf_token": csrf}, timeout=30)
        browser.close()

        def blocked() -> list[str]:
            return [name for name in cluster.alive if "Lock" in cluster.backends(name)]

        wait_for("a worker to block inside the issuing transaction", blocked, 60)
        [victim] = blocked()
        job_id = cluster.current_job(victim)
        assert job_id is not None
        rq_gives_up = cluster.rq_gives_up_in(job_id)
        cluster.kill(victim)  # kill -9, mid-transaction
        killed_at = time.monotonic()
        blocker.rollback()  # the lock goes; the dead worker's transaction is rolled back
        wait_for("the killed worker's connections to close", lambda: not cluster.backends(victim))
        stuck = fresh_batch(batch_id)
        assert (stuck.status, stuck.attempts) == (BatchStatus.ISSUING, 1)  # 發行中, until swept
        assert db.session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.batch_id == batch_id)) == 0  # nothing half-issued

        if FULL:
            detected = wait_for("the surviving worker's sweeper to take the batch back",
                                lambda: fresh_batch(batch_id).attempts > 1
                                or fresh_batch(batch_id).status is not BatchStatus.ISSUING,
                                DETECTION_LIMIT)
        else:
            _sweep_past_the_lease(cluster, "sweep_batches")
            detected = None
        wait_for("the surviving worker to issue the batch",
                 lambda: fresh_batch(batch_id).status is BatchStatus.SUCCEEDED, 120)
        resumed = time.monotonic() - killed_at

        issued = fresh_batch(batch_id)
        assert (issued.attempts, issued.issued_count, issued.lease_until) == (2, count * quantity, None)
        assert db.session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.batch_id == batch_id)) == count * quantity
        assert db.session.scalar(select(func.count()).select_from(Order).where(
            Order.batch_id == batch_id)) == count
        assert db.session.scalars(select(Charge.quantity).where(Charge.store_id == store.id)).all() == [
            count * quantity]
        actions = db.session.scalars(select(HistoryEntry.action).where(
            HistoryEntry.subject_type == "batches", HistoryEntry.subject_id == batch_id)
            .order_by(HistoryEntry.id)).all()
        assert actions == ["previewed", "confirmed", "requeued", "issued"]
    except AssertionError:
        cluster.workers.dump_logs()
        raise
    finally:
        blocker.close()
        blocker_engine.dispose()
    cluster.start_worker(victim)
    _figures("batch", count * quantity, detected, resumed, rq_gives_up)


def _figures(what: str, size_: int, detected: float | None, resumed: float, rq_gives_up: float) -> None:
    if detected is None:
        figure(f"worker killed mid-{what} ({size_})",
               f"sweeper run past the lease here; the other worker finished {resumed:.1f} s after "
               f"the kill (on the real clock: lease {jobs.LEASE.total_seconds():.0f} s + ≤ 60 s to "
               f"the sweep); RQ alone: {rq_gives_up:.0f} s + its 10-min clean-up")
    else:
        figure(f"worker killed mid-{what} ({size_})",
               f"taken back {detected:.0f} s after the kill, finished by the other worker at "
               f"{resumed:.0f} s; RQ alone: {rq_gives_up:.0f} s + its 10-min clean-up")


def _night_runs(day) -> list[BankSyncRun]:  # noqa: ANN001
    db.session.rollback()
    return list(db.session.scalars(select(BankSyncRun).where(BankSyncRun.business_day == day)
                                   .order_by(BankSyncRun.id).execution_options(populate_existing=True)))


def test_a_worker_killed_mid_sync_the_other_finishes_the_night_once(cluster, seeding):
    # The night before the latest 01:00 (that one is the schedulers' test's): tickets issued two
    # days before it, redeemed and returned the day before it.
    night_slot = latest_slot("0 1 * * *", clock.now()) - timedelta(days=1)
    night = clock.business_day(night_slot)
    n = size(40, 1200)
    prepared = sync_night("scalekillsync", night, n)
    sold, redeemed, returned = prepared.sold, prepared.redeemed, prepared.returned
    serials = {t.serial for t in sold}
    ids = {t.id for t in sold}

    # The bank takes the first chunk of releases (the money moves) and holds its answer.
    gate = cluster.bank.gate
    gate.arm(lambda entries: any(e.get("kind") == "release" and e.get("ticket_serial") in serials
                                 for e in entries))
    with cluster.via_rq():
        jobs.enqueue("app.escrow.jobs:nightly_sync", night_slot.isoformat(), job_id="scale-kill-sync")
        db.session.commit()
    try:
        assert gate.reached.wait(120), "the sync never sent its releases"
        [victim] = [name for name in cluster.alive if cluster.current_job(name) == "scale-kill-sync"]
        rq_gives_up = cluster.rq_gives_up_in("scale-kill-sync")
        cluster.kill(victim)  # kill -9, waiting for the bank's answer
        killed_at = time.monotonic()
        gate.open()  # the answer goes nowhere
        held = {e["key"] for e in gate.held}
        wait_for("the killed worker's connections to close", lambda: not cluster.backends(victim))
        [run] = _night_runs(night)
        assert (run.status, run.attempts) == (SyncRunStatus.RUNNING, 1)

        if FULL:
            detected = wait_for("the surviving worker's sweeper to fail the dead run",
                                lambda: _night_runs(night)[0].status is SyncRunStatus.FAILED,
                                DETECTION_LIMIT)
        else:
            _sweep_past_the_lease(cluster, "sweep_sync_runs")
            detected = None
        wait_for("the surviving worker to run the night again",
                 lambda: _night_runs(night)[-1].status is SyncRunStatus.DONE, 120)
        resumed = time.monotonic() - killed_at
    except AssertionError:
        cluster.workers.dump_logs()
        raise
    finally:
        gate.open()

    dead, again = _night_runs(night)
    assert (dead.status, dead.attempts, again.status, again.attempts, again.trigger) == (
        SyncRunStatus.FAILED, 1, SyncRunStatus.DONE, 2, "retry")
    assert ABANDONED_RETRY in dead.error
    statuses = Counter(db.session.scalars(select(Ticket.status).where(Ticket.id.in_(ids))))
    assert statuses == {S.REDEEMED: len(redeemed), S.RETURNED: len(returned),
                        S.UNUSED: n - len(redeemed) - len(returned)}

    # The bank moved each ticket's money once: one key per ticket and kind, each accepted; the
    # held chunk was sent again after the kill under the same keys, the rest once.
    entries = cluster.bank.entries_of(serials)
    assert all(record["answer"]["accepted"] for record in entries)
    per_entry = Counter((r["entry"]["ticket_serial"], r["entry"]["kind"]) for r in entries)
    assert set(per_entry.values()) == {1}
    kinds = Counter(r["entry"]["kind"] for r in entries)
    assert kinds == {"deposit": n, "release": len(redeemed), "refund": len(returned)}
    received = cluster.bank.received({r["key"] for r in entries})
    assert held and all(received[key] == 2 for key in held)
    assert all(count == 1 for key, count in received.items() if key not in held)
    ledger = Counter(db.session.execute(select(LedgerEntry.ticket_id, LedgerEntry.kind).where(
        LedgerEntry.ticket_id.in_(ids))).all())
    assert set(ledger.values()) == {1}
    assert Counter(kind for _, kind in ledger) == {
        LedgerKind.DEPOSIT: n, LedgerKind.RELEASE: len(redeemed), LedgerKind.REFUND: len(returned)}

    cluster.start_worker(victim)
    _figures("sync", n, detected, resumed, rq_gives_up)
