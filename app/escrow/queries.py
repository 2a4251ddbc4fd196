"""Reads of the escrow money ledger for the merchant's screens: one voucher's 價金保管帳 (the
ticket page, the ticket report's row, their Excel) and the amount held in trust per ticket
(the ticket report's 價金保管餘額 column).

A voucher's ledger is two statements whatever its length: its entries, each with what the bank
sync recorded of the instruction behind it (sent, acknowledged, the bank's reference; an
escrow-expiry entry has none: no bank step), and the instructions the bank has not (yet)
acknowledged — waiting for its answer, or refused and not sent again — which are not in the
ledger. The running balance is `app.escrow.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import aliased

from app.db import db
from app.escrow import rules
from app.escrow.models import BankInstruction, InstructionKind, InstructionStatus, LedgerEntry, LedgerKind
from app.products.models import Product, ProductKind
from app.tickets.models import Ticket


@dataclass(frozen=True)
class LedgerLine:
    """One ledger entry of a voucher, with the bank's side of it and the balance after it."""

    id: int
    day: date  # the Taipei business day the entry belongs to
    kind: LedgerKind
    amount: int
    balance: int  # held in trust after this entry
    recorded_at: datetime
    bank_status: InstructionStatus | None  # None: no bank step (escrow expiry)
    bank_ref: str
    sent_at: datetime | None
    answered_at: datetime | None
    serial: str
    product_name: str

    @property
    def change(self) -> int:
        return rules.held_change(self.kind, self.amount)

    @property
    def into_trust(self) -> int | None:
        return self.change if self.change > 0 else None

    @property
    def out_of_trust(self) -> int | None:
        return -self.change if self.change < 0 else None


@dataclass(frozen=True)
class Outstanding:
    """An instruction sent (or about to be sent) to the bank and not acknowledged: waiting for
    the bank's answer, or refused by it and not sent again. Not in the ledger."""

    kind: InstructionKind
    status: InstructionStatus
    amount: int
    fee: int
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    answer: str


@dataclass(frozen=True)
class TicketLedger:
    ticket_id: int
    serial: str
    pickup: bool  # a gift voucher has no escrow, so never a ledger
    lines: list[LedgerLine]
    outstanding: list[Outstanding]

    @property
    def held(self) -> int:
        """What the trust holds for the voucher now (the last line's balance)."""
        return self.lines[-1].balance if self.lines else 0


Later = aliased(BankInstruction, name="later_instruction")


def ticket_ledger(ticket: Ticket) -> TicketLedger:
    """The voucher's 價金保管帳: its ledger entries oldest first (business day, then entry),
    each with its running balance, and its instructions the bank has not acknowledged. Two
    statements; `ticket` must already be loaded through its owner (the caller's scope)."""
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.day, LedgerEntry.kind, LedgerEntry.amount,
               LedgerEntry.created_at, BankInstruction.status, BankInstruction.bank_ref,
               BankInstruction.sent_at, BankInstruction.answered_at, Ticket.serial,
               Product.name)
        .join(Ticket, Ticket.id == LedgerEntry.ticket_id)
        .join(Product, Product.id == Ticket.product_id)
        .outerjoin(BankInstruction, and_(BankInstruction.id == LedgerEntry.instruction_id,
                                         BankInstruction.ticket_id == LedgerEntry.ticket_id))
        .where(LedgerEntry.ticket_id == ticket.id, LedgerEntry.store_id == ticket.store_id)
        .order_by(LedgerEntry.day, LedgerEntry.id)
        .execution_options(unscoped=True)).all()
    balances = rules.running_balances((r.kind, r.amount) for r in rows)
    lines = [LedgerLine(id=r.id, day=r.day, kind=r.kind, amount=r.amount, balance=balance,
                        recorded_at=r.created_at, bank_status=r.status, bank_ref=r.bank_ref or "",
                        sent_at=r.sent_at, answered_at=r.answered_at, serial=r.serial,
                        product_name=r.name)
             for r, balance in zip(rows, balances, strict=True)]
    return TicketLedger(ticket_id=ticket.id, serial=ticket.serial,
                        pickup=ticket.kind is ProductKind.PICKUP, lines=lines,
                        outstanding=_outstanding(ticket))


def _outstanding(ticket: Ticket) -> list[Outstanding]:
    """Instructions of the ticket the bank has not acknowledged: every pending one, and a
    rejected one unless a later instruction of its kind was written (sent again)."""
    resent = (select(Later.id).where(Later.ticket_id == BankInstruction.ticket_id,
                                     Later.kind == BankInstruction.kind,
                                     Later.id > BankInstruction.id)
              .correlate(BankInstruction).exists())
    rows = db.session.scalars(
        select(BankInstruction)
        .where(BankInstruction.ticket_id == ticket.id, BankInstruction.store_id == ticket.store_id,
               BankInstruction.status != InstructionStatus.ACKNOWLEDGED, ~resent)
        .order_by(BankInstruction.id).execution_options(unscoped=True)).all()
    return [Outstanding(kind=i.kind, status=i.status, amount=i.amount, fee=i.fee,
                        created_at=i.created_at, sent_at=i.sent_at, answered_at=i.answered_at,
                        answer=i.answer) for i in rows]


def held_in_escrow() -> Any:
    """SQL: what the trust holds for each ticket of the statement it is put in (correlated to
    `tickets`), the sum of its entries signed by `rules.HELD_SIGN`; NULL for a gift voucher
    (no escrow). A scalar subquery over the ledger's ticket_id index: evaluated for the rows
    read only, so a report page or its Excel costs no statement more per row."""
    change = case(*[(LedgerEntry.kind == kind, LedgerEntry.amount if sign > 0 else -LedgerEntry.amount)
                    for kind, sign in rules.HELD_SIGN.items() if sign], else_=literal(0))
    total = (select(func.coalesce(func.sum(change), 0)).where(LedgerEntry.ticket_id == Ticket.id)
             .correlate(Ticket).scalar_subquery())
    return case((Ticket.kind == ProductKind.PICKUP, total), else_=literal(None))
