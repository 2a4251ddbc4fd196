"""Demo ticket orders paid by card (未發行訂單管理 is not empty under `make run`): three orders of
the demo issuer paid through the real checkout with the test card — two still issuable (one of
them near its last issuing day) and one past it. Their result notices go to the sample shop's
ReturnURL, which answers once `make run` serves it (the first try, at load time, fails)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app import clock
from app.checkout import rules as checkout_rules
from app.checkout import services as checkout
from app.checkout.acquirer import read_card
from app.db import db
from app.ecpay import checkmac, keys
from app.stores.models import Store
from app.unissued.models import TicketOrder

SHOP_RETURN_URL = "http://127.0.0.1:5000/sample-shop/notify"
ORDERS = (  # (MerchantTradeNo, days ago, ItemName, amount, cardholder)
    ("DEMOTICKET0001", 2, "咖啡兌換券 x 2", 300, ("張雅婷", "0933111222", "ting@example.com")),
    ("DEMOTICKET0002", 18, "台北門市限定蛋糕券 x 1#咖啡兌換券 x 1", 830, ("陳志明", "0955666777", "")),
    ("DEMOTICKET0003", 24, "甜點招待券 x 3", 240, ("吳佩珊", "0988123456", "")),
)


def load_demo_ticket_orders(issuer: Store) -> None:
    if db.session.scalar(select(TicketOrder.id).where(TicketOrder.store_id == issuer.id).limit(1)):
        return
    pair = keys.current_pair(issuer.id)
    if pair is None:
        return
    today = clock.business_day()
    try:
        for trade_no, days, item_name, amount, (name, mobile, email) in ORDERS:
            day = today - timedelta(days=days)
            clock.freeze(clock.taipei_datetime(day.year, day.month, day.day, 14, 30))
            _pay(issuer, pair, trade_no, day, item_name, amount,
                 checkout_rules.Holder(name, mobile, email))
    finally:
        clock.unfreeze()


def _pay(issuer: Store, pair: keys.Pair, trade_no: str, day: date, item_name: str, amount: int,
         holder: checkout_rules.Holder) -> None:
    fields = checkmac.signed({
        "MerchantID": issuer.merchant_code, "MerchantTradeNo": trade_no,
        "MerchantTradeDate": f"{day:%Y/%m/%d} 14:29:00", "PaymentType": "aio",
        "TotalAmount": str(amount), "TradeDesc": "範例商店票券訂單", "ItemName": item_name,
        "ReturnURL": SHOP_RETURN_URL, "ChoosePayment": "Credit", "EncryptType": "1",
    }, pair.hash_key, pair.hash_iv)
    order = checkout.accept(fields.items()).order
    card, _ = read_card("4311-9522-2222-2222", "12/35", "222", today=day)
    if order is None or card is None:
        return
    checkout.pay(order, card, holder=holder)
    db.session.commit()
