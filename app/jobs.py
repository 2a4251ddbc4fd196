"""Background jobs: one way to enqueue (after commit), three ways to run, one schedule table.

- `enqueue(func, *ids)` queues a job on the current database session; it is sent only when that
  session commits (and dropped on rollback), so a worker never starts before its rows exist.
- JOBS_MODE "rq": jobs go to Redis (REDIS_URL) and `python worker.py` runs them.
  "thread": RQ on an in-memory Redis with a worker thread inside this process (the default: no
  server needed). "inline": run right after the commit, in a fresh app context (tests).
- Jobs are entry points in a feature's `jobs.py` taking ids (or other plain values): they
  reload, call services (which never commit) and commit. `run_job` gives each one its own app
  context and database session. A service that must queue a job of its own package names it by
  path ("app.issuance.jobs:issue_batch"), as the schedule does, since the job imports the service.
- Recurring jobs live in `app.schedule.SCHEDULE`; `tick()` enqueues each one's latest due slot
  once (a unique row per slot is the lock), which also catches up on slots missed while nothing
  ran: a recurring job always processes everything eligible, so one run covers them all. A run
  starts by a compare-and-set (queued → running), and one left behind by a dead process is
  handed out again by a compare-and-set too: any number of schedulers (every `worker.py` has
  one) runs each slot once.
- Leases: a job that moves a row into a working state (a batch issuing, an export running, a bank
  sync run, a message being sent) claims it with a compare-and-set that counts the attempt and
  sets `lease_until = now + LEASE`; long work renews the lease as it goes, and the job's final
  write is a compare-and-set on the attempt it claimed. A worker killed mid-job leaves the row
  working with a lease that runs out; the feature's sweeper (in the schedule, every minute) then
  queues it again (the work is all-or-nothing or idempotent) or, after MAX_ATTEMPTS, fails it
  with a reason. RQ alone is not enough: it notices an abandoned job only after the job's
  timeout plus a minute and its next registry clean-up (over ten minutes with our timeouts),
  and then re-runs a job that knows nothing of the row left working.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from flask import Flask, current_app
from sqlalchemy import (
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import clock, schedule
from app.db import db, insert_ignoring_conflict

log = logging.getLogger(__name__)

DEFAULT_RETRY_INTERVALS = (5, 30, 120)
# Workers take queues in this order: work someone is waiting for (issuing a batch) first,
# notifications (hundreds of e-mails and SMS after a batch) behind it.
QUEUES = ("default", "notifications")
STALE_AFTER = timedelta(minutes=30)
LEASE = timedelta(minutes=2)  # a working row's job renews within this, or is taken as dead
MAX_ATTEMPTS = 3  # claims of one row before the sweeper fails it instead of queueing it again


@dataclass(frozen=True)
class PendingJob:
    path: str
    args: tuple[Any, ...]
    retries: tuple[int, ...] = DEFAULT_RETRY_INTERVALS
    timeout: int = 600
    job_id: str | None = None
    queue: str = "default"


def path_of(func: Callable[..., Any]) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def enqueue(func: Callable[..., Any] | str, *args: Any,
            retries: tuple[int, ...] = DEFAULT_RETRY_INTERVALS, timeout: int = 600,
            job_id: str | None = None, queue: str = "default") -> None:
    """Queue `func(*args)` to run after the current transaction commits. `func` is a function
    or its "module:function" path (checked now, so a wrong path fails here, not in a worker)."""
    if isinstance(func, str):
        path = func
        resolve(path)
    else:
        path = path_of(func)
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    for arg in args:
        if not isinstance(arg, int | str | float | bool | type(None)):
            raise TypeError(f"jobs take ids and plain values, not {type(arg).__name__}")
    if not db.session().in_transaction():
        db.session.begin()  # so a rollback, even of a transaction that wrote nothing, drops it
    pending = db.session.info.setdefault("pending_jobs", [])
    pending.append(PendingJob(path, args, retries, timeout, job_id, queue))


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop("pending_jobs", [])
    for job in pending:
        dispatch(job)


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop("pending_jobs", None)


# Running ---------------------------------------------------------------------------------

_app: Flask | None = None
# (id, path) of the job this thread or task runs: RQ's job id, or its path when run inline.
# Log records carry it (app.observability.logs), so a job's lines can be found together.
_running: ContextVar[tuple[str, str] | None] = ContextVar("ectix_running_job", default=None)


def running_job() -> tuple[str, str] | None:
    return _running.get()


def bind_app(app: Flask) -> None:
    """The app that worker threads and processes build their contexts from."""
    global _app
    _app = app


def run_job(path: str, *args: Any) -> Any:
    """Entry point for every job: a fresh app context and session, cleaned up afterwards."""
    from rq import get_current_job

    app = _app or current_app._get_current_object()  # type: ignore[attr-defined]
    rq_job = get_current_job()
    running = _running.set((rq_job.id if rq_job is not None else path, path))
    with app.app_context():
        try:
            return resolve(path)(*args)
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
            _running.reset(running)


def dispatch(job: PendingJob) -> None:
    mode = (current_app.config["JOBS_MODE"] if _app is None else _app.config["JOBS_MODE"])
    if mode == "inline":
        run_job(job.path, *job.args)
        return
    from rq import Retry

    queue = _queue(job.queue)
    queue.enqueue_call(
        run_job,
        args=(job.path, *job.args),
        timeout=job.timeout,
        job_id=job.job_id,
        retry=Retry(max=len(job.retries), interval=list(job.retries)) if job.retries else None,
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"{job.path}{job.args}",
    )


_local_lock = threading.Lock()
_local: LocalRunner | None = None


def _queue(name: str):  # noqa: ANN202 - rq types stay out of the module's import time
    from redis import Redis
    from rq import Queue

    app = _app or current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["JOBS_MODE"] == "rq":
        return Queue(name, connection=Redis.from_url(app.config["REDIS_URL"]))
    return ensure_local_runner(app).queues[name]


@dataclass
class LocalRunner:
    """RQ on an in-memory Redis, worked by a daemon thread of this process (JOBS_MODE=thread)."""

    app: Flask
    queues: dict[str, Any] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        import fakeredis
        from rq import Queue

        connection = fakeredis.FakeStrictRedis()
        self.queues = {name: Queue(name, connection=connection) for name in QUEUES}
        self.thread = threading.Thread(target=self._loop, name="ectix-jobs", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        from rq import SimpleWorker
        from rq.timeouts import TimerDeathPenalty

        class ThreadWorker(SimpleWorker):
            death_penalty_class = TimerDeathPenalty

            def _install_signal_handlers(self) -> None:  # signals belong to the main thread
                pass

        queues = [self.queues[name] for name in QUEUES]
        worker = ThreadWorker(queues, connection=queues[0].connection)
        next_tick = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() >= next_tick:
                    with self.app.app_context():
                        tick()
                    next_tick = time.monotonic() + 30
                worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            except Exception:  # keep the thread alive; the failure is in the job's record
                log.exception("in-process job runner")
            self.stop.wait(0.5)


def ensure_local_runner(app: Flask) -> LocalRunner:
    global _local
    with _local_lock:
        if _local is None:
            bind_app(app)
            _local = LocalRunner(app)
            _local.start()
        return _local


# The schedule ----------------------------------------------------------------------------


class ScheduledRun(db.Model):
    """One run of a recurring job for one slot; the unique (name, slot) row is the run's lock."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("name", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    slot: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued/running/done/failed
    trigger: Mapped[str] = mapped_column(String(10), default="schedule")  # schedule / manual
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


