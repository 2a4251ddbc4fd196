"""The operator's view of the nightly bank escrow sync (價金保管同步): every run with what it
sent and the bank's answers, entries the bank rejected across runs, a forced re-run, and 重新送出
of a rejected release or refund (`app.escrow.resend`).

A re-run commits as the job does (app.escrow.jobs commits each step before it calls the bank),
so this view does not commit itself; a resend is committed here.
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased

from app import clock
from app.auth.access import operator_required
from app.db import db
from app.errors import DomainError
from app.escrow import resend as resending
from app.escrow.forms import RerunForm
from app.escrow.jobs import sync_night
from app.escrow.models import (
    BankInstruction,
    BankSyncRun,
    InstructionKind,
    InstructionStatus,
    SyncRunStatus,
)
from app.htmx import redirect_to, render
from app.installments.models import InstallmentPeriod
from app.installments.status import PeriodStatus
from app.pagination import paginate
from app.stores.models import Store
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus

bp = Blueprint("escrow", __name__, url_prefix="/operator/escrow")

PER_PAGE = 50
RUN_COLOURS = {SyncRunStatus.RUNNING: "info", SyncRunStatus.DONE: "success",
               SyncRunStatus.FAILED: "danger"}
INSTRUCTION_COLOURS = {InstructionStatus.PENDING: "warning",
                       InstructionStatus.ACKNOWLEDGED: "success",
                       InstructionStatus.REJECTED: "danger"}
TRIGGER_LABELS = {"schedule": "排程", "manual": "手動重新執行", "retry": "中斷後自動重新執行"}
# Rejected entries still waiting: the ticket has not moved on since the bank refused.
WAITING = (TicketStatus.REDEEMING, TicketStatus.RETURNING)
PERIODS_WAITING = (PeriodStatus.REDEEMING, PeriodStatus.RETURNING)
Later = aliased(BankInstruction)  # a later instruction of the same kind: the rejected one was resent


def _choice(value: str, enum_cls):  # noqa: ANN001, ANN202
    try:
        return enum_cls(value) if value else None
    except ValueError:
        return None


def _instruction_page(stmt):  # noqa: ANN001, ANN202
    """A page of instructions with what the table shows next to each: the ticket (serial,
    current status), the store and the run's day."""
    page = paginate(stmt.order_by(BankInstruction.id.desc()), per_page=PER_PAGE,
                    max_per_page=PER_PAGE)
    ticket_ids = {i.ticket_id for i in page.items if i.ticket_id is not None}
    period_ids = {i.period_id for i in page.items if i.period_id is not None}
    store_ids = {i.store_id for i in page.items}
    run_ids = {i.run_id for i in page.items}
    tickets = {row.id: row for row in db.session.execute(
        select(Ticket.id, Ticket.serial, Ticket.status).where(Ticket.id.in_(ticket_ids))
        .execution_options(unscoped=True))} if ticket_ids else {}
    periods = {row.id: row for row in db.session.execute(
        select(InstallmentPeriod.id, InstallmentPeriod.serial, InstallmentPeriod.status)
        .where(InstallmentPeriod.id.in_(period_ids)).execution_options(unscoped=True))} \
        if period_ids else {}
    # what each instruction moves: a ticket, or an installment period (分期)
    subjects = {i.id: tickets.get(i.ticket_id) if i.ticket_id is not None else periods.get(i.period_id)
                for i in page.items}
    stores = {row.id: row for row in db.session.execute(
        select(Store.id, Store.merchant_code, Store.name).where(Store.id.in_(store_ids)))} \
        if store_ids else {}
    days = dict(db.session.execute(
        select(BankSyncRun.id, BankSyncRun.business_day).where(BankSyncRun.id.in_(run_ids))).all()) \
        if run_ids else {}
    return page, {"subjects": subjects, "stores": stores, "days": days,
                  "resendable": resending.resendable(page.items)}


def _filters(args=None) -> tuple[dict[str, str], list]:  # noqa: ANN001
    args = request.args if args is None else args
    status = _choice(args.get("status", ""), InstructionStatus)
    kind = _choice(args.get("kind", ""), InstructionKind)
    serial = args.get("serial", "").strip().upper()[:16]
    conditions = []
    if status is not None:
        conditions.append(BankInstruction.status == status)
    if kind is not None:
        conditions.append(BankInstruction.kind == kind)
    if serial:
        conditions.append(or_(
            BankInstruction.ticket_id.in_(select(Ticket.id).where(Ticket.serial == serial)
                                          .execution_options(unscoped=True)),
            BankInstruction.period_id.in_(select(InstallmentPeriod.id)
                                          .where(InstallmentPeriod.serial == serial)
                                          .execution_options(unscoped=True))))
    return ({"status": status.value if status else "", "kind": kind.value if kind else "",
             "serial": serial}, conditions)


