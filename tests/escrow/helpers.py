"""Small builders and readers for the escrow tests."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select

from app import clock
from app.db import db
from app.escrow.models import BankInstruction, LedgerEntry
from app.history import HistoryEntry
from app.tickets.models import Ticket

T = clock.taipei_datetime


def at(*args: int) -> None:
    """Freeze the clock at a Taipei wall-clock time."""
    clock.freeze(T(*args))


def reload(ticket: Ticket) -> Ticket:
    db.session.expire_all()
    found = db.session.get(Ticket, ticket.id)
    assert found is not None
    return found


def ledger(ticket: Ticket) -> list[tuple[str, int]]:
    return [(e.kind.value, e.amount) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.ticket_id == ticket.id).order_by(LedgerEntry.id))]


def instructions(ticket: Ticket) -> list[BankInstruction]:
    db.session.expire_all()
    return list(db.session.scalars(select(BankInstruction).where(
        BankInstruction.ticket_id == ticket.id).order_by(BankInstruction.id)))


def history(ticket: Ticket, action: str | None = None) -> list[HistoryEntry]:
    stmt = select(HistoryEntry).where(HistoryEntry.subject_type == "tickets",
                                      HistoryEntry.subject_id == ticket.id)
    if action:
        stmt = stmt.where(HistoryEntry.action == action)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.id)))


def keys_per_entry(entries: list[dict]) -> Counter:
    """How many distinct keys the bank holds per (serial, kind): one each, or money moved twice."""
    return Counter((e["entry"]["ticket_serial"], e["entry"]["kind"]) for e in entries)


def day(month: int, d: int) -> date:
    return date(2026, month, d)