def latest_slot(cron: str, at: datetime) -> datetime:
    """The latest instant <= `at` matching `cron`, read on a Taipei wall clock, in UTC."""
    start = clock.taipei(at) + timedelta(seconds=1)
    return croniter(cron, start.replace(microsecond=0)).get_prev(datetime).astimezone(UTC)


def tick() -> list[str]:
    """Enqueue every recurring job whose latest slot has not run yet. Safe to call anywhere,
    any number of times, from any number of processes. Returns the names enqueued."""

    at = clock.now()
    enqueued: list[str] = []
    for rec in schedule.SCHEDULE:
        slot = latest_slot(rec.cron, at)
        done = db.session.scalar(
            select(ScheduledRun.id).where(ScheduledRun.name == rec.name,
                                          ScheduledRun.slot >= slot).limit(1)
        )
        if done is None and _claim(rec.name, slot, "schedule"):
            enqueued.append(rec.name)
    _requeue_stale(at)
    db.session.commit()
    return enqueued


def _claim(name: str, slot: datetime, trigger: str) -> int | None:
    run_id = insert_ignoring_conflict(
        ScheduledRun, name=name, slot=slot, trigger=trigger, status="queued", created_at=clock.now()
    )
    if run_id is None:
        return None  # another process claimed this slot first
    enqueue(run_scheduled, run_id, retries=())
    return run_id