def _common() -> dict:
    return {"run_colours": RUN_COLOURS, "instruction_colours": INSTRUCTION_COLOURS,
            "trigger_labels": TRIGGER_LABELS, "InstructionStatus": InstructionStatus,
            "InstructionKind": InstructionKind, "SyncRunStatus": SyncRunStatus}


@bp.get("/")
@operator_required
def runs():
    page = paginate(select(BankSyncRun).order_by(BankSyncRun.business_day.desc(),
                                                 BankSyncRun.id.desc()),
                    per_page=30, max_per_page=30)
    waiting = sum(db.session.scalar(
        select(func.count()).select_from(BankInstruction).join(model, model.id == column)
        .where(BankInstruction.status == InstructionStatus.REJECTED, model.status.in_(statuses),
               ~exists().where(Later.kind == BankInstruction.kind, Later.id > BankInstruction.id,
                               later_column == column))
        .execution_options(unscoped=True)) or 0
        for model, column, later_column, statuses in (
            (Ticket, BankInstruction.ticket_id, Later.ticket_id, WAITING),
            (InstallmentPeriod, BankInstruction.period_id, Later.period_id, PERIODS_WAITING)))
    pending = db.session.scalar(select(func.count()).select_from(BankInstruction).where(
        BankInstruction.status == InstructionStatus.PENDING)) or 0
    return render("escrow/runs.html", page=page, form=RerunForm(day=clock.business_day()), waiting=waiting,
                  pending=pending, **_common())


@bp.get("/runs/<int:run_id>")
@operator_required
def run_detail(run_id: int):
    run = db.get_or_404(BankSyncRun, run_id)
    filters, conditions = _filters()
    page, related = _instruction_page(
        select(BankInstruction).where(BankInstruction.run_id == run.id, *conditions))
    return render("escrow/run.html", run=run, page=page, filters=filters, **related, **_common())


@bp.get("/instructions")
@operator_required
def instructions():
    filters, conditions = _filters()
    page, related = _instruction_page(select(BankInstruction).where(*conditions))
    return render("escrow/instructions.html", page=page, filters=filters, **related, **_common())


@bp.post("/rerun")
@operator_required
def rerun():
    form = RerunForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "danger")
        return redirect_to(url_for("escrow.runs"))
    outcome = sync_night(form.day.data, trigger="manual", force=True)
    run = outcome.run
    if not outcome.ran:
        flash(f"{run.business_day:%Y/%m/%d} 的同步正在執行中（#{run.id}），請稍後再試", "warning")
    elif run.status is SyncRunStatus.DONE:
        flash(f"已重新執行 {run.business_day:%Y/%m/%d} 的價金保管同步（#{run.id}）", "success")
    else:
        flash(f"{run.business_day:%Y/%m/%d} 的價金保管同步失敗（#{run.id}）：{run.error}", "danger")
    return redirect_to(url_for("escrow.run_detail", run_id=run.id))


def _back() -> str:
    """Back to the instructions page with the filters the form carried."""
    filters = {name: request.form.get(name, "")[:20] for name in ("status", "kind", "serial")}
    return url_for("escrow.instructions", **{k: v for k, v in filters.items() if v})


@bp.post("/instructions/<int:instruction_id>/resend")
@operator_required
def resend(instruction_id: int):
    """重新送出 one rejected release or refund: queued for the next sync (or a forced re-run)."""
    db.get_or_404(BankInstruction, instruction_id)
    try:
        done = resending.resend(instruction_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect_to(_back())
    db.session.commit()
    flash(f"已重新送出 {done.serial} 的交易（{done.key}），將隨下一次價金保管同步送交銀行；"
          "如需立即送出，請至價金保管同步重新執行今日的同步", "success")
    return redirect_to(_back())


@bp.post("/instructions/resend")
@operator_required
def resend_filtered():
    """重新送出 every rejected entry still waiting among those the filters select (at most
    BATCH_LIMIT), each in its own transaction so one refused leaves the others queued."""
    _, conditions = _filters(request.form)
    candidates = db.session.scalars(
        select(BankInstruction.id).where(*conditions,
                                         BankInstruction.status == InstructionStatus.REJECTED)
        .order_by(BankInstruction.id).limit(resending.BATCH_LIMIT * 4)).all()
    ids = resending.waiting_ids(candidates)[:resending.BATCH_LIMIT]
    db.session.commit()
    done, refused = 0, []
    for instruction_id in ids:
        try:
            resending.resend(instruction_id)
        except DomainError as exc:
            db.session.rollback()
            refused.append(exc.message)
            continue
        db.session.commit()
        done += 1
    if not ids:
        flash("沒有可重新送出的銀行拒絕交易", "warning")
    elif done:
        flash(f"已重新送出 {done} 筆銀行拒絕的交易，將隨下一次價金保管同步送交銀行", "success")
    for message in refused[:5]:
        flash(message, "danger")
    return redirect_to(_back())
