"""Jobs: enqueued after commit only, run inline / on a thread / on real Redis, one schedule table."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock, jobs, schedule
from app.db import db
from app.jobs import ScheduledRun, enqueue, latest_slot, tick
from app.schedule import Recurring
from tests.jobs import sample_jobs
from tests.jobs.sample_jobs import count_news


def test_a_job_runs_only_after_the_commit(ctx):
    enqueue(sample_jobs.write_news, "after-commit")
    assert count_news("after-commit") == 0  # nothing before the commit
    db.session.commit()
    assert count_news("after-commit") == 1


def test_a_rolled_back_transaction_drops_its_jobs(ctx):
    enqueue(sample_jobs.write_news, "rolled-back")
    db.session.rollback()
    db.session.commit()
    assert count_news("rolled-back") == 0


def test_jobs_take_ids_not_objects(ctx):
    run = ScheduledRun(name="x", slot=clock.now())
    with pytest.raises(TypeError):
        enqueue(sample_jobs.write_news, run)


@pytest.mark.parametrize(
    ("cron", "taipei_now", "expected_taipei"),
    [
        ("0 1 * * *", (2026, 7, 3, 0, 59), (2026, 7, 2, 1, 0)),
        ("0 1 * * *", (2026, 7, 3, 1, 0), (2026, 7, 3, 1, 0)),
        ("0 21 * * *", (2026, 7, 3, 20, 0), (2026, 7, 2, 21, 0)),
        ("0 0 1 * *", (2026, 7, 15, 12, 0), (2026, 7, 1, 0, 0)),
    ],
)
def test_latest_slot_is_read_on_a_taipei_clock(cron, taipei_now, expected_taipei):
    assert latest_slot(cron, clock.taipei_datetime(*taipei_now)) == clock.taipei_datetime(
        *expected_taipei)


@pytest.fixture
def marker_schedule(monkeypatch):
    table = [Recurring("marker", "0 1 * * *", "tests.jobs.sample_jobs:recurring_marker", "test")]
    monkeypatch.setattr(schedule, "SCHEDULE", table)
    return table


def _runs(name="marker"):
    return db.session.scalars(select(ScheduledRun).where(ScheduledRun.name == name)
                              .order_by(ScheduledRun.slot)).all()


def test_tick_runs_a_due_job_once_and_is_safe_to_repeat(ctx, marker_schedule):
    clock.freeze(clock.taipei_datetime(2026, 7, 3, 1, 0, 5))
    assert tick() == ["marker"]
    assert tick() == []
    runs = _runs()
    assert [(r.status, r.slot) for r in runs] == [("done", clock.taipei_datetime(2026, 7, 3, 1))]
    slot_title = f"recurring {clock.taipei_datetime(2026, 7, 3, 1).isoformat()}"
    assert count_news(slot_title) == 1


def test_slots_missed_while_nothing_ran_are_caught_up_by_one_run(ctx, marker_schedule):
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 2, 0))
    tick()
    clock.freeze(clock.taipei_datetime(2026, 7, 5, 9, 0))  # four nights without a worker
    assert tick() == ["marker"]
    assert [r.slot for r in _runs()] == [clock.taipei_datetime(2026, 7, 1, 1),
                                         clock.taipei_datetime(2026, 7, 5, 1)]
    assert tick() == []


def test_running_a_finished_run_again_does_nothing(ctx, marker_schedule):
    clock.freeze(clock.taipei_datetime(2026, 7, 3, 1, 0, 5))
    tick()
    run = _runs()[0]
    jobs.run_scheduled(run.id)
    assert db.session.scalar(select(func.count()).select_from(sample_jobs.NewsItem)) == 1


def test_a_failing_recurring_job_is_recorded_not_silent(ctx, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", [
        Recurring("boom", "0 1 * * *", "tests.jobs.sample_jobs:failing_recurring", "test")])
    run = jobs.run_now("boom")
    assert run.status == "failed" and "boom" in run.error


def test_a_run_left_behind_by_a_dead_process_is_handed_out_again(ctx, marker_schedule):
    clock.freeze(clock.taipei_datetime(2026, 7, 3, 1, 0, 5))
    db.session.add(ScheduledRun(name="marker", slot=clock.taipei_datetime(2026, 7, 3, 1),
                                status="running", created_at=clock.now()))
    db.session.commit()
    assert tick() == []  # claimed already: not duplicated
    assert _runs()[0].status == "running"
    clock.move(timedelta(minutes=31))  # longer than any job may run (RQ's timeout is 10 min)
    tick()
    assert [r.status for r in _runs()] == ["done"]  # handed out again and finished, once
    assert count_news(f"recurring {clock.taipei_datetime(2026, 7, 3, 1).isoformat()}") == 1


def test_a_run_that_waited_long_in_the_queue_is_not_run_again_while_it_runs(ctx, marker_schedule):
    """Stale is measured from the start for a running run: one queued behind a backlog for 35
    minutes and running since is left alone (handing it out would run it a second time)."""
    clock.freeze(clock.taipei_datetime(2026, 7, 3, 1, 40))
    db.session.add(ScheduledRun(name="marker", slot=clock.taipei_datetime(2026, 7, 3, 1),
                                status="running", created_at=clock.taipei_datetime(2026, 7, 3, 1, 0, 5),
                                started_at=clock.taipei_datetime(2026, 7, 3, 1, 35)))
    db.session.commit()
    assert tick() == []
    assert [r.status for r in _runs()] == ["running"]
    assert count_news(f"recurring {clock.taipei_datetime(2026, 7, 3, 1).isoformat()}") == 0
    clock.move(timedelta(minutes=26))  # 31 minutes since it started: its process died
    tick()
    assert [r.status for r in _runs()] == ["done"]
    assert count_news(f"recurring {clock.taipei_datetime(2026, 7, 3, 1).isoformat()}") == 1


def test_cli_runs_a_job_by_name(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "prune_login_events"])
    assert result.exit_code == 0, result.output
    assert "prune_login_events: done" in result.output
    bad = runner.invoke(args=["jobs", "run", "no_such_job"])
    assert bad.exit_code != 0 and "unknown job" in bad.output
    listing = runner.invoke(args=["jobs", "list"])
    assert "prune_login_events" in listing.output


def test_every_scheduled_job_resolves_to_a_function():
    for rec in schedule.SCHEDULE:
        assert callable(jobs.resolve(rec.func)), rec.name


def _wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_thread_mode_runs_jobs_inside_the_process_with_retries(app, ctx):
    app.config["JOBS_MODE"] = "thread"
    monkey_retries = (0,)  # retry at once
    enqueue(sample_jobs.flaky_write_news, "thread-mode", retries=monkey_retries)
    db.session.commit()
    try:
        assert _wait_for(lambda: _fresh_count("thread-mode") == 1)
        assert sample_jobs.ATTEMPTS["thread-mode"] == 2
    finally:
        runner = jobs._local
        if runner is not None:
            runner.stop.set()
            runner.thread.join(5)
        jobs._local = None
        jobs._app = None


def _fresh_count(title: str) -> int:
    db.session.rollback()  # see rows committed by other connections
    return count_news(title)


@pytest.mark.redis
def test_rq_mode_sends_jobs_to_redis_for_the_worker(app, ctx, redis_url):
    from redis import Redis
    from rq import Queue, SimpleWorker

    app.config.update(JOBS_MODE="rq", REDIS_URL=redis_url)
    enqueue(sample_jobs.write_news, "via-redis")
    queue = Queue("default", connection=Redis.from_url(redis_url))
    assert queue.count == 0  # not before the commit
    db.session.commit()
    assert queue.count == 1
    assert count_news("via-redis") == 0
    jobs.bind_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        jobs._app = None
    assert _fresh_count("via-redis") == 1


@pytest.mark.redis
def test_rq_mode_retries_a_failing_job(app, ctx, redis_url):
    from redis import Redis
    from rq import Queue, SimpleWorker

    app.config.update(JOBS_MODE="rq", REDIS_URL=redis_url)
    enqueue(sample_jobs.flaky_write_news, "redis-retry", retries=(0,))
    db.session.commit()
    queue = Queue("default", connection=Redis.from_url(redis_url))
    jobs.bind_app(app)
    try:
        worker = SimpleWorker([queue], connection=queue.connection)
        worker.work(burst=True, with_scheduler=True)
        _wait_for(lambda: (worker.work(burst=True, with_scheduler=True) or True)
                  and _fresh_count("redis-retry") == 1, seconds=10)
    finally:
        jobs._app = None
    assert _fresh_count("redis-retry") == 1
    assert sample_jobs.ATTEMPTS["redis-retry"] == 2


def test_a_frequent_job_keeps_only_its_latest_run_and_its_failures(ctx, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", [
        Recurring("sweep", "* * * * *", "tests.jobs.sample_jobs:recurring_marker", "test",
                  keep_runs=False)])
    clock.freeze(clock.taipei_datetime(2026, 7, 3, 1, 0, 5))
    db.session.add(ScheduledRun(name="sweep", slot=clock.now() - timedelta(minutes=5),
                                status="failed", error="boom"))
    db.session.commit()
    for _ in range(3):
        assert tick() == ["sweep"]
        clock.move(timedelta(minutes=1))
    assert [(r.status, r.slot) for r in _runs("sweep")] == [
        ("failed", clock.taipei_datetime(2026, 7, 3, 0, 55, 5)),
        ("done", clock.taipei_datetime(2026, 7, 3, 1, 2))]
    assert count_news(f"recurring {clock.taipei_datetime(2026, 7, 3, 1, 0).isoformat()}") == 1


def test_every_sweeper_runs_every_minute_and_keeps_no_history():
    sweepers = [rec for rec in schedule.SCHEDULE if rec.name.startswith("sweep_")]
    assert {rec.func for rec in sweepers} == {
        "app.issuance.jobs:sweep_batches", "app.installments.jobs:sweep_batches",
        "app.reports.jobs:sweep_exports",
        "app.escrow.jobs:sweep_sync_runs", "app.notifications.jobs:sweep_messages"}
    assert all(rec.cron == "* * * * *" and not rec.keep_runs for rec in sweepers)
