"""Demo card transactions of the issuer (信用卡收單), so its pages are not empty under `make run`:
one waiting to be closed by hand, one asked to close, one closed, one whose close failed.

Idempotent: found by their MerchantTradeNo."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder, OrderStatus, TransactionStatus
from app.db import db
from app.stores.models import Store

# (MerchantTradeNo, amount, days ago, status, close error)
DEMO_TRANSACTIONS = (
    ("DEMOCARD0001", 1200, 1, TransactionStatus.AUTHORISED, ""),
    ("DEMOCARD0002", 680, 2, TransactionStatus.CLOSE_REQUESTED, ""),
    ("DEMOCARD0003", 2400, 6, TransactionStatus.CLOSED, ""),
    ("DEMOCARD0004", 150, 23, TransactionStatus.AUTHORISED, "error_overDate 授權已超過 21 天"),
)


def load_demo_card_transactions(issuer: Store) -> None:
    now = clock.now()
    for n, (merchant_trade_no, amount, days, status, error) in enumerate(DEMO_TRANSACTIONS, 1):
        if db.session.scalar(select(CheckoutOrder.id).where(
                CheckoutOrder.store_id == issuer.id,
                CheckoutOrder.merchant_trade_no == merchant_trade_no)) is not None:
            continue
        at = now - timedelta(days=days, hours=n)
        order = CheckoutOrder(
            store_id=issuer.id, merchant_trade_no=merchant_trade_no,
            trade_no=f"{clock.taipei(at):%y%m%d%H%M%S}{9000 + n}", token=f"democard{n:024d}",
            total_amount=amount, item_name="咖啡兌換券", trade_desc="示範信用卡交易",
            return_url="https://issuer.example/ecpay/return",
            merchant_trade_date=f"{clock.taipei(at):%Y/%m/%d %H:%M:%S}", is_ticket_order=False,
            fields={}, status=OrderStatus.PAID, created_at=at, paid_at=at)
        db.session.add(order)
        db.session.flush()
        db.session.add(CardTransaction(
            store_id=issuer.id, order_id=order.id, status=status, amount=amount,
            card_first6="431195", card_last4=f"{2220 + n}", brand="VISA", auth_code=f"77{n:04d}",
            auth_serial=f"{16000000 + n}", acquirer="sandbox", authorised_at=at,
            auto_close=status is not TransactionStatus.AUTHORISED,
            close_requested_at=at + timedelta(hours=1)
            if status in (TransactionStatus.CLOSE_REQUESTED, TransactionStatus.CLOSED) else None,
            closed_at=at + timedelta(days=1) if status is TransactionStatus.CLOSED else None,
            close_error=error, close_failed_at=now - timedelta(days=1) if error else None))
    db.session.flush()
