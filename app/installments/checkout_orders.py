"""8-2 未發行訂單 fed by the card checkout: an installment-mode store's paid card order waits
there, with its cardholder, until an installment order of the same merchant order number is
issued (app.installments.issuing links them). Registered with checkout when imported; flushes,
never commits."""

from __future__ import annotations

from app.checkout import services as checkout
from app.checkout.models import CardTransaction, CheckoutOrder
from app.db import db, insert_ignoring_conflict
from app.installments.models import UnissuedOrder
from app.stores.models import Store

WAITING = "已付款，尚未發行分期核銷訂單"


def on_paid(order: CheckoutOrder, txn: CardTransaction) -> None:
    store = db.session.get(Store, order.store_id)
    if order.is_ticket_order or store is None or not checkout.installment_mode(store):
        return
    assert order.paid_at is not None
    insert_ignoring_conflict(
        UnissuedOrder, store_id=order.store_id, merchant_order_no=order.merchant_trade_no,
        trade_no=order.trade_no, total_amount=order.total_amount,
        purchaser_name=txn.holder_name, purchaser_mobile=txn.holder_mobile,
        purchaser_email=txn.holder_email, cardholder_name=txn.holder_name,
        card_first6=txn.card_first6, card_last4=txn.card_last4, auth_code=txn.auth_code,
        paid_at=order.paid_at, reason=WAITING)


checkout.PAID_REACTIONS.append(on_paid)
