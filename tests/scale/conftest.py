"""The scale harness (issue 22): the app as production runs it, twice over.

`cluster` (one per package run) is
- a PostgreSQL database of its own (made and migrated here, dropped after) and the tests' Redis
  database (flushed before and after);
- two gunicorn hosts serving `app:create_app()` on two loopback ports with REDIS_URL set, so
  every job goes to RQ; `RoundRobin` sends each request to the next host;
- two `worker.py` processes, each with its scheduler thread ticking every second;
- the escrow bank simulator on loopback (a thread of this process), with a `Gate` that can hold
  its answer to a submission while a test kills the worker waiting for it.
The test process writes its data through the services on the same database (jobs inline, or
sent to RQ inside `cluster.via_rq()`).

The daily and monthly recurring jobs are held back by a finished run for a far-future slot, so
they run only where a test lets them (`cluster.unblock`); the every-minute sweepers and notice
jobs run in the workers as in production.

Bounded by default: part of `make test`, a minute or two. `ECTIX_SCALE_FULL=1` (`make scale`)
runs the same tests at full size and lets the killed workers' leases run out on the real clock
(two to three minutes each) instead of moving this process's clock past them. Either way the
figures (`figure(...)`) are printed at the end of the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from redis import Redis
from werkzeug.serving import make_server

from app import create_app, schedule
from app.db import db
from app.escrow.simulator import make_simulator
from app.jobs import ScheduledRun
from tests.conftest import REDIS_URL, base_config, fresh_pg_database, service_missing
from tests.escrow.conftest import BANK_KEY, bank, simulator  # noqa: F401
from tests.processes import Hosts, Workers
from tests.scale import harness
from tests.scale.harness import HELD_BACK, HOST_NAMES, WORKER_NAMES, Bank, Cluster, Gate


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if harness.FIGURES:
        terminalreporter.section(f"scale figures ({'full' if harness.FULL else 'bounded'} run)")
        width = max(len(name) for name, _ in harness.FIGURES)
        for name, value in harness.FIGURES:
            terminalreporter.write_line(f"{name:<{width}}  {value}")



def _redis() -> Redis:
    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except Exception as exc:  # noqa: BLE001
        connection.close()
        service_missing(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    return connection


@contextmanager
def _bank() -> Iterator[Bank]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sim = make_simulator(None, key=BANK_KEY)
    gate = Gate(sim)
    server = make_server("127.0.0.1", 0, gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        bank = Bank(sim, gate, f"http://127.0.0.1:{server.server_port}")
        bank.control(require_deposit=True)  # the bank must hold a deposit before moving it
        yield bank
    finally:
        gate.open()
        server.shutdown()
        thread.join(5)
        server.server_close()


def _hold_back_daily_jobs(app: Flask) -> None:
    with app.app_context():
        for rec in schedule.SCHEDULE:
            if rec.cron != "* * * * *":
                db.session.add(ScheduledRun(name=rec.name, slot=HELD_BACK, status="done",
                                            trigger="manual"))
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis = _redis()
    redis.flushdb()
    logs = tmp_path_factory.mktemp("scale-logs")
    # A database of the harness's own (its processes write to it on their own schedule: the
    # session's shared test database stays out of their reach).
    with fresh_pg_database("ectix_scale") as url, _bank() as gated:
        app = create_app(base_config(url) | {
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10, "max_overflow": 10, "pool_timeout": 10},
            "ESCROW_BANK_URL": gated.url, "ESCROW_BANK_KEY": BANK_KEY})
        _hold_back_daily_jobs(app)
        hosts = Hosts(url, REDIS_URL, logs)
        workers = Workers(url, REDIS_URL, logs, env={
            "ESCROW_BANK_URL": gated.url, "ESCROW_BANK_KEY": BANK_KEY, "ESCROW_BANK_TIMEOUT": "120",
            "ECTIX_TICK_SECONDS": "1"})
        found = Cluster(url, REDIS_URL, app, gated, hosts, workers, logs)
        try:
            try:
                for name in HOST_NAMES:  # started together: each takes seconds to import the app
                    hosts.start(name, wait=False)
                for name in WORKER_NAMES:
                    found.start_worker(name)
                for name in HOST_NAMES:
                    hosts.wait_up(name)
            except BaseException:
                hosts.dump_logs()
                workers.dump_logs()
                raise
            yield found
        finally:
            hosts.stop_all()
            workers.stop_all()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            redis.flushdb()
            redis.close()


@pytest.fixture
def seeding(cluster: Cluster) -> Iterator[Flask]:
    """An app context of this process on the cluster's database, for a test body."""
    with cluster.app.app_context():
        yield cluster.app
        db.session.remove()
