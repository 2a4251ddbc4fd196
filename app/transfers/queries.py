"""Lists of 電子票券轉贈紀錄: the transfer query and what its rows need (serials, order numbers)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select

from app import clock
from app.db import db, in_chunks
from app.tickets.models import Order, Ticket
from app.transfers.models import Transfer, TransferItem, TransferStatus


@dataclass(frozen=True)
class TransferFilter:
    transfer_no: str = ""  # 轉贈編號 (exact)
    order_no: str = ""  # ECT訂單編號 (exact)
    person: str = ""  # giver's or recipient's name or mobile containing this
    status: TransferStatus | None = None
    start: date | None = None  # transferred, Taipei days, inclusive
    end: date | None = None
    readable: bool = False  # a parent store reads its children's transfers too


def transfers(flt: TransferFilter) -> Select:
    """Transfers of the acting store (and its children when `readable`) matching `flt`,
    newest first. Store scoping is applied by the ORM."""
    stmt = select(Transfer).join(Order, Order.id == Transfer.order_id)
    if flt.transfer_no:
        stmt = stmt.where(Transfer.transfer_no == flt.transfer_no.upper())
    if flt.order_no:
        stmt = stmt.where(Order.order_no == flt.order_no.upper())
    if flt.person:
        term = flt.person
        stmt = stmt.where(or_(Transfer.giver_name.contains(term, autoescape=True),
                              Transfer.giver_mobile.contains(term, autoescape=True),
                              Transfer.recipient_name.contains(term, autoescape=True),
                              Transfer.recipient_mobile.contains(term, autoescape=True)))
    if flt.status is not None:
        stmt = stmt.where(Transfer.status == flt.status)
    if flt.start is not None:
        stmt = stmt.where(Transfer.created_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(Transfer.created_at <= clock.day_end(flt.end))
    stmt = stmt.order_by(Transfer.created_at.desc(), Transfer.id.desc())
    if flt.readable:
        stmt = stmt.execution_options(readable=True)
    return stmt


def transfer_rows(flt: TransferFilter) -> Select:
    """`transfers(flt)` with each transfer's order number."""
    return transfers(flt).add_columns(Order.order_no)


@dataclass(frozen=True)
class TransferRow:
    """A line of the list and its Excel."""

    transfer: Transfer
    order_no: str
    serials: list[str]


CHUNK = 500


def with_serials(rows: Iterable[tuple[Transfer, str]], *, readable: bool = False
                 ) -> Iterator[TransferRow]:
    """`transfer_rows` lines with their tickets' serials, looked up a chunk of rows at a time."""
    for chunk in in_chunks(rows, CHUNK):
        found = serials((t.id for t, _ in chunk), readable=readable)
        for transfer, order_no in chunk:
            yield TransferRow(transfer, order_no, found.get(transfer.id, []))


def serials(transfer_ids: Iterable[int], *, readable: bool = False) -> dict[int, list[str]]:
    """{transfer id: serials of its tickets} for one page (or one chunk) of transfers."""
    ids = list(set(transfer_ids))
    if not ids:
        return {}
    out: dict[int, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(TransferItem.transfer_id, Ticket.serial)
        .join(Ticket, Ticket.id == TransferItem.ticket_id)
        .where(TransferItem.transfer_id.in_(ids))
        .order_by(TransferItem.transfer_id, TransferItem.id)
        .execution_options(readable=readable))
    for transfer_id, serial in rows:
        out[transfer_id].append(serial)
    return out


def items(transfer: Transfer) -> list[tuple[TransferItem, Ticket]]:
    """The transfer's tickets with what became of each (read with the transfer's own store)."""
    return list(db.session.execute(
        select(TransferItem, Ticket).join(Ticket, Ticket.id == TransferItem.ticket_id)
        .where(TransferItem.transfer_id == transfer.id,
               TransferItem.store_id == transfer.store_id)
        .order_by(TransferItem.id).execution_options(readable=True)).all())


def of_ticket(ticket: Ticket) -> list[tuple[Transfer, TransferItem]]:
    """Every transfer this ticket was part of, newest first, with what became of it there
    (for the ticket's detail page)."""
    return list(db.session.execute(
        select(Transfer, TransferItem).join(TransferItem, TransferItem.transfer_id == Transfer.id)
        .where(TransferItem.ticket_id == ticket.id, Transfer.store_id == ticket.store_id)
        .order_by(Transfer.created_at.desc(), Transfer.id.desc())).all())
