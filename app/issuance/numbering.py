"""Serial numbers (票券序號) and ECT order numbers (ECT訂單編號), unique across every table that
holds them.

A serial is a random 5-character prefix, the Taipei issue date and a 3-digit index
(`app.tickets.codes.serial`), so one prefix numbers at most 1000 serials of a day. Tickets hold
serials, and so do the periods of installment orders (each period is a serial): a prefix is
taken only when no serial of that day in any of those tables uses it yet, so a serial is never
shown twice, whichever table it is in.

An ECT order number is the date and 8 random digits (`app.tickets.codes.new_order_no`): a
thousand orders drawn at random in a day of a few thousand would meet an existing number about
once in fifty batches, so numbers are drawn until none is in use in any order table (ticket
orders, installment orders) nor twice in the batch.

The tables are hooks: tickets' are here, and a package above that holds serials or order
numbers too registers its column (`register_serials`, `register_order_nos`) when it is
imported, so this module never imports it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.db import db, in_chunks
from app.tickets import codes
from app.tickets.models import Order, Ticket

PER_PREFIX = codes.MAX_TICKETS_PER_BATCH  # the 3-digit index: 000-999
SERIAL_COLUMNS: list[Any] = [Ticket.serial]
ORDER_NO_COLUMNS: list[Any] = [Order.order_no]


def _register(columns: list[Any], column: Any) -> None:
    if not any(column is known for known in columns):
        columns.append(column)


def register_serials(column: Any) -> None:
    """Also keep serial prefixes unique against `column` (a mapped String(16) serial column)."""
    _register(SERIAL_COLUMNS, column)


def register_order_nos(column: Any) -> None:
    """Also keep ECT order numbers unique against `column`."""
    _register(ORDER_NO_COLUMNS, column)


# Serials --------------------------------------------------------------------------------------

def _used_prefixes(prefixes: set[str], day: date) -> set[str]:
    """Those of `prefixes` that some serial of `day` already uses, in any serial table. Each
    prefix is a range of the serial's unique index (`P…yyyymmdd000` to `P…yyyymmdd999`)."""
    stamp = f"{day:%Y%m%d}"
    used: set[str] = set()
    for column in SERIAL_COLUMNS:
        ranges = [and_(column >= f"{p}{stamp}000", column <= f"{p}{stamp}999") for p in prefixes]
        used.update(db.session.scalars(
            select(func.substr(column, 1, codes.SERIAL_PREFIX)).where(or_(*ranges))
            .distinct().execution_options(unscoped=True)))
    return used


def fresh_prefixes(day: date, count: int) -> list[str]:
    """`count` distinct random prefixes that no serial of `day` uses yet."""
    chosen: set[str] = set()
    while len(chosen) < count:
        candidates: set[str] = set()
        while len(candidates) < count - len(chosen):
            candidate = codes.new_serial_prefix()
            if candidate not in chosen:
                candidates.add(candidate)
        chosen |= candidates - _used_prefixes(candidates, day)
    return sorted(chosen)


def new_serials(day: date, count: int) -> list[str]:
    """`count` serials of `day`, in order: a fresh prefix for each 1000."""
    prefixes = fresh_prefixes(day, -(-count // PER_PREFIX)) if count else []
    return [codes.serial(prefixes[i // PER_PREFIX], day, i % PER_PREFIX) for i in range(count)]


# ECT order numbers ---------------------------------------------------------------------------

def _used_order_nos(numbers: set[str]) -> set[str]:
    used: set[str] = set()
    for column in ORDER_NO_COLUMNS:
        for chunk in in_chunks(numbers):
            used.update(db.session.scalars(
                select(column).where(column.in_(chunk)).execution_options(unscoped=True)))
    return used


def new_order_nos(day: date, count: int) -> list[str]:
    """`count` distinct ECT order numbers of `day` that no order (of any kind) has yet."""
    chosen: set[str] = set()
    while len(chosen) < count:
        candidates: set[str] = set()
        while len(candidates) < count - len(chosen):
            candidate = codes.new_order_no(day)
            if candidate not in chosen:
                candidates.add(candidate)
        chosen |= candidates - _used_order_nos(candidates)
    return sorted(chosen)
