"""Any number of schedulers is harmless: each recurring slot is claimed by one unique row
(app.jobs.tick), a run is started by one compare-and-set, a stale run is handed out again by one
compare-and-set, and the jobs themselves are safe to run twice.

- two processes tick through the same slots at the same moments: each slot runs once;
- two schedulers find the same stale run at once: it is handed out once;
- the two workers of the cluster, each with its scheduler, start the nightly escrow sync, the
  monthly bills and the daily installment redemption: each runs once, the bank receives each
  entry once; then each job is run twice more at once, on the two workers: nothing changes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app import clock, jobs, schedule
from app.bills.models import Bill
from app.db import db
from app.escrow.models import BankSyncRun, LedgerEntry, SyncRunStatus
from app.history import HistoryEntry
from app.installments.models import InstallmentPeriod
from app.installments.status import PeriodStatus as P
from app.jobs import ScheduledRun, latest_slot, tick
from app.news.models import NewsItem
from app.schedule import Recurring
from app.stores.models import RedemptionMode
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.concurrency import Ready, run_at_once
from tests.factories import make_account, make_installment_order, make_store
from tests.issuance.helpers import ready_store
from tests.jobs.sample_jobs import count_news
from tests.processes import ROOT, stop, wait_for
from tests.scale.harness import WORKER_NAMES, Cluster, figure, size, sync_night
from tests.tickets.helpers import issue

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
T = clock.taipei_datetime


def test_two_processes_ticking_the_same_slots_run_each_once(pg_app, pg_database_url):
    slots = size(40, 400)
    tickers = [subprocess.Popen([sys.executable, "-m", "tests.scale.ticker", pg_database_url, str(slots)],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                start_new_session=True) for _ in range(2)]
    try:
        for ticker in tickers:
            assert ticker.stdout.readline().strip() == "ready"
        start = time.time() + 0.5
        for ticker in tickers:
            ticker.stdin.write(f"{start}\n")
            ticker.stdin.flush()
        outcomes = [json.loads(ticker.stdout.readline()) for ticker in tickers]
        assert [ticker.wait(60) for ticker in tickers] == [0, 0]
    finally:
        for ticker in tickers:
            stop(ticker)
            ticker.stdin.close()
            ticker.stdout.close()

    assert sum(o["claimed"] for o in outcomes) == slots
    assert sum(o["lost"] for o in outcomes) > 0  # they did race: some inserts met the other's row
    with pg_app.app_context():
        runs = db.session.execute(select(ScheduledRun.slot, ScheduledRun.status)
                                  .where(ScheduledRun.name == "marker")).all()
        assert len(runs) == len({slot for slot, _ in runs}) == slots
        assert {status for _, status in runs} == {"done"}
        titles = Counter(db.session.scalars(select(NewsItem.title)))
        assert len(titles) == slots and set(titles.values()) == {1}
    figure("two tickers, same slots at the same moments",
           f"{slots} slots, each run once; claimed {outcomes[0]['claimed']} + {outcomes[1]['claimed']}, "
           f"claims lost to the other's insert {outcomes[0]['lost']} + {outcomes[1]['lost']}")


def test_two_schedulers_finding_the_same_stale_run_hand_it_out_once(pg_app, monkeypatch):
    """A run left running by a process that died is handed out again by one of two schedulers
    ticking at once: the other's compare-and-set finds it queued or running again, not stale (a
    plain write would put it back to queued after the first hand-out had run it, and run it
    twice)."""
    monkeypatch.setattr(schedule, "SCHEDULE", [
        Recurring("marker", "0 1 * * *", "tests.jobs.sample_jobs:recurring_marker", "test")])
    slot, died = T(2026, 7, 3, 1), T(2026, 7, 3, 1, 0, 5)
    clock.freeze(T(2026, 7, 3, 2, 0))
    with pg_app.app_context():
        db.session.add(ScheduledRun(name="marker", slot=slot, status="running", created_at=died,
                                    started_at=died))
        db.session.commit()

    def scheduler(_: int, ready: Ready) -> list[str]:
        ready()
        return tick()

    for _ in range(size(25, 100)):  # each round: the run left dead again, two ticks at once
        assert run_at_once(pg_app, scheduler, [0, 1]) == [[], []]
        with pg_app.app_context():
            [run] = db.session.scalars(select(ScheduledRun)).all()
            assert run.status == "done"
            assert count_news(f"recurring {slot.isoformat()}") == 1
            db.session.execute(NewsItem.__table__.delete())
            run.status, run.created_at, run.started_at = "running", died, died
            db.session.commit()


# The cluster's two schedulers ------------------------------------------------------------------

NIGHTLY = ("escrow_sync", "issue_bills", "installment_redemption")


def _scheduled(names: tuple[str, ...]) -> list[ScheduledRun]:
    db.session.rollback()
    return list(db.session.scalars(select(ScheduledRun).where(ScheduledRun.name.in_(names))
                                   .execution_options(populate_existing=True)))


def _claims_in_logs(cluster: Cluster, name: str) -> Counter:
    """How often each worker's scheduler logged claiming a slot of `name`."""
    found: Counter = Counter()
    for worker in WORKER_NAMES:
        for line in cluster.workers.log(worker).splitlines():
            # worker.py logs JSON lines (app.observability.logs) unless told to write text
            message = json.loads(line).get("message", "") if line.startswith("{") else line
            if match := re.search(r"schedule: queued (.*)$", message):
                found[worker] += name in match.group(1).split(", ")
    return found


