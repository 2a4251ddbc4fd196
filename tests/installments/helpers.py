"""Readers for the installment tests."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.escrow.models import BankInstruction, LedgerEntry
from app.history import HistoryEntry
from app.installments.models import InstallmentOrder, InstallmentPeriod


def reload(order: InstallmentOrder) -> InstallmentOrder:
    db.session.expire_all()
    found = db.session.get(InstallmentOrder, order.id)
    assert found is not None
    return found


def statuses(order: InstallmentOrder) -> list[str]:
    return [p.status.value for p in reload(order).periods]


def ledger(period: InstallmentPeriod) -> list[tuple[str, int]]:
    return [(e.kind.value, e.amount) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.period_id == period.id).order_by(LedgerEntry.id))]


def instructions(period: InstallmentPeriod) -> list[tuple[str, str, int, int]]:
    return [(i.kind.value, i.status.value, i.amount, i.fee) for i in db.session.scalars(
        select(BankInstruction).where(BankInstruction.period_id == period.id)
        .order_by(BankInstruction.id))]


def history(order: InstallmentOrder, action: str | None = None) -> list[HistoryEntry]:
    stmt = select(HistoryEntry).where(HistoryEntry.subject_type == "installment_orders",
                                      HistoryEntry.subject_id == order.id)
    if action:
        stmt = stmt.where(HistoryEntry.action == action)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.id)))
