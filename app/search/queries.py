"""What the global search box finds, in the acting store only.

A query is tried as every kind at once: a redemption code (normalised as the counter does, and
through the counter's visibility rule), a ticket serial, an ECT order number, a merchant order
number, and a mobile number (the purchaser's or the holder's). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.db import db
from app.errors import InvalidInput, NotFound
from app.phones import normalise_mobile
from app.stores.models import Store
from app.tickets import codes
from app.tickets import services as tickets
from app.tickets.models import Order, Ticket

LIMIT = 50  # rows of each kind; a mobile number with more is narrowed on the list pages


@dataclass
class Found:
    """The tickets and orders a query found, each kind at most LIMIT rows."""

    tickets: list[Ticket] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    by_code: bool = False  # the query was a (well-formed) redemption code

    @property
    def empty(self) -> bool:
        return not self.tickets and not self.orders


def search(store: Store, typed: str, *, with_orders: bool = True) -> Found:
    text = (typed or "").strip()
    found = Found()
    if not text:
        return found
    seen: set[int] = set()

    def add(ticket: Ticket) -> None:
        if ticket.id not in seen:
            seen.add(ticket.id)
            found.tickets.append(ticket)

    code = codes.normalise_code(text)
    if codes.is_well_formed(code):
        found.by_code = True
        try:
            add(tickets.find_by_code(store, code))
        except (NotFound, InvalidInput):
            pass
    try:
        add(tickets.find_by_serial(store, text))
    except NotFound:
        pass
    mobile = normalise_mobile(text)
    if mobile:
        for ticket in db.session.scalars(
                select(Ticket).where(Ticket.store_id == store.id, Ticket.holder_mobile == mobile)
                .options(selectinload(Ticket.product)).order_by(Ticket.id.desc()).limit(LIMIT)):
            add(ticket)
    if with_orders:
        terms = [Order.order_no.in_({text, text.upper()}), Order.merchant_order_no == text]
        if mobile:
            terms.append(Order.purchaser_mobile == mobile)
        found.orders = list(db.session.scalars(
            select(Order).where(Order.store_id == store.id, or_(*terms))
            .order_by(Order.created_at.desc(), Order.id.desc()).limit(LIMIT)))
    return found
