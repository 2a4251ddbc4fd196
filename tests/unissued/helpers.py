"""Builders for the unissued ticket order tests: a store that issues and takes card payments,
and a ticket order paid through the real checkout services."""

from __future__ import annotations

from datetime import date, datetime

from app import clock
from app.auth.models import Account
from app.checkout import rules as checkout_rules
from app.checkout import services as checkout
from app.checkout.acquirer import read_card
from app.db import db
from app.ecpay import keys
from app.products.models import Product
from app.stores.models import Store
from app.unissued.models import TicketOrder
from tests.factories import STAGE_KEYS, aio_form
from tests.issuance.helpers import ready_store

HOLDER = checkout_rules.Holder("王小明", "0912345678", "ming@example.com")


def ticket_store(username: str = "issuer01") -> tuple[Store, Account, Product, Product]:
    """A store ready to issue (咖啡券 pickup NT$150, 甜點券 gift NT$80) with integration keys."""
    store, owner, pickup, gift = ready_store(username)
    keys.install_pair(store.id, STAGE_KEYS)
    db.session.commit()
    return store, owner, pickup, gift


def pay_ticket_order(store: Store, trade_no: str, *, item_name: str = "咖啡券 x 2",
                     amount: int = 300, holder: checkout_rules.Holder = HOLDER,
                     at: datetime | None = None) -> TicketOrder:
    """A ticket order accepted and paid with the test card (at `at`, Taipei), committed."""
    if at is not None:
        clock.freeze(at)
    form = aio_form(store, trade_no=trade_no, amount=str(amount), ItemName=item_name)
    accepted = checkout.accept(form.items())
    assert accepted.order is not None, accepted.error
    card, problems = read_card("4311-9522-2222-2222", "12/35", "222", today=clock.business_day())
    assert card is not None, problems
    payment = checkout.pay(accepted.order, card, holder=holder)
    assert payment.approved
    db.session.commit()
    return db.session.scalar(db.select(TicketOrder).where(TicketOrder.merchant_order_no == trade_no))


def taipei(day: date, hour: int = 10) -> datetime:
    return clock.taipei_datetime(day.year, day.month, day.day, hour)
