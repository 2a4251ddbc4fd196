"""PostgreSQL: a merchant abandoning a ticket order while a batch issues it, and a close racing
an abandon on one card transaction. One wins; the order and its authorisation agree, and the
history says what happened."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.checkout.models import CardTransaction, TransactionStatus
from app.credit import services as credit
from app.credit.states import Action
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from app.unissued import services
from app.unissued.models import TicketOrder, TicketOrderState
from tests.concurrency import Ready, run_at_once
from tests.factories import make_order, make_store, make_ticket_order

pytestmark = pytest.mark.postgres
ROUNDS = 4


def _history(subject_type: str, subject_id: int, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_type == subject_type, HistoryEntry.subject_id == subject_id,
        HistoryEntry.action == action))


def test_abandon_and_issue_of_one_order_have_one_winner(pg_app) -> None:  # noqa: ANN001
    outcomes = set()
    for round_ in range(ROUNDS):
        with pg_app.app_context():
            store = make_store()
            row = make_ticket_order(store)
            row_id, store_id, number = row.id, store.id, row.merchant_order_no
            issued_order_id = make_order(store).id
            db.session.commit()
            db.session.remove()
        late = "issue" if round_ % 2 == 0 else "abandon"

        def act(who: str, ready: Ready, row_id: int = row_id, store_id: int = store_id,
                number: str = number, order_id: int = issued_order_id, late: str = late) -> str:
            ready()
            if who == late:
                time.sleep(0.2)
            if who == "issue":
                services.on_issued(SimpleNamespace(store_id=store_id, import_no="RACE"),
                                   {number: order_id})
                return "issued"
            row = db.session.scalar(select(TicketOrder).where(TicketOrder.id == row_id)
                                    .with_for_update())
            services.abandon(row)
            return "abandoned"

        results = run_at_once(pg_app, act, ["issue", "abandon"])
        won = [r for r in results if not isinstance(r, DomainError)]
        assert len(won) == 1, results
        with pg_app.app_context():
            row = db.session.get(TicketOrder, row_id)
            txn = row.transaction
            if won == ["issued"]:
                assert row.state is TicketOrderState.ISSUED
                assert txn.status is TransactionStatus.CLOSE_REQUESTED
            else:
                assert row.state is TicketOrderState.ABANDONED
                assert txn.status is TransactionStatus.ABANDONED
            assert _history("card_transactions", txn.id, "card_close") + _history(
                "card_transactions", txn.id, "card_abandon") == 1
            outcomes.add(won[0])
            db.session.remove()
    assert outcomes == {"issued", "abandoned"}  # both ways of winning were raced


def test_a_close_and_an_abandon_of_one_transaction_have_one_winner(pg_app) -> None:  # noqa: ANN001
    with pg_app.app_context():
        txn_id = make_ticket_order(make_store()).transaction_id
        db.session.commit()
        db.session.remove()

    def act(action: Action, ready: Ready) -> str:
        txn = db.session.get(CardTransaction, txn_id)
        ready()
        credit.perform(txn, action)
        return action.value

    results = run_at_once(pg_app, act, [Action.CLOSE, Action.ABANDON, Action.CLOSE])
    won = [r for r in results if not isinstance(r, DomainError)]
    assert len(won) == 1, results
    with pg_app.app_context():
        txn = db.session.get(CardTransaction, txn_id)
        expected = {"C": TransactionStatus.CLOSE_REQUESTED, "N": TransactionStatus.ABANDONED}
        assert txn.status is expected[won[0]]
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_type == "card_transactions",
            HistoryEntry.subject_id == txn_id)) == 1
