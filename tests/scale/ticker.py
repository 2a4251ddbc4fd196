"""One scheduler process for tests/scale/test_schedulers.py: `python -m tests.scale.ticker
DATABASE_URL SLOTS`.

It builds the app, says `ready`, reads the instant to start at from stdin (the test sends both
processes the same one), then for each of SLOTS consecutive nights calls `app.jobs.tick()` with
its clock on that night's slot, at the same moment as the other process (a step of STEP seconds
per night from the start), with a schedule of one daily job that writes a news item per run
(jobs inline: the run happens in the process whose tick claimed it). Prints how many slots it
claimed and how many claims it lost to the other process's insert (the unique row).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

from sqlalchemy import text

from app import clock, create_app, jobs, schedule
from app.db import db
from app.schedule import Recurring
from tests.conftest import base_config

STEP = 0.05
FIRST = clock.taipei_datetime(2026, 7, 1, 1, 0, 5)
MARKER = Recurring("marker", "0 1 * * *", "tests.jobs.sample_jobs:recurring_marker", "test")


def main(argv: list[str]) -> int:
    url, slots = argv[0], int(argv[1])
    app = create_app(base_config(url))
    schedule.SCHEDULE = [MARKER]
    lost = 0
    claim = jobs._claim

    def counting_claim(name, slot, trigger):  # noqa: ANN001, ANN202
        nonlocal lost
        run_id = claim(name, slot, trigger)
        lost += run_id is None
        return run_id

    jobs._claim = counting_claim
    # Each process walks the nights on a frozen clock of its own, so one that falls a step behind
    # lives a day before the other, whose runs would look a day old, hence stale, and be handed
    # out again: no real deployment has clocks a day apart. Here only the claims are raced; the
    # stale hand-out has its own race test (test_two_schedulers_finding_the_same_stale_run_...).
    jobs.STALE_AFTER = timedelta(days=365 * 10)
    claimed = 0
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # the connection is open before the start
        db.session.commit()
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        for night in range(slots):
            clock.freeze(FIRST + timedelta(days=night))
            time.sleep(max(0.0, start + night * STEP - time.time()))
            claimed += len(jobs.tick())
        db.session.remove()
    print(json.dumps({"claimed": claimed, "lost": lost}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
