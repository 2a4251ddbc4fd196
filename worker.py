"""RQ worker with its scheduler, for REDIS_URL deployments: `python worker.py [queue ...]`
(default: every queue, the `default` queue first, then `notifications`).

Runs jobs from Redis inside the app, and every 30 seconds enqueues the recurring jobs that are due
(`app.jobs.tick`, safe with any number of workers: each slot is claimed by one unique row).
"""

from __future__ import annotations

import logging
import sys
import threading

from redis import Redis
from rq import Queue, SimpleWorker

from app import create_app
from app.jobs import QUEUES, bind_app, tick

TICK_SECONDS = 30


def _ticker(app, stop: threading.Event) -> None:  # noqa: ANN001
    while not stop.is_set():
        try:
            with app.app_context():
                tick()
        except Exception:  # the next tick tries again
            logging.getLogger("ectix.worker").exception("schedule tick failed")
        stop.wait(TICK_SECONDS)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app()
    if not app.config.get("REDIS_URL"):
        print("REDIS_URL is not set: without it jobs run inside the web process", file=sys.stderr)
        return 2
    app.config["JOBS_MODE"] = "rq"
    bind_app(app)
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in (argv or QUEUES)]
    stop = threading.Event()
    threading.Thread(target=_ticker, args=(app, stop), name="ectix-tick", daemon=True).start()
    try:
        # SimpleWorker runs jobs in this process: no fork, so database pools stay sound.
        SimpleWorker(queues, connection=connection).work(with_scheduler=True)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
