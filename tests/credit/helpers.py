"""Card transactions for the credit tests: a paid checkout order (tests.factories) and its
authorisation, in the state the test needs."""

from __future__ import annotations

from datetime import datetime

from app import clock
from app.checkout.models import CardTransaction, TransactionStatus
from app.db import db
from app.stores.models import Store
from tests.factories import make_checkout_order


def make_card_transaction(store: Store, *, amount: int = 1000,
                          status: TransactionStatus = TransactionStatus.AUTHORISED,
                          authorised_at: datetime | None = None, auto_close: bool = True,
                          installment: int = 0, brand: str = "VISA", last4: str = "2222",
                          close_error: str = "") -> CardTransaction:
    at = authorised_at or clock.now()
    order = make_checkout_order(store, amount=amount, paid=True)
    txn = CardTransaction(
        store_id=store.id, order_id=order.id, status=status, amount=amount, card_first6="431195",
        card_last4=last4, brand=brand, auth_code="777777", auth_serial=f"{order.id:011d}",
        acquirer="sandbox", installment_periods=installment, authorised_at=at,
        auto_close=auto_close,
        close_requested_at=at if status is TransactionStatus.CLOSE_REQUESTED else None,
        closed_at=at if status is TransactionStatus.CLOSED else None,
        close_error=close_error, close_failed_at=at if close_error else None)
    db.session.add(txn)
    db.session.flush()
    return txn
