"""UnionPay closes at authorisation: the payment writes the transaction closed; an unissued
ticket order paid by UnionPay is refunded in full, not abandoned."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import clock
from app.checkout import acquirer, services
from app.checkout.acquirer import Authorisation, Card
from app.checkout.models import TransactionStatus as S
from app.credit.models import CardRefund, RefundStatus
from app.db import db
from app.unissued import services as unissued
from app.unissued.models import TicketOrder, TicketOrderState
from tests.factories import aio_form, make_checkout_store

NOW = clock.taipei_datetime(2026, 11, 21, 14, 10)
UNIONPAY = Card("6212345678901234", 12, 2030, "123")
VISA = Card("4311952222222222", 12, 2030, "222")


class ApproveAll:
    name = "approve-all"

    def authorise(self, card: Card, amount: int, *, reference: str) -> Authorisation:
        return Authorisation(True, auth_code="123456", serial="12345678")


@pytest.fixture
def approving(app, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setitem(acquirer.ACQUIRERS, "approve-all", ApproveAll)
    app.config["CHECKOUT_ACQUIRER"] = "approve-all"
    return app


def _pay(store, card: Card):  # noqa: ANN001, ANN202
    accepted = services.accept(aio_form(store).items())
    assert accepted.order is not None
    assert services.pay(accepted.order, card).approved
    db.session.commit()
    return accepted.order, services.transaction_of(accepted.order)


@pytest.mark.parametrize(("card", "status", "closed"), [
    (UNIONPAY, S.CLOSED, True), (VISA, S.AUTHORISED, False)])
def test_unionpay_is_closed_at_authorisation(approving, ctx, card, status, closed):
    clock.freeze(NOW)
    _, txn = _pay(make_checkout_store(), card)
    assert (txn.brand, txn.status) == (card.brand, status)
    assert txn.closed_at == (NOW if closed else None)


def test_an_unissued_unionpay_ticket_order_is_refunded_when_abandoned(approving, ctx):
    clock.freeze(NOW)
    order, txn = _pay(make_checkout_store(ticket=True), UNIONPAY)
    row = db.session.scalar(select(TicketOrder).where(TicketOrder.transaction_id == txn.id)
                            .execution_options(unscoped=True))
    assert row is not None and order.is_ticket_order
    unissued.abandon(row)
    db.session.commit()
    db.session.refresh(row)
    assert row.state is TicketOrderState.ABANDONED
    refund = db.session.scalar(select(CardRefund).execution_options(unscoped=True))
    assert (refund.transaction_id, refund.amount, refund.status) == (
        txn.id, txn.amount, RefundStatus.PENDING)
