"""Refunds on the database: the amount left, pending until the next close, undone by a
cancel close (E), history on the transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import clock, history
from app.checkout.models import TransactionStatus as S
from app.credit import refunds, services, states
from app.credit.models import CardRefund, RefundStatus
from app.credit.states import Action
from app.db import db
from app.errors import DomainError
from tests.credit.helpers import make_card_transaction
from tests.factories import make_checkout_store

NOW = clock.taipei_datetime(2026, 12, 7, 10)


def _refunds(txn) -> list[tuple[int, RefundStatus]]:  # noqa: ANN001
    db.session.expire_all()
    return [(r.amount, r.status) for r in db.session.scalars(
        select(CardRefund).where(CardRefund.transaction_id == txn.id).order_by(CardRefund.id)
        .execution_options(unscoped=True))]


def test_partial_refunds_up_to_the_amount_then_refused(ctx):
    clock.freeze(NOW)
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSED)
    row = refunds.refund(txn, 400, reason="客人退一件")
    assert (row.amount, row.status, row.reason, row.created_at) == (
        400, RefundStatus.PENDING, "客人退一件", NOW)
    refunds.refund(txn, 600)
    with pytest.raises(DomainError) as refused:
        refunds.refund(txn, 1)
    assert refused.value.message == states.REFUND_AMOUNT
    db.session.commit()
    assert _refunds(txn) == [(400, RefundStatus.PENDING), (600, RefundStatus.PENDING)]
    entries = history.entries_for(txn, unscoped=True)
    assert [e.action for e in entries] == ["card_refund", "card_refund"]
    assert entries[1].reason == "退刷 NT$400：客人退一件"
    assert txn.status is S.CLOSED


@pytest.mark.parametrize("amount", [0, -1, 1001, True, "100", None])
def test_bad_amounts_are_refused_and_nothing_written(ctx, amount):
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSED)
    with pytest.raises(DomainError):
        refunds.refund(txn, amount)  # type: ignore[arg-type]
    assert _refunds(txn) == []


def test_an_authorised_transaction_is_abandoned_not_refunded(ctx):
    txn = make_card_transaction(make_checkout_store())
    with pytest.raises(DomainError) as refused:
        refunds.refund(txn, 100)
    assert refused.value.message == states.NOT_CLOSED_USE_ABANDON


def test_installment_transactions_refund_in_full_only(ctx):
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSED, installment=3)
    with pytest.raises(DomainError) as refused:
        refunds.refund(txn, 300)
    assert refused.value.message == states.PARTIAL_NOT_ALLOWED
    assert refunds.refund(txn, 1000).amount == 1000


def test_close_requested_refunds_partially_only(ctx):
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSE_REQUESTED)
    with pytest.raises(DomainError) as refused:
        refunds.refund(txn, 1000)
    assert refused.value.message == states.FULL_REFUND_THEN
    assert refunds.refund(txn, 999).status is RefundStatus.PENDING


def test_cancel_close_of_a_closed_transaction_cancels_its_pending_refunds(ctx):
    clock.freeze(NOW)
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSED)
    refunds.refund(txn, 300)
    refunds.refund(txn, 200)
    decision = services.perform(txn, Action.CANCEL_CLOSE)
    db.session.commit()
    assert decision.to is S.CLOSED and txn.status is S.CLOSED
    assert _refunds(txn) == [(300, RefundStatus.CANCELLED), (200, RefundStatus.CANCELLED)]
    entry = history.entries_for(txn, unscoped=True)[0]
    assert (entry.action, entry.from_status, entry.to_status) == (
        "card_cancel_close", "closed", "closed")
    assert "NT$500" in entry.reason
    # nothing left to cancel; the whole amount can be refunded again
    with pytest.raises(DomainError) as refused:
        services.perform(txn, Action.CANCEL_CLOSE)
    assert refused.value.message == states.NOTHING_TO_CANCEL
    assert refunds.refund(txn, 1000).amount == 1000


def test_settled_refunds_are_not_undone(ctx):
    clock.freeze(NOW)
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSED)
    refunds.refund(txn, 300)
    assert refunds.settle([txn.id], clock.now()) == [(txn.id, txn.store_id, 300)]
    with pytest.raises(DomainError) as refused:
        services.perform(txn, Action.CANCEL_CLOSE)
    assert refused.value.message == states.NOTHING_TO_CANCEL
    assert _refunds(txn) == [(300, RefundStatus.SETTLED)]
    with pytest.raises(DomainError):
        refunds.refund(txn, 701)


def test_cancel_close_of_a_close_request_cancels_its_pending_refunds_too(ctx):
    txn = make_card_transaction(make_checkout_store(), status=S.CLOSE_REQUESTED)
    refunds.refund(txn, 100)
    assert services.perform(txn, Action.CANCEL_CLOSE).to is S.AUTHORISED
    db.session.commit()
    db.session.refresh(txn)
    assert (txn.status, txn.auto_close, txn.close_requested_at) == (S.AUTHORISED, False, None)
    assert _refunds(txn) == [(100, RefundStatus.CANCELLED)]
    assert services.perform(txn, Action.ABANDON).to is S.ABANDONED  # E then N
