"""Rule j: a worker killed while a batch is issuing (kill -9) does not leave it in 發行中.

A real `worker.py` process on PostgreSQL and Redis claims a 1000-ticket batch and is stopped
half-way through the issuing transaction (the test holds a lock on the `charges` table, which the
issue writes near its end), then killed with SIGKILL. A second worker is started, the sweeper
runs with the clock past the lease, and the batch must end issued exactly once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from app import clock, jobs, schedule
from app.billing.models import Charge
from app.db import db
from app.history import HistoryEntry
from app.issuance import jobs as issuance_jobs
from app.issuance import services
from app.issuance.models import Batch, BatchStatus
from app.jobs import ScheduledRun
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from tests.issuance.helpers import ready_store, rows
from tests.processes import Workers, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def workers(pg_database_url, redis_url, tmp_path) -> Iterator[Workers]:  # noqa: ANN001
    started = Workers(pg_database_url, redis_url, tmp_path, env={"SECRET_KEY": "killed-worker-test"})
    try:
        yield started
    finally:
        started.stop_all()


def _backends(name: str) -> list[str]:
    """The wait event type of each open connection of the named worker ('' when running)."""
    db.session.rollback()  # pg_stat_activity is read once per transaction
    return [row[0] or "" for row in db.session.execute(text(
        "SELECT wait_event_type FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = :name"), {"name": name})]


def _fresh_batch(batch_id: int) -> Batch:
    db.session.rollback()  # see what the workers committed
    batch = db.session.get(Batch, batch_id, populate_existing=True)
    assert batch is not None
    return batch


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


def test_rule_j_a_worker_killed_mid_issue_leaves_the_batch_issued_once(pg_app, pg_database_url,
                                                                      redis_url, workers):
    from redis import Redis
    from rq import Queue
    from rq.job import Job, JobStatus

    pg_app.config.update(JOBS_MODE="rq", REDIS_URL=redis_url)
    blocker_engine = create_engine(pg_database_url, poolclass=NullPool)
    blocker = blocker_engine.connect()
    try:
        with pg_app.app_context():
            # The workers' own ticks run no recurring job here: every slot is taken already.
            for rec in schedule.SCHEDULE:
                db.session.add(ScheduledRun(name=rec.name, status="done",
                                            slot=clock.now() + timedelta(days=365)))
            store, owner, pickup, _ = ready_store()
            batch = services.prepare_batch(owner, store, import_no="KILL9",
                                           method=DeliveryMethod.IMMEDIATE, kind=ProductKind.PICKUP,
                                           rows=rows(pickup, count=10, quantity=100))
            db.session.commit()
            batch_id = batch.id

            # The issuing transaction will wait at its charge row, after the orders and tickets.
            blocker.begin()
            blocker.execute(text("LOCK TABLE charges IN SHARE MODE"))
            assert services.confirm_batch(owner, store, batch)
            db.session.commit()  # the job goes to Redis

            first = workers.start("ectix-worker-killed", "default")
            wait_for("the first worker to block inside the issuing transaction",
                      lambda: "Lock" in _backends("ectix-worker-killed"))
            assert _fresh_batch(batch_id).status is BatchStatus.ISSUING

            # RQ alone: the dead job's registry entry expires only after the job's timeout
            # plus a minute, and is looked at on the worker's next clean-up (every 10 min).
            started = Queue("default", connection=Redis.from_url(redis_url)).started_job_registry
            [(_, expires_at)] = started.connection.zrange(started.key, 0, -1, withscores=True)
            assert expires_at - time.time() > 5 * 60

            first.send_signal(signal.SIGKILL)  # kill -9, mid-transaction
            first.wait(10)
            blocker.rollback()  # the lock goes; the dead worker's transaction is rolled back
            wait_for("the killed worker's connections to close",
                      lambda: not _backends("ectix-worker-killed"))
            stuck = _fresh_batch(batch_id)
            assert (stuck.status, stuck.attempts) == (BatchStatus.ISSUING, 1)  # 發行中, forever
            assert _count(Ticket) == _count(Order) == _count(Charge) == 0  # nothing half-issued

            workers.start("ectix-worker-second", "default")
            clock.freeze(clock.now() + jobs.LEASE + timedelta(seconds=5))
            sweep = jobs.run_now("sweep_batches")  # the recurring sweeper, past the lease
            assert sweep.status == "done", sweep.error
            wait_for("the second worker to issue the batch",
                      lambda: _fresh_batch(batch_id).status is BatchStatus.SUCCEEDED)

            issued = _fresh_batch(batch_id)
            assert (issued.attempts, issued.issued_count, issued.lease_until) == (2, 1000, None)
            assert _count(Ticket) == 1000 and _count(Order) == 10
            assert db.session.scalars(select(Charge.quantity)).all() == [1000]
            actions = db.session.scalars(select(HistoryEntry.action).where(
                HistoryEntry.subject_type == "batches", HistoryEntry.subject_id == batch_id)
                .order_by(HistoryEntry.id)).all()
            assert actions == ["previewed", "confirmed", "requeued", "issued"]

            # A late duplicate of the job (RQ retrying the abandoned one) and later sweeps
            # change nothing: issued exactly once.
            jobs.enqueue(issuance_jobs.issue_batch, batch_id, job_id="duplicate-issue")
            db.session.commit()
            duplicate = Job.fetch("duplicate-issue", connection=Redis.from_url(redis_url))
            wait_for("the duplicate job to run",
                      lambda: duplicate.get_status(refresh=True) == JobStatus.FINISHED)
            clock.move(jobs.LEASE * 3)
            assert issuance_jobs.sweep_batches(clock.now().isoformat()) == 0
            assert _fresh_batch(batch_id).status is BatchStatus.SUCCEEDED
            assert _count(Ticket) == 1000 and _count(Order) == 10 and _count(Charge) == 1
    except AssertionError:
        workers.dump_logs()
        raise
    finally:
        blocker.close()
        blocker_engine.dispose()
        workers.stop_all()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_worker_py_runs_scheduled_retries_on_a_thread_and_forks_nothing(pg_app, redis_url, workers):
    from tests.jobs.sample_jobs import count_news, flaky_write_news

    pg_app.config.update(JOBS_MODE="rq", REDIS_URL=redis_url)
    with pg_app.app_context():
        for rec in schedule.SCHEDULE:  # no recurring job runs here
            db.session.add(ScheduledRun(name=rec.name, status="done",
                                        slot=clock.now() + timedelta(days=365)))
        jobs.enqueue(flaky_write_news, "retried by worker.py", retries=(1,))
        db.session.commit()
        worker = workers.start("ectix-worker-retry", "default")

        def written() -> bool:
            db.session.rollback()
            return count_news("retried by worker.py") == 1

        wait_for("the retry RQ scheduled to run", written)
        assert "first attempt fails" in workers.log("ectix-worker-retry")
        assert worker.poll() is None and _children(worker.pid) == []
