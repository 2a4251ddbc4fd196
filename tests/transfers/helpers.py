"""Transfers for the tests: real orders (issued through issuance) given through the service."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.history import HistoryEntry
from app.tickets.models import Order, Ticket
from app.transfers import services
from app.transfers.models import Transfer, TransferItem

FRIEND = {"name": "陳小華", "mobile": "0922333444", "email": "friend@example.com"}


def give(order: Order, tickets: list[Ticket], **recipient: str) -> Transfer:
    """Give `tickets` of `order` to FRIEND (or `recipient`) and commit, as the wallet would."""
    transfer = services.give(order, [t.id for t in tickets], **(FRIEND | recipient))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Transfer, transfer.id)


def items_of(transfer: Transfer) -> dict[int, TransferItem]:
    db.session.expire_all()
    return {i.ticket_id: i for i in db.session.scalars(
        select(TransferItem).where(TransferItem.transfer_id == transfer.id))}


def history(subject_type: str, subject_id: int, action: str | None = None) -> list[HistoryEntry]:
    stmt = select(HistoryEntry).where(HistoryEntry.subject_type == subject_type,
                                      HistoryEntry.subject_id == subject_id)
    if action is not None:
        stmt = stmt.where(HistoryEntry.action == action)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.id)))


def ticket(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)
