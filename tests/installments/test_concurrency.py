"""PostgreSQL: two clerks return the same order while the daily job redeems its first period, all
at the same moment. One of the three wins; the order is returned whole or its period redeemed,
never both, and its history says exactly what happened."""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from app.installments import services
from app.installments.models import InstallmentOrder
from app.installments.status import PeriodStatus as P
from app.stores.models import RedemptionMode, Store
from tests.concurrency import Ready, run_at_once
from tests.factories import make_account, make_installment_order, make_store

pytestmark = pytest.mark.postgres
ROUNDS = 6


def test_two_clerks_and_the_daily_job_on_one_order_have_one_winner(pg_app):
    clock.freeze(clock.taipei_datetime(2026, 7, 10, 0, 10))
    try:
        with pg_app.app_context():
            store = make_store(mode=RedemptionMode.INSTALLMENT)
            clerks = [make_account(store).id, make_account(store).id]
            store_id = store.id
            db.session.commit()
            db.session.remove()

        winners = []
        for round_ in range(ROUNDS):
            with pg_app.app_context():  # one order due today per round: the job's only work
                store = db.session.get(Store, store_id)
                order_id = make_installment_order(store, total=3000, periods=3,
                                                  first_date=date(2026, 7, 10)).id
                db.session.commit()
                db.session.remove()

            # Even rounds hold the job back a moment and odd rounds the clerks, so both ways of
            # winning are raced; the loser waits on the winner's row locks either way.
            late = "job" if round_ % 2 == 0 else "clerks"

            def act(who: str, ready: Ready, order_id: int = order_id, late: str = late) -> str:
                store = db.session.get(Store, store_id)
                ready()
                if (who == "job") == (late == "job"):
                    time.sleep(0.2)
                if who == "job":
                    moved, _ = services.redeem_due(date(2026, 7, 10))
                    return f"job:{moved}"
                account = db.session.get(Account, clerks[int(who)])
                services.return_order(account, store, order_id, fee=30, reason="同時退貨")
                return "returned"

            outcomes = run_at_once(pg_app, act, ["0", "1", "job"], timeout=30)
            succeeded = [o for o in outcomes if o in ("returned", "job:1")]
            assert len(succeeded) == 1, outcomes
            assert all(isinstance(o, DomainError) or o == "job:0" for o in outcomes
                       if o not in succeeded), outcomes
            winners.append(succeeded[0])

            with pg_app.app_context():
                order = db.session.get(InstallmentOrder, order_id)
                statuses = [p.status for p in order.periods]
                actions = list(db.session.scalars(
                    select(HistoryEntry.action).where(HistoryEntry.subject_type == "installment_orders",
                                                      HistoryEntry.subject_id == order_id)))
                if succeeded[0] == "returned":
                    assert statuses == [P.RETURN_PENDING] * 3
                    assert sum(p.return_fee for p in order.periods) == 30
                    assert sorted(actions) == ["order_returned"] + ["period_returned"] * 3
                else:
                    assert statuses == [P.REDEEMING, P.UNUSED, P.UNUSED]
                    assert order.returned_at is None
                    assert actions == ["period_redeeming"]
                db.session.remove()
        assert set(winners) == {"returned", "job:1"}, winners
    finally:
        clock.unfreeze()
