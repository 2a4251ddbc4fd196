"""Serial numbers (票券序號) unique across every table that holds them.

A serial is a random 5-character prefix, the Taipei issue date and a 3-digit index
(`app.tickets.codes.serial`), so one prefix numbers at most 1000 serials of a day. Tickets hold
serials, and so do the periods of installment orders (each period is a serial): a prefix is
taken only when no serial of that day in any of those tables uses it yet, so a serial is never
shown twice, whichever table it is in.

The tables are a hook: tickets' is here, and a package above that holds serials too registers
its column (`register`) when it is imported, so this module never imports it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.db import db
from app.tickets import codes
from app.tickets.models import Ticket

PER_PREFIX = codes.MAX_TICKETS_PER_BATCH  # the 3-digit index: 000-999
SERIAL_COLUMNS: list[Any] = [Ticket.serial]


def register(column: Any) -> None:
    """Also keep prefixes unique against `column` (a mapped String(16) serial column)."""
    if not any(column is known for known in SERIAL_COLUMNS):
        SERIAL_COLUMNS.append(column)


def _used(prefixes: set[str], day: date) -> set[str]:
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
        candidates = set()
        while len(candidates) < count - len(chosen):
            candidate = codes.new_serial_prefix()
            if candidate not in chosen:
                candidates.add(candidate)
        chosen |= candidates - _used(candidates, day)
    return sorted(chosen)


def new_serials(day: date, count: int) -> list[str]:
    """`count` serials of `day`, in order: a fresh prefix for each 1000."""
    prefixes = fresh_prefixes(day, -(-count // PER_PREFIX)) if count else []
    return [codes.serial(prefixes[i // PER_PREFIX], day, i % PER_PREFIX) for i in range(count)]
