"""商品銷量: the counters of app.products.models.ProductSales.

A ticket counts as sold from its issuance until it enters the returned group (待退貨 onwards);
a cancelled return counts it again. Expiry, redemption and the bank's acknowledgements move a
ticket inside its group and leave the counters alone. Every writer below runs in the caller's
transaction (never commits) as one relative UPDATE or upsert, so two clerks returning tickets
of the same product at once both count: the row lock orders them, neither overwrites.

`recount` rebuilds the counters from the tickets themselves: the bulk loader uses it, and the
tests compare it with the counters after every kind of change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, delete, func, insert, select, update

from app.db import conflict_insert, db
from app.products.models import ProductKind, ProductSales
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus

NOT_SOLD = frozenset(STATUS_GROUPS[StatusGroup.RETURNED])


def is_sold(status: TicketStatus) -> bool:
    return status not in NOT_SOLD


def delta(seen: TicketStatus, to: TicketStatus) -> int:
    """+1 when a move makes a ticket count as sold again, -1 when it stops counting, else 0."""
    return int(is_sold(to)) - int(is_sold(seen))


def _upsert(values: list[dict]) -> None:
    """Add to the counters of these products, creating the rows that do not exist yet."""
    stmt = conflict_insert(ProductSales)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[ProductSales.product_id],
        set_={"sold_count": ProductSales.sold_count + stmt.excluded.sold_count,
              "sold_amount": ProductSales.sold_amount + stmt.excluded.sold_amount}),
        values)


def issued(store_id: int, tickets: Iterable[tuple[int, ProductKind, int]]) -> None:
    """New tickets of a store: (product id, kind, face value) each."""
    totals: dict[int, dict] = {}
    for product_id, kind, face_value in tickets:
        row = totals.setdefault(product_id, {"product_id": product_id, "store_id": store_id,
                                             "kind": kind, "sold_count": 0, "sold_amount": 0})
        row["sold_count"] += 1
        row["sold_amount"] += face_value
    if totals:
        # One row per product, in id order: two issuances touching the same products lock
        # them in the same order and cannot deadlock.
        _upsert([totals[p] for p in sorted(totals)])


def moved(ticket: Ticket, seen: TicketStatus, to: TicketStatus) -> None:
    """A ticket's status changed from `seen` to `to`: count it out of, or back into, its
    product's sales when the move crosses the returned group's edge."""
    change = delta(seen, to)
    if change:
        db.session.execute(
            update(ProductSales).where(ProductSales.product_id == ticket.product_id)
            .values(sold_count=ProductSales.sold_count + change,
                    sold_amount=ProductSales.sold_amount + change * ticket.face_value)
            .execution_options(synchronize_session=False, unscoped=True))


def counted(store_ids: Sequence[int] | None = None) -> Select:
    """(product id, store id, kind, tickets sold, face value) computed from the tickets."""
    stmt = (select(Ticket.product_id, Ticket.store_id, Ticket.kind, func.count(),
                   func.sum(Ticket.face_value))
            .where(Ticket.status.not_in(NOT_SOLD))
            .group_by(Ticket.product_id, Ticket.store_id, Ticket.kind))
    if store_ids is not None:
        stmt = stmt.where(Ticket.store_id.in_(store_ids))
    return stmt.execution_options(unscoped=True)


def recount(store_ids: Sequence[int] | None = None) -> None:
    """Rebuild the counters of these stores (all stores when None) from their tickets."""
    gone = delete(ProductSales)
    if store_ids is not None:
        gone = gone.where(ProductSales.store_id.in_(store_ids))
    db.session.execute(gone.execution_options(synchronize_session=False, unscoped=True))
    db.session.execute(insert(ProductSales).from_select(
        ["product_id", "store_id", "kind", "sold_count", "sold_amount"], counted(store_ids)))
