"""PostgreSQL: two workers start the same night's sync at the same moment; one does the work,
the other gets the winner's run back, and the bank sees every entry once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.db import db
from app.errors import DomainError
from app.escrow.jobs import sync_night
from app.escrow.models import BankInstruction, BankSyncRun, LedgerEntry, SyncRunStatus
from app.stores.models import Store
from app.tickets import services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.concurrency import Ready, run_at_once
from tests.escrow.conftest import BANK_KEY
from tests.escrow.helpers import at, day
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres

WORKERS = 4


def test_concurrent_runs_for_the_same_night_do_the_work_once(pg_app, simulator):
    pg_app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY)
    with pg_app.app_context():
        at(2026, 7, 1, 9, 0)
        store, owner, pickup, gift = ready_store()
        tickets = issue(owner, store, pickup, quantity=6)
        [g] = issue(owner, store, gift)
        at(2026, 7, 1, 10, 0)
        for t in tickets[:3]:
            services.redeem(owner, db.session.get(Store, store.id), t)
        services.redeem(owner, store, g)
        db.session.commit()
        db.session.remove()

    at(2026, 7, 2, 1, 0)

    def worker(_: int, ready: Ready) -> tuple[bool, int]:
        ready()
        outcome = sync_night(day(7, 2))
        return outcome.ran, outcome.run.id

    outcomes = run_at_once(pg_app, worker, range(WORKERS))
    assert not [o for o in outcomes if isinstance(o, DomainError)], outcomes
    assert [ran for ran, _ in outcomes].count(True) == 1
    assert len({run_id for _, run_id in outcomes}) == 1  # the losers got the winner's run

    with pg_app.app_context():
        [run] = db.session.scalars(select(BankSyncRun)).all()
        assert run.status is SyncRunStatus.DONE and run.business_day == day(7, 2)
        assert db.session.scalar(select(func.count()).select_from(BankInstruction)) == 9
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 9
        statuses = db.session.scalars(select(Ticket.status).order_by(Ticket.id)).all()
        assert statuses == [S.REDEEMED] * 3 + [S.UNUSED] * 3 + [S.REDEEMED]
    assert len(simulator.sim.received) == 9 == len(set(simulator.sim.received))


def test_runs_for_two_nights_at_once_still_send_and_finalise_each_entry_once(pg_app, simulator):
    """Runs for different nights do not exclude each other; the keys (the same entry gets the
    same key) and the compare-and-sets keep them from doubling anything."""
    pg_app.config.update(ESCROW_BANK_URL=simulator.url, ESCROW_BANK_KEY=BANK_KEY)
    with pg_app.app_context():
        at(2026, 7, 1, 9, 0)
        store, owner, pickup, _ = ready_store()
        tickets = issue(owner, store, pickup, quantity=40)
        at(2026, 7, 1, 10, 0)
        for t in tickets[:20]:
            services.redeem(owner, store, t)
        for t in tickets[20:30]:
            services.return_ticket(owner, store, t, reason="退貨", fee=10)
        db.session.commit()
        db.session.remove()

    at(2026, 7, 3, 1, 0)

    def worker(night: date, ready: Ready) -> None:
        ready()
        sync_night(night)

    assert run_at_once(pg_app, worker, (day(7, 2), day(7, 3))) == [None, None]

    with pg_app.app_context():
        sync_night(day(7, 3), "manual", force=True)  # whatever one night left waiting
        keys = db.session.execute(select(BankInstruction.ticket_id, BankInstruction.kind)).all()
        assert len(keys) == len(set(keys)) == 40 + 20 + 10
        ledger = db.session.execute(select(LedgerEntry.ticket_id, LedgerEntry.kind)).all()
        assert len(ledger) == len(set(ledger)) == 40 + 20 + 10 + 10
        statuses = db.session.scalars(select(Ticket.status).order_by(Ticket.id)).all()
        assert statuses == [S.REDEEMED] * 20 + [S.RETURNED] * 10 + [S.UNUSED] * 10
    entries = simulator.entries()
    assert len(entries) == 70 and all(e["answer"]["accepted"] for e in entries)
