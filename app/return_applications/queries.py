"""The list of 電子票券退貨申請: applications with their ticket, order number and product."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select

from app import clock
from app.db import db
from app.products.models import Product
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.tickets.models import Order, Ticket


@dataclass(frozen=True)
class ApplicationFilter:
    status: ApplicationStatus | None = ApplicationStatus.PENDING
    order_no: str = ""  # ECT訂單編號 (exact)
    serial: str = ""  # 票券序號 (exact)
    start: date | None = None  # applied, Taipei days, inclusive
    end: date | None = None
    readable: bool = False  # a parent store reads its children's applications too


def applications(flt: ApplicationFilter) -> Select:
    """Applications of the acting store (and its children when `readable`) matching `flt`,
    newest first. Store scoping is applied by the ORM."""
    stmt = (select(ReturnApplication)
            .join(Ticket, Ticket.id == ReturnApplication.ticket_id)
            .join(Order, Order.id == ReturnApplication.order_id))
    if flt.status is not None:
        stmt = stmt.where(ReturnApplication.status == flt.status)
    if flt.order_no:
        stmt = stmt.where(Order.order_no == flt.order_no.upper())
    if flt.serial:
        stmt = stmt.where(Ticket.serial == flt.serial.upper())
    if flt.start is not None:
        stmt = stmt.where(ReturnApplication.created_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(ReturnApplication.created_at <= clock.day_end(flt.end))
    stmt = stmt.order_by(ReturnApplication.created_at.desc(), ReturnApplication.id.desc())
    if flt.readable:
        stmt = stmt.execution_options(readable=True)
    return stmt


def application_rows(flt: ApplicationFilter) -> Select:
    """(ReturnApplication, Ticket, order number, product name) rows of `applications(flt)`,
    for the Excel download."""
    return (applications(flt).add_columns(Ticket, Order.order_no, Product.name)
            .join(Product, Product.id == Ticket.product_id))


@dataclass(frozen=True)
class Shown:
    ticket: Ticket
    order_no: str
    product_name: str


def shown(page: Iterable[ReturnApplication], *, readable: bool = False) -> dict[int, Shown]:
    """{application id: its ticket, order number and product name} for one page."""
    ids = [a.id for a in page]
    if not ids:
        return {}
    rows = db.session.execute(
        select(ReturnApplication.id, Ticket, Order.order_no, Product.name)
        .join(Ticket, Ticket.id == ReturnApplication.ticket_id)
        .join(Order, Order.id == ReturnApplication.order_id)
        .join(Product, Product.id == Ticket.product_id)
        .where(ReturnApplication.id.in_(ids)).execution_options(readable=readable))
    return {i: Shown(t, o, p) for i, t, o, p in rows}


def pending_for(ticket: Ticket) -> ReturnApplication | None:
    """The ticket's pending return application, if any (for the ticket's detail page)."""
    return db.session.scalar(
        select(ReturnApplication).where(ReturnApplication.ticket_id == ticket.id,
                                        ReturnApplication.store_id == ticket.store_id,
                                        ReturnApplication.status == ApplicationStatus.PENDING)
        .order_by(ReturnApplication.id.desc()).limit(1))
