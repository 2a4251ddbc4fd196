"""Catch-up after downtime, with the real schedule: nothing ran for two days (the scheduler and
its workers were down through the 7/3 and 7/4 slots of every daily job); the first tick after
runs each job once, for its latest slot, and that one run processes both days' work.
(tests/jobs/test_jobs.py shows the same of the schedule's machinery with a marker job.)"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select

from app import jobs, schedule
from app.bills.models import SettlementRun
from app.db import db
from app.escrow.models import BankSyncRun, LedgerEntry, LedgerKind, SyncRunStatus
from app.jobs import ScheduledRun
from app.tickets import services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.escrow.helpers import T, at
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

DAILY = [rec.name for rec in schedule.SCHEDULE if rec.cron.split()[2:] == ["*", "*", "*"]
         and rec.cron.split()[1] != "*"]


def _status(ticket: Ticket) -> S:
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id).status


def test_two_days_without_a_scheduler_are_caught_up_by_one_run_of_each_job(ctx, bank):
    at(2026, 7, 1, 9, 0)
    store, owner, pickup, _ = ready_store()
    ended_2, ended_3, redeemed_2, redeemed_3, returned_2, returned_3 = issue(owner, store, pickup, quantity=6)
    ended_2.expires_on, ended_3.expires_on = date(2026, 7, 2), date(2026, 7, 3)  # escrow ends
    db.session.commit()

    at(2026, 7, 2, 9, 0)
    jobs.tick()  # the last tick before the downtime: every daily job ran for its 7/2 slot
    assert db.session.scalar(select(BankSyncRun.status)) is SyncRunStatus.DONE  # the 7/1 deposits

    # Two days of business while no scheduler runs.
    for day, redeemed, returned in ((2, redeemed_2, returned_2), (3, redeemed_3, returned_3)):
        at(2026, 7, day, 10, 0)
        services.redeem(owner, store, redeemed)
        services.return_ticket(owner, store, returned, reason="退貨")
        db.session.commit()

    at(2026, 7, 4, 9, 0)  # back: the 7/3 and 7/4 slots of every daily job were missed
    caught_up = jobs.tick()
    assert set(DAILY) <= set(caught_up)
    assert jobs.tick() == []  # and nothing is run twice

    # One run per job for the two days: the 7/2 one, then the 7/4 one; no 7/3 run.
    for name in DAILY:
        cron = schedule.by_name(name).cron
        slots = [r.slot for r in db.session.scalars(select(ScheduledRun).where(ScheduledRun.name == name)
                                                    .order_by(ScheduledRun.slot))]
        assert slots == [jobs.latest_slot(cron, T(2026, 7, 2, 9, 0)),
                         jobs.latest_slot(cron, T(2026, 7, 4, 9, 0))], name
        assert {r.status for r in db.session.scalars(select(ScheduledRun).where(
            ScheduledRun.name == name))} == {"done"}, name

    # expire_tickets: both days' escrow ends, each ticket once, each on its own day.
    assert (_status(ended_2), _status(ended_3)) == (S.UNUSED_ESCROW_EXPIRED,) * 2
    expired = db.session.execute(select(LedgerEntry.ticket_id, LedgerEntry.day).where(
        LedgerEntry.kind == LedgerKind.ESCROW_EXPIRED).order_by(LedgerEntry.day)).all()
    assert expired == [(ended_2.id, date(2026, 7, 3)), (ended_3.id, date(2026, 7, 4))]

    # escrow_sync: one run, for the 7/4 night, sends both days' redemptions and returns.
    runs = db.session.execute(select(BankSyncRun.business_day, BankSyncRun.status)
                              .order_by(BankSyncRun.id)).all()
    assert runs == [(date(2026, 7, 2), SyncRunStatus.DONE), (date(2026, 7, 4), SyncRunStatus.DONE)]
    assert [_status(t) for t in (redeemed_2, redeemed_3, returned_2, returned_3)] == [
        S.REDEEMED, S.REDEEMED, S.RETURNED, S.RETURNED]
    moved = Counter(db.session.execute(select(LedgerEntry.ticket_id, LedgerEntry.kind).where(
        LedgerEntry.kind.in_((LedgerKind.RELEASE, LedgerKind.REFUND)))).all())
    assert moved == {(redeemed_2.id, LedgerKind.RELEASE): 1, (redeemed_3.id, LedgerKind.RELEASE): 1,
                     (returned_2.id, LedgerKind.REFUND): 1, (returned_3.id, LedgerKind.REFUND): 1}
    assert len(bank.sim.received) == len(set(bank.sim.received)) == 6 + 2 + 2  # each entry once

    # settle_returns: both days' returns settled, a day each.
    assert db.session.scalars(select(SettlementRun.day).order_by(SettlementRun.day)).all() == [
        date(2026, 7, 2), date(2026, 7, 3)]
