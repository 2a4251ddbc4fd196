"""Refunds racing on PostgreSQL: the transaction's row lock makes them take turns, so they never
add up to more than the amount; a cancel close racing the daily close's settling gives one
outcome per refund."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import clock
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit import jobs, refunds, services
from app.credit.models import CardRefund, RefundStatus
from app.credit.states import Action
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from tests.concurrency import Ready, run_at_once
from tests.credit.helpers import make_card_transaction
from tests.factories import make_checkout_store

pytestmark = pytest.mark.postgres
SLOT = clock.taipei_datetime(2026, 12, 7, 20, 15)


def _closed_txn(pg_app) -> int:  # noqa: ANN001
    with pg_app.app_context():
        txn = make_card_transaction(make_checkout_store(), amount=1000, status=S.CLOSED)
        db.session.commit()
        return txn.id


def _load(txn_id: int) -> CardTransaction:
    return db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True})


def test_fifty_refunds_at_once_never_exceed_the_amount(pg_app):
    txn_id = _closed_txn(pg_app)

    def take(_: int, ready: Ready) -> int:
        txn = _load(txn_id)
        ready()
        return refunds.refund(txn, 100).amount

    outcomes = run_at_once(pg_app, take, range(50))
    assert len([o for o in outcomes if o == 100]) == 10
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 40
    with pg_app.app_context():
        total = db.session.scalar(select(func.sum(CardRefund.amount))
                                  .execution_options(unscoped=True))
        entries = db.session.scalars(select(HistoryEntry).where(
            HistoryEntry.subject_type == "card_transactions", HistoryEntry.subject_id == txn_id,
            HistoryEntry.action == "card_refund").execution_options(unscoped=True)).all()
    assert total == 1000
    # one history entry per accepted refund, their amounts adding up to what was refunded
    assert len(entries) == 10
    assert sum(e.changes["amount"][1] for e in entries) == total


def test_cancel_close_racing_the_daily_close_settles_or_cancels_each_refund_once(pg_app):
    clock.freeze(SLOT)
    txn_ids = []
    with pg_app.app_context():
        store = make_checkout_store()
        for _ in range(6):
            txn = make_card_transaction(store, status=S.CLOSED)
            refunds.refund(txn, 400)
            txn_ids.append(txn.id)
        db.session.commit()

    def act(who: int, ready: Ready) -> object:
        if who == -1:
            ready()
            return jobs.daily_close(SLOT.isoformat())
        txn = _load(who)
        ready()
        return services.perform(txn, Action.CANCEL_CLOSE).to

    outcomes = run_at_once(pg_app, act, [-1, *txn_ids])
    cancelled = [o for o in outcomes[1:] if o is S.CLOSED]
    with pg_app.app_context():
        statuses = db.session.scalars(select(CardRefund.status)
                                      .execution_options(unscoped=True)).all()
    assert sorted(s.value for s in statuses).count("cancelled") == len(cancelled)
    assert set(statuses) <= {RefundStatus.CANCELLED, RefundStatus.SETTLED}
    assert outcomes[0] == 6 - len(cancelled)
