"""Lists of 已發行訂單管理: the order query and what its rows need (import numbers, tickets)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from app import clock
from app.db import db
from app.issuance.models import Batch
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket


@dataclass(frozen=True)
class OrderFilter:
    store_id: int
    order_no: str = ""  # ECT訂單編號 (exact)
    merchant_order_no: str = ""  # 廠商訂單編號 (exact)
    import_no: str = ""  # 匯入單號 (exact)
    purchaser: str = ""  # name, mobile or e-mail containing this
    delivery_type: str = ""  # cvs / paper / electronic
    start: date | None = None  # created, Taipei days, inclusive
    end: date | None = None


def orders(flt: OrderFilter) -> Select:
    """The store's orders matching `flt`, newest first."""
    stmt = select(Order).where(Order.store_id == flt.store_id)
    if flt.order_no:
        stmt = stmt.where(Order.order_no == flt.order_no)
    if flt.merchant_order_no:
        stmt = stmt.where(Order.merchant_order_no == flt.merchant_order_no)
    if flt.import_no:
        stmt = stmt.where(Order.batch_id.in_(
            select(Batch.id).where(Batch.store_id == flt.store_id, Batch.import_no == flt.import_no)))
    if flt.purchaser:
        term = flt.purchaser
        stmt = stmt.where(or_(Order.purchaser_name.icontains(term, autoescape=True),
                              Order.purchaser_mobile.contains(term, autoescape=True),
                              Order.purchaser_email.icontains(term, autoescape=True)))
    if flt.delivery_type:
        stmt = stmt.where(Order.delivery_method.in_(DeliveryMethod.of_type(flt.delivery_type)))
    if flt.start is not None:
        stmt = stmt.where(Order.created_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(Order.created_at <= clock.day_end(flt.end))
    return stmt.order_by(Order.created_at.desc(), Order.id.desc())


def order_rows(flt: OrderFilter) -> Select:
    """`orders(flt)` with each order's import number: the rows of the list and its Excel."""
    return (orders(flt).add_columns(Batch.import_no)
            .join(Batch, Batch.id == Order.batch_id))


def import_nos(batch_ids: Iterable[int]) -> dict[int, str]:
    """{batch id: 匯入單號} of the batches of one page of orders."""
    ids = set(batch_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Batch.id, Batch.import_no).where(Batch.id.in_(ids))).all())


def order_tickets(order: Order) -> list[Ticket]:
    return list(db.session.scalars(
        select(Ticket).where(Ticket.order_id == order.id, Ticket.store_id == order.store_id)
        .options(selectinload(Ticket.product)).order_by(Ticket.id)))


def order_ticket(order: Order, ticket_id: int) -> Ticket | None:
    """A ticket reached through its order (so another order's or store's ticket is None)."""
    return db.session.scalar(select(Ticket).where(
        Ticket.id == ticket_id, Ticket.order_id == order.id, Ticket.store_id == order.store_id))
