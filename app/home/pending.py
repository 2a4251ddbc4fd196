"""待處理事項: the acting store's work waiting for someone, as counts (home card, 訊息中心, menu
badges).

Each count is one indexed COUNT, run only when the account may act on it (the function that
guards the page the count links to), and computed once per request (kept on `g`). A bound
sub-account (a branch clerk) counts what its branch can act on: failed batches its branch
uploaded and bank-rejected tickets its branch redeemed or returned; return applications and
unissued orders are the store's (any clerk with the right handles them).

What counts:
- 電子票券退貨申請: applications still 待處理.
- 發行失敗: batches that failed in the last RECENT_FAILED_DAYS days.
- 銀行拒絕: escrow instructions the bank rejected whose ticket (or installment period) is still
  核銷中 or 退貨中 (a re-sent entry the bank accepted has moved it on).
- 未發行訂單即將逾期: paid orders not issued whose issuing deadline (paid day + ISSUE_DAYS) is
  within NEAR_DAYS days (and not yet passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import g, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from app import clock
from app.auth.access import may, store_mode
from app.auth.permissions import Function, Level
from app.db import db
from app.escrow.models import BankInstruction, InstructionStatus
from app.installments.models import InstallmentPeriod, UnissuedOrder
from app.installments.status import PeriodStatus
from app.issuance.models import Batch, BatchStatus
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from app.unissued.models import TicketOrder, TicketOrderState

RECENT_FAILED_DAYS = 7
ISSUE_DAYS = 20  # paid on T: issuable through T+20
NEAR_DAYS = 3
WAITING = (TicketStatus.REDEEMING, TicketStatus.RETURNING)
PERIODS_WAITING = (PeriodStatus.REDEEMING, PeriodStatus.RETURNING)


@dataclass(frozen=True)
class Item:
    key: str  # applications / failed_batches / rejected / unissued
    label: str
    count: int
    url: str


def _scalar(stmt) -> int:  # noqa: ANN001
    return int(db.session.scalar(stmt) or 0)


def _branch_id() -> int | None:
    return getattr(current_user, "branch_id", None)


def _applications(store_id: int) -> int:
    return _scalar(select(func.count()).select_from(ReturnApplication).where(
        ReturnApplication.store_id == store_id,
        ReturnApplication.status == ApplicationStatus.PENDING))


def _failed_batches(store_id: int) -> int:
    since = clock.now() - timedelta(days=RECENT_FAILED_DAYS)
    stmt = select(func.count()).select_from(Batch).where(
        Batch.store_id == store_id, Batch.status == BatchStatus.FAILED, Batch.created_at >= since)
    if _branch_id() is not None:
        stmt = stmt.where(Batch.created_branch_id == _branch_id())
    return _scalar(stmt)


def _rejected(store_id: int, installment: bool) -> int:
    rejected = (BankInstruction.status == InstructionStatus.REJECTED,
                BankInstruction.store_id == store_id)
    if installment:
        return _scalar(select(func.count(func.distinct(BankInstruction.period_id)))
                       .join(InstallmentPeriod, InstallmentPeriod.id == BankInstruction.period_id)
                       .where(*rejected, InstallmentPeriod.status.in_(PERIODS_WAITING))
                       .execution_options(unscoped=True))
    stmt = (select(func.count(func.distinct(BankInstruction.ticket_id)))
            .join(Ticket, Ticket.id == BankInstruction.ticket_id)
            .where(*rejected, Ticket.status.in_(WAITING)))
    branch = _branch_id()
    if branch is not None:
        stmt = stmt.where(or_(Ticket.redeemed_branch_id == branch,
                              Ticket.returned_branch_id == branch))
    return _scalar(stmt.execution_options(unscoped=True))


def _unissued(store_id: int) -> int:
    today = clock.business_day()
    # deadline = paid day + ISSUE_DAYS, wanted in [today, today + NEAR_DAYS]
    first = clock.day_start(today - timedelta(days=ISSUE_DAYS))
    last = clock.day_start(today - timedelta(days=ISSUE_DAYS - NEAR_DAYS - 1))
    return _scalar(select(func.count()).select_from(UnissuedOrder).where(
        UnissuedOrder.store_id == store_id, UnissuedOrder.issued_order_id.is_(None),
        UnissuedOrder.paid_at >= first, UnissuedOrder.paid_at < last))


def _unissued_tickets(store_id: int) -> int:
    """Ticket orders paid by card whose last issuing day is within NEAR_DAYS days."""
    today = clock.business_day()
    return _scalar(select(func.count()).select_from(TicketOrder).where(
        TicketOrder.store_id == store_id, TicketOrder.state == TicketOrderState.UNISSUED,
        TicketOrder.paid_on >= today - timedelta(days=ISSUE_DAYS),
        TicketOrder.paid_on <= today - timedelta(days=ISSUE_DAYS - NEAR_DAYS)))


def _compute() -> list[Item]:
    store = g.get("store")
    if store is None or not current_user.is_authenticated or current_user.is_operator:
        return []
    installment = store_mode() == "installment"
    items: list[Item] = []
    if installment:
        if may(Function.INSTALLMENT_UNISSUED, Level.VIEW):
            items.append(Item("unissued", "未發行訂單即將逾期", _unissued(store.id),
                              url_for("installments.unissued")))
        if may(Function.INSTALLMENT_REPORTS, Level.VIEW):
            items.append(Item("rejected", "銀行拒絕待處理", _rejected(store.id, True),
                              url_for("installments.reports")))
        return items
    if may(Function.UNISSUED_ORDERS, Level.VIEW):
        items.append(Item("unissued", "未發行訂單即將逾期", _unissued_tickets(store.id),
                          url_for("unissued.index", state="issuable")))
    if may(Function.RETURN, Level.VIEW):
        items.append(Item("applications", "待處理退貨申請", _applications(store.id),
                          url_for("return_applications.index")))
    if may(Function.ISSUANCE, Level.VIEW):
        items.append(Item("failed_batches", "發行失敗批次", _failed_batches(store.id),
                          url_for("issuance.results")))
    if may(Function.REPORT_TICKETS, Level.VIEW):
        items.append(Item("rejected", "銀行拒絕待處理", _rejected(store.id, False),
                          url_for("reports.tickets")))
    return items


def items() -> list[Item]:
    """The pending-work items the acting account may act on (zero counts included), once per
    request."""
    if "pending_items" not in g:
        g.pending_items = _compute()
    return g.pending_items


def count(key: str) -> int:
    """One item's count (0 when the account has no such item): the menu badge."""
    return next((i.count for i in items() if i.key == key), 0)


def total() -> int:
    return sum(i.count for i in items())
