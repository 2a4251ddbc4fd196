"""Orders for the issued-order tests, issued through the real issuance service."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.issuance import services as issuance
from app.notifications.models import Channel, Message
from app.products.models import Product
from app.settings.services import settings_for
from app.stores.models import DeliveryMethod, Store
from app.tickets.models import Order, Ticket

_n = itertools.count(1)

ELECTRONIC = DeliveryMethod.IMMEDIATE
CVS = DeliveryMethod.IBON
PAPER = DeliveryMethod.MERCHANT_PRINT


def issue_order(owner: Account, store: Store, product: Product, *,
                method: DeliveryMethod = ELECTRONIC, quantity: int = 2, name: str = "王小明",
                mobile: str = "0912345678", email: str = "old@example.com") -> Order:
    """One order of `quantity` tickets, issued (and its issuance notice queued) for real."""
    n = next(_n)
    row = {"商品編號": product.id, "數量": quantity, "廠商訂單編號": f"MO{n:05d}",
           "購買人姓名": name, "手機": mobile, "Email": email, "使用起始日": None, "_row": 2}
    batch = issuance.prepare_batch(owner, store, import_no=f"IMP{n:05d}", method=method,
                                   kind=product.kind, rows=[row])
    db.session.commit()
    assert batch.error_count == 0, batch.rows
    issuance.confirm_batch(owner, store, batch)
    db.session.commit()  # the issuing job and the notice job run inline after this commit
    db.session.expire_all()
    return db.session.scalars(select(Order).where(Order.batch_id == batch.id)).one()


def turn_sms_on(store: Store) -> None:
    settings_for(store).sms_on = True
    db.session.commit()


def tickets_of(order: Order) -> list[Ticket]:
    db.session.expire_all()
    return list(db.session.scalars(select(Ticket).where(Ticket.order_id == order.id)
                                   .order_by(Ticket.id)))


def messages(order: Order | None = None, *, kind: str | None = None,
             channel: Channel | None = None) -> list[Message]:
    db.session.expire_all()
    stmt = select(Message).order_by(Message.id)
    if order is not None:
        stmt = stmt.where(Message.order_id == order.id)
    if kind is not None:
        stmt = stmt.where(Message.kind == kind)
    if channel is not None:
        stmt = stmt.where(Message.channel == channel)
    return list(db.session.scalars(stmt))


def message_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Message)) or 0

