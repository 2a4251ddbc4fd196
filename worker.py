"""RQ worker with its scheduler, for REDIS_URL deployments: `python worker.py [queue ...]`
(default: every queue, the `default` queue first, then `notifications`).

Runs jobs from Redis inside the app, one at a time, in this process. A background thread
enqueues, every second, the retries RQ has scheduled (RQ's scheduler), and every 30 seconds
(ECTIX_TICK_SECONDS) the recurring jobs that are due (`app.jobs.tick`; safe with any number of
workers: each slot is claimed by one unique row, as RQ's scheduler claims each queue with a lock
in Redis). The worker that claimed a slot logs it.

Nothing is forked: RQ's own `with_scheduler` forks a scheduler process, which outlives a worker
killed with SIGKILL and keeps the worker's database sockets open, so the killed job's
transaction would stay open, holding its row locks, and block the retry that the sweeper
queues (app.jobs, leases). Here the process dies whole.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from redis import Redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler

from app import create_app
from app.jobs import QUEUES, bind_app, tick

# A slot is due at most a tick late; a test cluster ticks faster to see its jobs run at once.
TICK_SECONDS = float(os.environ.get("ECTIX_TICK_SECONDS") or 30)
SCHEDULER_SECONDS = 1

log = logging.getLogger("ectix.worker")


def _background(app, queues: list[Queue], stop: threading.Event) -> None:  # noqa: ANN001
    scheduler = RQScheduler(queues, connection=queues[0].connection)
    next_tick = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + TICK_SECONDS
            try:
                with app.app_context():
                    if claimed := tick():
                        log.info("schedule: queued %s", ", ".join(claimed))
            except Exception:  # the next tick tries again
                log.exception("schedule tick failed")
        try:
            if scheduler.acquire_locks():  # acquired, or refreshed: this worker schedules
                scheduler.enqueue_scheduled_jobs()
        except Exception:  # Redis away for a moment: the next second tries again
            log.exception("enqueueing scheduled jobs failed")
        stop.wait(SCHEDULER_SECONDS)
    scheduler.release_locks()


def main(argv: list[str]) -> int:
    app = create_app()  # logging as the settings say (app.observability.logs): JSON by default
    if not app.config.get("REDIS_URL"):
        print("REDIS_URL is not set: without it jobs run inside the web process", file=sys.stderr)
        return 2
    app.config["JOBS_MODE"] = "rq"
    bind_app(app)
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in (argv or QUEUES)]
    stop = threading.Event()
    background = threading.Thread(target=_background, args=(app, queues, stop),
                                  name="ectix-schedule", daemon=True)
    background.start()
    try:
        # SimpleWorker runs jobs in this process: no fork, so database pools stay sound.
        # RQ's lines at the app's level, through the app's handler (RQ adds none of its own when
        # the root logger has one); a job's own lines carry its id (app.jobs.run_job).
        SimpleWorker(queues, connection=connection).work(logging_level=app.config["LOG_LEVEL"])
    finally:
        stop.set()
        background.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
