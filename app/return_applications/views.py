"""電子票券退貨申請: the consumers' return applications (docs/consumers.md), and the two ways to handle
one: 退貨 (the normal return of 7-3 G, through the ticket service, with the counter's reason,
handling fee and messages; the application becomes 已退貨) or 不予退貨 with a reason (the
applicant is e-mailed).

Listing needs 票券退貨 at 查詢; acting needs it at 修改, and the return itself still goes
through the product's return-branch rules (app.products.access) inside the ticket service.
A parent store acting as itself reads its children's applications but cannot handle them.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from sqlalchemy import select

from app import clock, listing
from app.auth.access import acting_account, may, requires
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.columns import Column
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.orders.rules import mask_mobile
from app.pagination import paginate_rows
from app.return_applications import queries, services
from app.return_applications.forms import ApplicationQueryForm, DeclineForm, ReturnForm
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Store
from app.tenancy import get_owned_or_404
from app.tickets import actions, lifecycle
from app.tickets.actions import TicketRefused
from app.tickets.lifecycle import Action
from app.tickets.models import Order, Ticket
from app.web import committed

bp = Blueprint("return_applications", __name__, url_prefix="/return-applications")

FEE_REFUSALS = {lifecycle.FEE_NOT_ALLOWED.code, lifecycle.FEE_ABOVE_FACE_VALUE.code,
                lifecycle.FEE_NEGATIVE.code}
STATUS_COLOURS = {ApplicationStatus.PENDING: "warning", ApplicationStatus.RETURNED: "secondary",
                  ApplicationStatus.DECLINED: "dark"}


# 查詢 ---------------------------------------------------------------------------------------

def columns(stores: dict[int, Store], *, show_store: bool) -> tuple[Column, ...]:
    """The list and its Excel (rows of queries.application_rows). The store's code is in the
    Excel always, on the page only for a parent reading its children."""
    def store(r) -> Store | None:  # noqa: ANN001
        return stores.get(r.ReturnApplication.store_id)

    return (
        Column("store", "商店代號", lambda r: store(r).merchant_code if store(r) else "",
               excel_only=not show_store, shown=lambda r: store(r).label if store(r) else ""),
        Column("created_at", "申請時間", lambda r: r.ReturnApplication.created_at, "datetime"),
        Column("order_no", "ECT訂單編號", lambda r: r.order_no),
        Column("serial", "票券序號", lambda r: r.Ticket.serial, "code"),
        Column("product", "商品", lambda r: r.product_name),
        Column("face_value", "面額", lambda r: r.Ticket.face_value, "money"),
        Column("applicant_name", "申請人姓名", lambda r: r.ReturnApplication.applicant_name),
        Column("applicant_mobile", "申請人手機", lambda r: r.ReturnApplication.applicant_mobile,
               shown=lambda r: mask_mobile(r.ReturnApplication.applicant_mobile)),
        Column("applicant_email", "申請人 Email", lambda r: r.ReturnApplication.applicant_email,
               excel_only=True),
        Column("reason", "退貨原因", lambda r: r.ReturnApplication.reason, width=40),
        Column("status", "處理狀態", lambda r: r.ReturnApplication.status.label),
        Column("ticket_status", "目前票券狀態", lambda r: r.Ticket.current_status, "status"),
        Column("handled_at", "處理時間", lambda r: r.ReturnApplication.handled_at, "datetime"),
        Column("decline_reason", "不予退貨原因", lambda r: r.ReturnApplication.decline_reason,
               width=40),
    )


@bp.get("/")
@requires(Function.RETURN)
@offers_saved_filters(ApplicationQueryForm)
def index():
    form = ApplicationQueryForm(formdata=request.args)
    readable = listing.reads_children()
    context = {"form": form, "page": None, "error": None, "colours": STATUS_COLOURS,
               "columns": columns(listing.stores_shown(), show_store=readable),
               "show_store": readable, "may_modify": may(Function.RETURN, Level.MODIFY)}
    try:
        start, end = listing.checked_period(form, narrowed=form.searches_few())
    except InvalidInput as err:
        context["error"] = err.message
        return render("return_applications/index.html", **context), 422
    flt = queries.ApplicationFilter(status=form.chosen_status(), order_no=form.order_no.data or "",
                                    serial=form.serial.data or "", start=start, end=end,
                                    readable=readable)
    if listing.excel_asked():
        rows = db.session.execute(queries.application_rows(flt).execution_options(yield_per=500))
        return listing.excel("電子票券退貨申請", context["columns"], rows)
    context.update(page=paginate_rows(queries.application_rows(flt)))
    return render("return_applications/index.html", **context)


# 處理：退貨／不予退貨 ------------------------------------------------------------------------

def _ticket_of(application: ReturnApplication) -> Ticket:
    ticket = db.session.get(Ticket, application.ticket_id, execution_options={"readable": True})
    if ticket is None or ticket.store_id != application.store_id:
        abort(404)
    return ticket


def _detail(application: ReturnApplication, *, return_form: ReturnForm | None = None,
            decline_form: DeclineForm | None = None, error: str | None = None,
            status: int = 200):  # noqa: ANN202
    ticket = _ticket_of(application)
    now = clock.now()
    status_now = actions.effective_status(ticket, now)
    own = application.store_id == g.store.id
    pending = application.status is ApplicationStatus.PENDING
    actor = acting_account()
    handling = services.handling_refusal(actor, g.store, ticket) if own else None
    return_refusal = actions.refusal(Action.RETURN, actor, g.store, ticket, now) if own else None
    handled_by = (db.session.get(Account, application.handled_by_id,
                                 execution_options={"unscoped": True})
                  if application.handled_by_id else None)
    order = db.session.get(Order, application.order_id, execution_options={"readable": True})
    return render(
        "return_applications/detail.html", application=application, ticket=ticket, order=order,
        status_now=status_now, own=own, pending=pending, handling_refusal=handling,
        return_refusal=return_refusal, handled_by=handled_by, error=error,
        may_modify=may(Function.RETURN, Level.MODIFY), colours=STATUS_COLOURS,
        store=listing.stores_shown().get(application.store_id),
        fee_allowed=actions.fee_allowed(ticket, now),
        return_form=return_form or ReturnForm(formdata=None, data={
            "seen": status_now.value, "reason": application.reason}),
        decline_form=decline_form or DeclineForm(formdata=None)), status


@bp.get("/<int:application_id>")
@requires(Function.RETURN)
def detail(application_id: int):
    return _detail(get_owned_or_404(ReturnApplication, application_id, readable=True))


def _locked(application_id: int) -> ReturnApplication:
    """The acting store's application, locked for this transaction (a return and a decline of
    the same application, or two of either, are serialised); anything else is 404."""
    get_owned_or_404(ReturnApplication, application_id)
    return db.session.scalar(
        select(ReturnApplication).where(ReturnApplication.id == application_id)
        .with_for_update().execution_options(populate_existing=True))


def _reloaded(application_id: int) -> ReturnApplication:
    db.session.expire_all()
    return db.session.get(ReturnApplication, application_id)


@bp.post("/<int:application_id>/return")
@requires(Function.RETURN, Level.MODIFY)
def return_ticket(application_id: int):
    application = _locked(application_id)
    form = ReturnForm()
    if not form.validate_on_submit():
        return _detail(application, return_form=form, status=422)
    if application.status is not ApplicationStatus.PENDING:
        return _detail(application, error=services.NOT_PENDING, status=409)
    ticket = _ticket_of(application)
    with committed(form) as outcome:
        done = actions.perform(Action.RETURN, acting_account(), g.store, ticket,
                               seen=form.seen.data or "", reason=form.reason.data or "",
                               fee=form.fee.data)
    if outcome.refused:
        application, err = _reloaded(application_id), outcome.refusal
        if isinstance(err, TicketRefused) and err.code in FEE_REFUSALS:
            form.fee.errors = [err.message]
            return _detail(application, return_form=form, status=422)
        if isinstance(err, actions.CardStale):  # show the fresh status, the form refilled
            return _detail(application, error=err.message, status=err.status)
        return _detail(application, return_form=form, error=outcome.error, status=outcome.status)
    flash(f"{done.message}；退貨申請已標記為已退貨", "success")
    return redirect_to(url_for("return_applications.detail", application_id=application_id))


@bp.post("/<int:application_id>/decline")
@requires(Function.RETURN, Level.MODIFY)
def decline(application_id: int):
    application = _locked(application_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _detail(application, decline_form=form, status=422)
    with committed(form) as outcome:
        services.decline(acting_account(), g.store, application.id, reason=form.reason.data)
    if outcome.refused:
        return _detail(_reloaded(application_id), decline_form=form, error=outcome.error,
                       status=outcome.status)
    told = "，已以 Email 通知申請人" if application.applicant_email else "（申請人未留 Email，請自行通知）"
    flash(f"已設定為不予退貨{told}", "success")
    return redirect_to(url_for("return_applications.detail", application_id=application_id))
