"""Daily figures of tickets and orders, for the reports that count many of them.

At ten million tickets, counting a quarter's tickets for the home page or the branch report reads
millions of index entries. The figures hold, per Taipei day, what those pages count:

- ticket figures (`TicketFigure`): per issuer store, measure (issued on the day / redeemed on the
  day / returned on the day), branch (the batch's creating branch for issued, the acting branch
  for the others; 0 for none), redeeming store (redeemed; else 0), kind, stored status and end
  date: the number of tickets and their face value. Kind, status and end date are in the key so
  that a report can apply `app.reports.status_sql`'s as-of-today rule to the figures as it would
  to the tickets;
- order figures (`OrderFigure`): per store and creation day, the orders, their tickets and amount.

Who keeps them: database triggers on `tickets` and `orders` (migration 7c6ed1fcd558), so no
writer — a service, the bulk loader, a manual fix in psql — can forget them. A trigger only
*appends* to the *_changes tables, so that two clerks redeeming at once never wait on one
shared total row; `fold` moves the changes into the totals each minute (app.schedule). A report
reads totals and pending changes together (`ticket_rows`, `order_rows`) and sums, so it sees
every committed change at once whether or not the fold has run.

`recount` rebuilds everything from the rows themselves: the bulk loader uses it (it loads with the
triggers off), `flask recount-figures` repairs with it, and the tests compare it with what the
triggers kept after every kind of change.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Subquery, cast, delete, func, insert, literal, select, text, union_all
from sqlalchemy.sql.elements import ColumnElement

from app.db import db, on_postgresql, taipei_date
from app.issuance.models import Batch
from app.reports.models import (
    FIGURE_KEY,
    OrderFigure,
    OrderFigureChange,
    TicketFigure,
    TicketFigureChange,
)
from app.tickets.models import Order, Ticket

TICKET_VALUES = ("n", "amount")
ORDER_KEY = ("store_id", "day")
ORDER_VALUES = ("n", "tickets", "amount")
ISSUED, REDEEMED, RETURNED = "issued", "redeemed", "returned"


# Reading -----------------------------------------------------------------------------------------

def ticket_rows() -> Subquery:
    """Totals and pending changes of the ticket figures as one relation (columns FIGURE_KEY, n,
    amount; a key may appear more than once: sum `n` and `amount`)."""
    return union_all(*(select(*(getattr(model, c) for c in (*FIGURE_KEY, *TICKET_VALUES)))
                       for model in (TicketFigure, TicketFigureChange))).subquery("figures")


def order_rows() -> Subquery:
    """Totals and pending changes of the order figures (store_id, day, n, tickets, amount)."""
    return union_all(*(select(*(getattr(model, c) for c in (*ORDER_KEY, *ORDER_VALUES)))
                       for model in (OrderFigure, OrderFigureChange))).subquery("order_figures")


# Folding ---------------------------------------------------------------------------------------

def _fold_statements(table: str, changes: str, key: tuple[str, ...],
                     values: tuple[str, ...]) -> list[str]:
    cols = ", ".join((*key, *values))
    keys = ", ".join(key)
    sums = ", ".join(f"sum({v})" for v in values)
    added = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    if on_postgresql():
        # The rows this DELETE removes are exactly the rows added: a change committed meanwhile
        # stays for the next fold (a second fold at once waits for these rows, then skips them).
        return [f"WITH moved AS (DELETE FROM {changes} RETURNING {cols}) "
                f"INSERT INTO {table} ({cols}) SELECT {keys}, {sums} FROM moved GROUP BY {keys} "
                f"ON CONFLICT ({keys}) DO UPDATE SET {added}"]
    # SQLite has one writer at a time: nothing can be added between these two statements.
    return [f"INSERT INTO {table} ({cols}) SELECT {keys}, {sums} FROM {changes} "
            f"WHERE id <= (SELECT max(id) FROM {changes}) GROUP BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {added}",
            f"DELETE FROM {changes} WHERE id <= (SELECT max(id) FROM {changes})"]


def fold() -> None:
    """Move the pending changes into the totals (in the caller's transaction)."""
    for table, changes, key, values in (
            ("ticket_figures", "ticket_figure_changes", FIGURE_KEY, TICKET_VALUES),
            ("order_figures", "order_figure_changes", ORDER_KEY, ORDER_VALUES)):
        for statement in _fold_statements(table, changes, key, values):
            db.session.execute(text(statement))


# Counting from the rows ----------------------------------------------------------------------

def _ticket_contributions() -> list:
    """The three contributions of every ticket, as the triggers write them."""
    day = taipei_date
    common = (Ticket.kind, Ticket.status, Ticket.expires_on, literal(1), Ticket.face_value)
    issued = (select(Ticket.store_id, literal(ISSUED), day(Ticket.issued_at),
                     func.coalesce(Batch.created_branch_id, 0), literal(0), *common)
              .outerjoin(Batch, Batch.id == Ticket.batch_id))
    redeemed = (select(Ticket.store_id, literal(REDEEMED), day(Ticket.redeemed_at),
                       func.coalesce(Ticket.redeemed_branch_id, 0),
                       func.coalesce(Ticket.redeemed_store_id, 0), *common)
                .where(Ticket.redeemed_at.is_not(None)))
    returned = (select(Ticket.store_id, literal(RETURNED), day(Ticket.returned_at),
                       func.coalesce(Ticket.returned_branch_id, 0), literal(0), *common)
                .where(Ticket.returned_at.is_not(None)))
    return [issued, redeemed, returned]


def counted_tickets():  # noqa: ANN201 - a Select of FIGURE_KEY, n, amount
    """The ticket figures computed from the tickets themselves."""
    rows = union_all(*_ticket_contributions()).subquery("c")
    key = [rows.c[i] for i in range(len(FIGURE_KEY))]
    return (select(*key, func.sum(rows.c[len(FIGURE_KEY)]), func.sum(rows.c[len(FIGURE_KEY) + 1]))
            .group_by(*key).execution_options(unscoped=True))


def counted_orders():  # noqa: ANN201 - a Select of store_id, day, n, tickets, amount
    """The order figures computed from the orders themselves."""
    day = taipei_date(Order.created_at)
    return (select(Order.store_id, day, func.count(), func.sum(Order.ticket_count),
                   func.sum(Order.amount))
            .group_by(Order.store_id, day).execution_options(unscoped=True))


def recount() -> None:
    """Rebuild every figure from the tickets and orders (in the caller's transaction). On
    PostgreSQL the tables are locked for it: writers of tickets and orders wait."""
    if on_postgresql():
        db.session.execute(text("LOCK TABLE tickets, orders IN SHARE MODE"))
        db.session.execute(text("LOCK TABLE ticket_figures, ticket_figure_changes, order_figures, "
                                "order_figure_changes IN EXCLUSIVE MODE"))
    for model in (TicketFigureChange, TicketFigure, OrderFigureChange, OrderFigure):
        db.session.execute(delete(model))
    db.session.execute(insert(TicketFigure).from_select([*FIGURE_KEY, *TICKET_VALUES],
                                                        counted_tickets()))
    db.session.execute(insert(OrderFigure).from_select([*ORDER_KEY, *ORDER_VALUES],
                                                       counted_orders()))


def kept_tickets():  # noqa: ANN201 - a Select of FIGURE_KEY, n, amount
    """The ticket figures as kept (totals and pending changes summed), zero rows left out: what
    `counted_tickets` must equal."""
    rows = ticket_rows()
    key = [rows.c[c] for c in FIGURE_KEY]
    return (select(*key, func.sum(rows.c.n), func.sum(rows.c.amount)).group_by(*key)
            .having(func.sum(rows.c.n) != 0))


def kept_orders():  # noqa: ANN201 - a Select of store_id, day, n, tickets, amount
    rows = order_rows()
    return (select(rows.c.store_id, rows.c.day, func.sum(rows.c.n), func.sum(rows.c.tickets),
                   func.sum(rows.c.amount))
            .group_by(rows.c.store_id, rows.c.day).having(func.sum(rows.c.n) != 0))


def total(column: ColumnElement[int]) -> ColumnElement[int]:
    """The sum of a figure column, zero when no row: an integer (PostgreSQL sums a bigint to a
    numeric)."""
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def summed(rows: Subquery) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """(tickets, face value) of the figure rows selected, zero when none."""
    return total(rows.c.n), total(rows.c.amount)