def _requeue_stale(at: datetime) -> None:
    """Runs left queued or running by a process that died are handed out again: queued for
    STALE_AFTER (its job was lost), or running for STALE_AFTER since it started (longer than RQ
    lets a job run). Each is taken with a compare-and-set on the same condition, so of several
    schedulers one hands it out, and a run that started meanwhile is left to finish: a run
    waiting long in the queue and then running is not also run a second time."""
    cutoff = at - STALE_AFTER
    stale = or_(and_(ScheduledRun.status == "queued", ScheduledRun.created_at < cutoff),
                and_(ScheduledRun.status == "running",
                     func.coalesce(ScheduledRun.started_at, ScheduledRun.created_at) < cutoff))
    for run_id in db.session.scalars(select(ScheduledRun.id).where(stale)).all():
        taken = db.session.execute(
            update(ScheduledRun).where(ScheduledRun.id == run_id, stale)
            .values(status="queued", created_at=at).execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            enqueue(run_scheduled, run_id, retries=())


def run_scheduled(run_id: int) -> None:
    """Job entry for one scheduled run: claim it (compare-and-set), run it, record the outcome."""

    claimed = db.session.execute(
        update(ScheduledRun)
        .where(ScheduledRun.id == run_id, ScheduledRun.status == "queued")
        .values(status="running", started_at=clock.now())
    ).rowcount
    db.session.commit()
    if not claimed:
        return  # already running or finished elsewhere
    run = db.session.get(ScheduledRun, run_id)
    assert run is not None
    try:
        resolve(schedule.by_name(run.name).func)(run.slot.isoformat())
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(ScheduledRun, run_id)
        assert run is not None
        run.status, run.finished_at, run.error = "failed", clock.now(), repr(exc)[:2000]
        db.session.commit()
        raise
    run.status, run.finished_at = "done", clock.now()
    if not schedule.by_name(run.name).keep_runs:  # a frequent job keeps its last run and its failures
        db.session.execute(delete(ScheduledRun).where(
            ScheduledRun.name == run.name, ScheduledRun.status == "done", ScheduledRun.id != run.id))
    db.session.commit()


def run_now(name: str, requested_by: int | None = None) -> ScheduledRun:
    """Run a recurring job at once, in this process (`flask jobs run NAME`)."""

    schedule.by_name(name)  # unknown names fail before anything is written
    run = ScheduledRun(name=name, slot=clock.now(), trigger="manual", requested_by_id=requested_by)
    db.session.add(run)
    db.session.flush()
    run_id = run.id
    db.session.commit()
    try:
        run_scheduled(run_id)
    except Exception:
        pass  # recorded on the run
    return db.session.get(ScheduledRun, run_id)  # type: ignore[return-value]


# Leases (see the module docstring) ------------------------------------------------------------


class LeaseLost(Exception):
    """The row this job claimed was taken back by a sweeper (its lease ran out): the job's work
    is rolled back, never committed; the attempt that holds the row now does the work."""


def lease_end(at: datetime | None = None) -> datetime:
    """When a lease taken (or renewed) now runs out."""
    return (at or clock.now()) + LEASE


def abandoned(model: Any, *working: Any, limit: int = 100) -> list[Any]:
    """Rows of `model` in a working state (the `working` conditions) whose lease ran out: their
    job died. Oldest lease first; a sweeper run takes at most `limit` (the next takes the rest)."""
    return list(db.session.scalars(
        select(model).where(model.lease_until < clock.now(), *working)
        .order_by(model.lease_until, model.id).limit(limit).execution_options(unscoped=True)))


def take_back(row: Any, *working: Any, **values: Any) -> bool:
    """Compare-and-set on an abandoned row: write `values` only if it is still in the working
    state, on the same attempt, with its lease run out (no other sweeper, no late job got there
    first). True when this call took it."""
    model = type(row)
    return bool(db.session.execute(
        update(model).where(model.id == row.id, model.attempts == row.attempts,
                            model.lease_until < clock.now(), *working)
        .values(**values).execution_options(unscoped=True, synchronize_session=False)
    ).rowcount)
