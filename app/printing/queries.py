"""Lists of 紙本票券列印: the store's merchant-print tickets, its print runs, the operator's
platform-print batches, and the tickets printed more than once in a reminder window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app import clock
from app.db import db
from app.issuance.models import Batch, BatchStatus
from app.printing.models import PrintedTicket, PrintRun
from app.printing.rules import Window
from app.products.models import Product
from app.stores.models import DeliveryMethod, Store
from app.tickets.models import Order, Ticket

MERCHANT_PRINT = DeliveryMethod.MERCHANT_PRINT
PLATFORM_PRINT = DeliveryMethod.PLATFORM_PRINT
PRINTED, UNPRINTED = "printed", "unprinted"


@dataclass(frozen=True)
class TicketFilter:
    store_id: int
    start: date | None = None  # issued, Taipei days, inclusive
    end: date | None = None
    product_id: int | None = None
    printed: str = ""  # "", "printed", "unprinted"
    number: str = ""  # a serial, an ECT order number or a merchant order number (exact)


def paper_tickets(flt: TicketFilter) -> Select:
    """The store's merchant-print paper tickets matching `flt`, newest first."""
    stmt = (select(Ticket).where(Ticket.store_id == flt.store_id,
                                 Ticket.delivery_method == MERCHANT_PRINT)
            .options(selectinload(Ticket.product)))
    if flt.start is not None:
        stmt = stmt.where(Ticket.issued_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(Ticket.issued_at <= clock.day_end(flt.end))
    if flt.product_id is not None:
        stmt = stmt.where(Ticket.product_id == flt.product_id)
    if flt.printed == PRINTED:
        stmt = stmt.where(Ticket.printed_at.is_not(None))
    elif flt.printed == UNPRINTED:
        stmt = stmt.where(Ticket.printed_at.is_(None))
    if flt.number:
        orders = select(Order.id).where(Order.store_id == flt.store_id, or_(
            Order.order_no == flt.number, Order.merchant_order_no == flt.number))
        stmt = stmt.where(or_(Ticket.serial == flt.number.upper(), Ticket.order_id.in_(orders)))
    return stmt.order_by(Ticket.issued_at.desc(), Ticket.id.desc())


def paper_ticket_rows(flt: TicketFilter) -> Select:
    """(Ticket, Order) rows of `paper_tickets(flt)`: the lines of the list and its Excel."""
    return paper_tickets(flt).add_columns(Order).outerjoin(Order, Order.id == Ticket.order_id)


def orders_of(tickets: Iterable[Ticket]) -> dict[int, Order]:
    """{order id: order} of a page of tickets."""
    ids = {t.order_id for t in tickets}
    if not ids:
        return {}
    return {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(ids)))}


def products(store_id: int) -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.store_id == store_id)
                                   .order_by(Product.name, Product.id)))


def runs(store_id: int, start: date, end: date) -> Select:
    """The store's print runs (every kind) created in the Taipei days [start, end], newest first."""
    return (select(PrintRun).where(PrintRun.store_id == store_id,
                                   PrintRun.created_at >= clock.day_start(start),
                                   PrintRun.created_at <= clock.day_end(end))
            .order_by(PrintRun.created_at.desc(), PrintRun.id.desc()))


def run_tickets(run: PrintRun) -> Select:
    """The tickets printed in `run`, in page order."""
    return (select(Ticket).join(PrintedTicket, PrintedTicket.ticket_id == Ticket.id)
            .where(PrintedTicket.run_id == run.id, PrintedTicket.store_id == run.store_id,
                   Ticket.store_id == run.store_id)
            .options(selectinload(Ticket.product)).order_by(Ticket.id))


def platform_batches(*, state: str = "", q: str = "") -> Select:
    """Succeeded platform-print batches of every store (the operator's list), unprinted first."""
    stmt = (select(Batch).join(Store, Store.id == Batch.store_id)
            .where(Batch.delivery_method == PLATFORM_PRINT, Batch.status == BatchStatus.SUCCEEDED)
            .execution_options(unscoped=True))
    if state == PRINTED:
        stmt = stmt.where(Batch.printed_at.is_not(None))
    elif state == UNPRINTED:
        stmt = stmt.where(Batch.printed_at.is_(None))
    if q:
        stmt = stmt.where(or_(Store.merchant_code == q, Store.name.contains(q, autoescape=True),
                              Batch.import_no == q))
    return stmt.order_by(Batch.printed_at.is_not(None), Batch.finished_at.desc(), Batch.id.desc())


def stores_of(batches: Iterable[Batch]) -> dict[int, Store]:
    ids = {b.store_id for b in batches}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(select(Store).where(Store.id.in_(ids)))}


def multi_printed(window: Window) -> dict[int, dict[int, list[datetime]]]:
    """{store id: {ticket id: print times in the window, oldest first}} of the tickets with two
    or more print records in the window (the SQL form of `rules.printed_more_than_once`)."""
    in_window = (PrintedTicket.printed_at > window.start, PrintedTicket.printed_at <= window.end)
    repeated = (select(PrintedTicket.ticket_id).where(*in_window)
                .group_by(PrintedTicket.ticket_id).having(func.count() >= 2))
    rows = db.session.execute(
        select(PrintedTicket.store_id, PrintedTicket.ticket_id, PrintedTicket.printed_at)
        .where(*in_window, PrintedTicket.ticket_id.in_(repeated))
        .order_by(PrintedTicket.store_id, PrintedTicket.ticket_id, PrintedTicket.printed_at)
        .execution_options(unscoped=True))
    out: dict[int, dict[int, list[datetime]]] = {}
    for store_id, ticket_id, at in rows:
        out.setdefault(store_id, {}).setdefault(ticket_id, []).append(at)
    return out
