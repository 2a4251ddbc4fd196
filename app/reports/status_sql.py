"""The ticket status as of a Taipei day, in SQL, for reports that count or filter by status.

`Ticket.current_status` shows an unused ticket past its end date as already expired, before
the daily job writes it (docs/tickets.md: "either way reports must agree"). Reports group and filter
in the database, so they need the same rule as an expression:

    unused and expires_on < today  →  unused_escrow_expired (pickup) / expired (gift)
    anything else                  →  the stored status

The end date runs through 23:59:59 Taipei (`lifecycle.is_past_end`), so "past it" on an instant
is the same as "the Taipei business day of that instant is after it"; callers pass
`clock.business_day()`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, case, literal
from sqlalchemy.sql.elements import ColumnElement

from app.products.models import ProductKind
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus


def effective_status(today: date, of: Any = Ticket) -> ColumnElement[TicketStatus]:
    """A CASE giving each ticket's status as of `today` (a Taipei business day); it reads back
    as a `TicketStatus` and compares with `TicketStatus` members. `of`: whatever has the
    ticket's `status`, `kind` and `expires_on` columns (the tickets, or the columns of
    app.reports.figures' rows, keyed by them)."""
    status_type = Ticket.__table__.c.status.type
    past_end = and_(of.status == TicketStatus.UNUSED, of.expires_on < today)
    return case(
        (and_(past_end, of.kind == ProductKind.PICKUP),
         literal(TicketStatus.UNUSED_ESCROW_EXPIRED, status_type)),
        (past_end, literal(TicketStatus.EXPIRED, status_type)),
        else_=of.status,
    )


def in_group(today: date, group: StatusGroup, of: Any = Ticket) -> ColumnElement[bool]:
    """Tickets whose status as of `today` is in `group` (票券狀態)."""
    return effective_status(today, of).in_(STATUS_GROUPS[group])
