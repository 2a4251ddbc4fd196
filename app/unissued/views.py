"""7-2 未發行訂單管理: the store's ticket orders paid by card and not yet issued. Query them,
open one's cardholder details, tick the issuable ones and 【輸出票券發行檔】 (an issuance file the
batch upload takes), or abandon an authorisation. Another store's order is 404."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from app import clock, history, listing
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.bounds import whole_number
from app.checkout.models import TransactionStatus
from app.checkout.rules import masked_card
from app.db import db
from app.errors import InvalidInput
from app.forms import strip
from app.htmx import redirect_to, render
from app.issuance.template import ORDERS_FILENAME
from app.pagination import paginate
from app.spreadsheets import workbook_response
from app.tenancy import get_owned_or_404
from app.unissued import queries, rules, services
from app.unissued.columns import COLUMNS
from app.unissued.models import TicketOrder
from app.web import committed

bp = Blueprint("unissued", __name__, url_prefix="/unissued-orders")

EXCEL_TITLE = "未發行訂單"
MAX_SELECTED = 500
BAD_SELECTION = f"勾選的訂單有誤（一次最多 {MAX_SELECTED} 筆），請重新勾選"


class QueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("交易日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("交易日期（迄）", filters=[strip], validators=[Length(max=10)])
    state = SelectField("狀態", choices=[SelectChoice(v, label) for v, label in queries.STATES],
                        default="unissued", validate_choice=True)
    order_no = StringField("訂單編號", filters=[strip], validators=[Length(max=20)])
    holder = StringField("持卡人姓名或手機", filters=[strip], validators=[Length(max=50)])


@bp.get("/")
@requires(Function.UNISSUED_ORDERS)
def index():
    form = QueryForm(formdata=request.args)
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None,
               "may_modify": may(Function.UNISSUED_ORDERS, Level.MODIFY),
               "today": clock.business_day(), "rules": rules}
    try:
        start, end = listing.checked_period(form, narrowed=bool(form.order_no.data),
                                            default_days=rules.CANCEL_DAYS + 1)
    except InvalidInput as err:
        context["error"] = err.message
        return render("unissued/index.html", **context), 422
    stmt = queries.ticket_orders(queries.Filter(
        store_id=g.store.id, start=start, end=end, order_no=form.order_no.data or "",
        holder=form.holder.data or "", state=form.state.data or "unissued"))
    if listing.excel_asked():
        return listing.excel(EXCEL_TITLE, COLUMNS,
                             db.session.scalars(stmt.execution_options(yield_per=1_000)))
    context["page"] = paginate(stmt)
    return render("unissued/index.html", **context)


def _selected() -> list[int] | None:
    values = request.form.getlist("order_id")
    ids = [whole_number(v, 1) for v in values[:MAX_SELECTED + 1]]
    if len(values) > MAX_SELECTED or any(i is None for i in ids):
        return None
    return list(dict.fromkeys(i for i in ids if i is not None))


def _back():  # noqa: ANN202 - the list as it was, with its filters
    return redirect(url_for("unissued.index", **request.args))


@bp.post("/export")
@requires(Function.UNISSUED_ORDERS, Level.MODIFY)
def export():
    """【輸出票券發行檔】 of the ticked orders, all issuable."""
    ids = _selected()
    if ids is None:
        flash(BAD_SELECTION, "danger")
        return _back()
    with committed() as outcome:
        data = services.export(g.store.id, ids)
    if outcome.refused:
        outcome.flash_error()
        return _back()
    return workbook_response(ORDERS_FILENAME, data)


@bp.get("/<int:ticket_order_id>")
@requires(Function.UNISSUED_ORDERS)
def detail(ticket_order_id: int):
    """【明細】: the order's cardholder, deadlines and history."""
    row = get_owned_or_404(TicketOrder, ticket_order_id)
    today = clock.business_day()
    txn = row.transaction
    return render("unissued/detail.html", row=row, txn=txn, rules=rules, today=today,
                  card=masked_card(txn.card_first6, txn.card_last4),
                  status=rules.status_label(row.state, row.paid_on, today),
                  may_abandon=(may(Function.UNISSUED_ORDERS, Level.MODIFY)
                               and rules.abandonable(row.state, row.paid_on, today)),
                  entries=sorted([*history.entries_for(row), *history.entries_for(txn)],
                                 key=lambda e: (e.at, e.id), reverse=True),
                  status_label=_status_label)


def _status_label(value: str | None) -> str:
    """A history entry's status (the order's or its card transaction's) in words."""
    labels = {s.value: label for s, label in rules.STATE_LABELS.items()} | {
        s.value: s.label for s in TransactionStatus}
    return labels.get(value or "", value or "")


@bp.post("/<int:ticket_order_id>/abandon")
@requires(Function.UNISSUED_ORDERS, Level.MODIFY)
def abandon(ticket_order_id: int):
    """【放棄授權】: through T+29; the card authorisation is released."""
    row = get_owned_or_404(TicketOrder, ticket_order_id, for_update=True)
    with committed() as outcome:
        services.abandon(row)
    if outcome.refused:
        outcome.flash_error()
    else:
        flash(f"訂單 {row.merchant_order_no} 已放棄授權", "success")
    return redirect_to(url_for("unissued.detail", ticket_order_id=ticket_order_id))
