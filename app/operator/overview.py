"""平台總覽: the operator's first page — how many stores, today's volume across stores (tickets
issued, redeemed, returned on this Taipei business day), entries the bank rejected still
waiting, scheduled job runs failed in the last FAILED_JOBS_HOURS hours, and the outbox backlog
(messages queued or failed). Each figure is one COUNT.
"""

from __future__ import annotations

from datetime import timedelta

from flask import url_for
from sqlalchemy import func, select

from app import clock, jobs
from app.auth.access import operator_required
from app.db import db
from app.escrow.models import BankInstruction, InstructionStatus
from app.home.pending import PERIODS_WAITING, WAITING
from app.htmx import render
from app.installments.models import InstallmentPeriod
from app.notifications.models import Message, MessageStatus
from app.operator.blueprint import bp
from app.stores.models import Store
from app.tickets.models import Ticket

FAILED_JOBS_HOURS = 24


def _count(stmt) -> int:  # noqa: ANN001
    return int(db.session.scalar(stmt.execution_options(unscoped=True)) or 0)


def figures() -> list[tuple[str, str, int, str]]:
    """(key, label, value, link) of the overview, in the order shown."""
    start = clock.day_start(clock.business_day())
    now = clock.now()
    one = func.count()
    tickets = select(one).select_from(Ticket)
    rejected = sum(_count(select(one).select_from(BankInstruction).join(model, model.id == column)
                          .where(BankInstruction.status == InstructionStatus.REJECTED,
                                 model.status.in_(statuses)))
                   for model, column, statuses in (
                       (Ticket, BankInstruction.ticket_id, WAITING),
                       (InstallmentPeriod, BankInstruction.period_id, PERIODS_WAITING)))
    return [
        ("stores", "商店數", _count(select(one).select_from(Store)), url_for("operator.stores")),
        ("issued", "今日發行張數", _count(tickets.where(Ticket.issued_at >= start)), ""),
        ("redeemed", "今日核銷張數", _count(tickets.where(Ticket.redeemed_at >= start)), ""),
        ("returned", "今日退貨張數", _count(tickets.where(Ticket.returned_at >= start)), ""),
        ("rejected", "銀行拒絕待處理", rejected,
         url_for("escrow.instructions", status=InstructionStatus.REJECTED.value)),
        ("failed_jobs", f"近{FAILED_JOBS_HOURS}小時失敗排程",
         _count(select(one).select_from(jobs.ScheduledRun).where(
             jobs.ScheduledRun.status == "failed",
             jobs.ScheduledRun.created_at >= now - timedelta(hours=FAILED_JOBS_HOURS))),
         url_for("operator.scheduled_runs")),
        ("outbox", "寄件匣待發送／失敗",
         _count(select(one).select_from(Message).where(
             Message.status.in_((MessageStatus.QUEUED, MessageStatus.FAILED)))),
         url_for("notifications.outbox")),
    ]


@bp.get("/overview")
@operator_required
def overview():
    return render("operator/overview.html", figures=figures(), today=clock.business_day())
