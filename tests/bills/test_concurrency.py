"""PostgreSQL: two workers run the daily settlement, then the bill job, at the same moment; the
day is settled once and the month billed once (the unique day and the unique store-month claim
them; the loser waits for the winner's commit, then finds them taken)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.billing.models import Charge, FeeKind, FeeRate
from app.bills.jobs import issue_bills, settle_returns
from app.bills.models import Bill, BillLine, ReturnFeeLine, SettlementRun
from app.db import db
from app.stores.models import DeliveryMethod
from app.tickets import services as tickets
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres
T = clock.taipei_datetime


def test_two_workers_settle_once_and_bill_once(pg_app):
    try:
        with pg_app.app_context():
            clock.freeze(T(2026, 7, 3, 10))
            store, owner, pickup, _ = ready_store()
            db.session.add(FeeRate(store_id=store.id, kind=FeeKind.RETURN,
                                   effective_from=date(2026, 1, 1), percent_bp=150))
            db.session.commit()
            sold = issue(owner, store, pickup, 3, method=DeliveryMethod.MERCHANT_PRINT)
            for ticket in sold:
                tickets.return_ticket(owner, store, ticket, reason="r")
            db.session.commit()
            db.session.remove()

        def worker(job, ready: Ready) -> int:  # noqa: ANN001
            ready()
            return job(clock.now().isoformat())

        clock.freeze(T(2026, 7, 4, 2, 30))
        settled = run_at_once(pg_app, worker, [settle_returns, settle_returns])
        assert sorted(settled) == [0, 1]
        clock.freeze(T(2026, 8, 1, 3, 0))
        billed = run_at_once(pg_app, worker, [issue_bills, issue_bills])
        assert sorted(billed) == [0, 1]

        with pg_app.app_context():
            # 7/3 by the race; 7/4–7/31 by the bill job before billing July: each day once
            days = list(db.session.scalars(select(SettlementRun.day)))
            assert len(days) == len(set(days)) == 29
            assert db.session.scalar(select(func.count()).select_from(ReturnFeeLine)) == 3
            [charge] = db.session.scalars(select(Charge).where(Charge.kind == FeeKind.RETURN))
            assert (charge.quantity, charge.amount) == (3, 7)  # 3 × 2.25 = 6.75 → 7
            [bill] = db.session.scalars(select(Bill))
            assert bill.amount == 7  # the return fee; the 3 serials had no rate (0)
            assert db.session.scalar(select(func.count()).select_from(BillLine)) == 2
            db.session.remove()
    finally:
        clock.unfreeze()