def _effects(store_ids: list[int], keys: set[str]) -> dict:
    """What the three jobs did: to compare after running them again."""
    db.session.rollback()
    return {
        "bills": db.session.execute(select(Bill.store_id, Bill.month, Bill.amount)
                                    .order_by(Bill.id)).all(),
        "sync runs": db.session.execute(select(BankSyncRun.id, BankSyncRun.status)).all(),
        "ledger": db.session.scalar(select(func.count()).select_from(LedgerEntry)),
        "periods": db.session.execute(select(InstallmentPeriod.id, InstallmentPeriod.status)
                                      .order_by(InstallmentPeriod.id)).all(),
        "history": db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.store_id.in_(store_ids))),
        "tickets": db.session.execute(select(Ticket.id, Ticket.status).where(
            Ticket.store_id.in_(store_ids)).order_by(Ticket.id)).all(),
    }


def test_two_schedulers_run_the_nightly_and_monthly_jobs_once(cluster, seeding):
    now = clock.now()
    slots = {name: latest_slot(schedule.by_name(name).cron, now) for name in NIGHTLY}
    night = clock.business_day(slots["escrow_sync"])
    bill_day = clock.business_day(slots["issue_bills"])
    due_day = clock.business_day(slots["installment_redemption"])
    n, orders = size(30, 600), size(5, 200)

    # The sync's night: tickets issued two days before it, redeemed and returned the day before.
    prepared = sync_night("scalenight", night, n)
    store, sold, redeemed, returned = prepared.store, prepared.sold, prepared.redeemed, prepared.returned
    # The bills' month: gift vouchers (no bank) issued in the month before the bill day.
    with clock.frozen(clock.day_start(bill_day - timedelta(days=5)) + timedelta(hours=9)):
        bill_store, bill_owner, _, gift = ready_store("scalebill")
        issue(bill_owner, bill_store, gift, quantity=3)
    # Installment orders whose first period comes due on the redemption's day.
    with clock.frozen(clock.day_start(due_day - timedelta(days=1)) + timedelta(hours=9)):
        plan_store = make_store(mode=RedemptionMode.INSTALLMENT)
        make_account(plan_store)
        order_ids = [make_installment_order(plan_store, total=3000, periods=3, first_date=due_day).id
                     for _ in range(orders)]
        db.session.commit()
    store_ids = [store.id, bill_store.id, plan_store.id]
    serials = {t.serial for t in sold} | set(db.session.scalars(
        select(InstallmentPeriod.serial).where(InstallmentPeriod.store_id == plan_store.id)))

    # Both schedulers tick every second; let them at the three jobs.
    cluster.unblock(*NIGHTLY)
    released = time.monotonic()

    def finished() -> bool:
        runs = _scheduled(NIGHTLY)
        return len(runs) == 3 and all(r.status in ("done", "failed") for r in runs)

    took = wait_for("the schedulers to run the three jobs", finished, 120)
    runs = _scheduled(NIGHTLY)
    assert sorted((r.name, r.slot, r.status, r.trigger) for r in runs) == sorted(
        (name, slot, "done", "schedule") for name, slot in slots.items()), [r.error for r in runs]
    for name in NIGHTLY:  # one scheduler claimed it; the other found the slot taken
        assert sum(_claims_in_logs(cluster, name).values()) == 1, name

    [sync_run] = db.session.scalars(select(BankSyncRun).where(BankSyncRun.business_day == night)).all()
    assert (sync_run.status, sync_run.trigger) == (SyncRunStatus.DONE, "schedule")
    statuses = Counter(db.session.scalars(select(Ticket.status).where(Ticket.store_id == store.id)))
    assert statuses == {S.REDEEMED: len(redeemed), S.RETURNED: len(returned),
                        S.UNUSED: n - len(redeemed) - len(returned)}
    entries = cluster.bank.entries_of(serials)
    assert all(record["answer"]["accepted"] for record in entries)
    assert set(Counter((r["entry"]["ticket_serial"], r["entry"]["kind"]) for r in entries).values()) == {1}
    ticket_serials = {t.serial for t in sold}
    assert Counter(r["entry"]["kind"] for r in entries if r["entry"]["ticket_serial"] in ticket_serials) == {
        "deposit": n, "release": len(redeemed), "refund": len(returned)}
    keys = {r["key"] for r in entries}
    assert set(cluster.bank.received(keys).values()) == {1}  # each entry received once

    [bill] = db.session.scalars(select(Bill).where(Bill.store_id == bill_store.id)).all()
    assert bill.month == (bill_day - timedelta(days=1)).replace(day=1)
    per_month = Counter(db.session.execute(select(Bill.store_id, Bill.month)).all())
    assert set(per_month.values()) == {1}

    periods = db.session.execute(select(InstallmentPeriod.number, InstallmentPeriod.status).where(
        InstallmentPeriod.store_id == plan_store.id)).all()
    assert Counter(periods) == {(1, P.REDEEMING): orders, (2, P.UNUSED): orders, (3, P.UNUSED): orders}
    redeeming = Counter(db.session.scalars(select(HistoryEntry.subject_id).where(
        HistoryEntry.subject_type == "installment_orders", HistoryEntry.action == "period_redeeming")))
    assert redeeming == dict.fromkeys(order_ids, 1)

    # Each job twice more, at once, on the two workers (a scheduler's duplicate, an operator's
    # re-run): the same effects.
    before = _effects(store_ids, keys)
    received = cluster.bank.received(keys)
    with cluster.via_rq():
        for name in NIGHTLY:
            for copy in (1, 2):
                jobs.enqueue(schedule.by_name(name).func, slots[name].isoformat(),
                             job_id=f"again-{name}-{copy}")
        db.session.commit()
    again = [Job.fetch(f"again-{name}-{copy}", connection=cluster.redis())
             for name in NIGHTLY for copy in (1, 2)]
    wait_for("the jobs to run again", lambda: all(
        job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED) for job in again), 120)
    for job in again:
        job.refresh()
    assert [job.get_status() for job in again] == [JobStatus.FINISHED] * 6
    assert [job.return_value() for job in again] == [sync_run.id, sync_run.id, 0, 0, 0, 0]
    assert _effects(store_ids, keys) == before
    assert cluster.bank.received(keys) == received
    ran_on = Counter(job.worker_name for job in again)
    figure("two schedulers, three nightly jobs",
           f"each claimed once and done {took:.1f} s after being let go "
           f"({time.monotonic() - released:.1f} s with the checks); sync of {len(entries)} "
           f"entries; run twice more at once on {len(ran_on)} workers: no change")
