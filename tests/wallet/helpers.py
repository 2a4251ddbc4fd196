"""Wallet test builders: an electronic order issued through the real issuance service, and a
browser (test client) that has confirmed its link."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.db import db
from app.issuance import services as issuance
from app.products.models import Product, ProductKind
from app.settings.services import settings_for
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from tests.issuance.helpers import ready_store

_n = iter(range(1, 1_000_000))

MOBILE = "0912345678"
EMAIL = "buyer@example.com"


def issue_order(owner, store, product: Product, *, quantity: int = 3,
                method: DeliveryMethod = DeliveryMethod.IMMEDIATE, mobile: str = MOBILE,
                email: str = EMAIL, name: str = "林小美", start: date | None = None) -> Order:
    """One order of `quantity` tickets for one purchaser; committed, notices queued."""
    n = next(_n)
    rows = [{"商品編號": product.id, "數量": quantity, "廠商訂單編號": f"W{n}X0001", "購買人姓名": name,
             "手機": mobile, "Email": email, "使用起始日": start, "_row": 2}]
    batch = issuance.prepare_batch(owner, store, import_no=f"W{n}", method=method,
                                   kind=ProductKind(product.kind.value), rows=rows)
    assert batch.error_count == 0, batch.rows
    db.session.commit()
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.batch_id == batch.id))


def tickets_of(order: Order) -> list[Ticket]:
    return list(db.session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)
                                   .execution_options(unscoped=True)))


def shop(username: str = "walletshop", *, returns: bool = False, sms: bool = True):
    """A store ready to issue (pickup 咖啡券 NT$150, gift 甜點券 NT$80), its owner; SMS on."""
    store, owner, pickup, gift = ready_store(username)
    settings = settings_for(store)
    settings.sms_on = sms
    settings.online_return_application = returns
    settings.cs_email = "service@shop.example.tw"
    db.session.commit()
    return store, owner, pickup, gift


def confirm(client, token: str, digits: str = MOBILE[-4:]):  # noqa: ANN001, ANN201
    return client.post(f"/t/{token}/confirm", data={"answer": digits})


def give(order: Order, tickets: list[Ticket], *, name: str = "陳大文", mobile: str = "0922333444",
         email: str = "friend@example.com"):  # noqa: ANN201
    """A committed transfer of `tickets` through the transfer service."""
    from app.transfers import services as transfers

    made = transfers.give(order, [t.id for t in tickets], name=name, mobile=mobile, email=email)
    db.session.commit()
    return made


def cancel_transfer(app, owner, store, transfer_id: int, reason: str = "消費者來電取消") -> None:  # noqa: ANN001
    """The issuer cancels a transfer (the service asks the logged-in account's permission)."""
    from flask import g
    from flask_login import login_user

    from app.transfers import services as transfers

    with app.test_request_context("/"):
        login_user(owner)
        g.store = store
        transfers.cancel(owner, store, transfer_id, reason=reason)
        db.session.commit()
