"""8-2 未發行訂單: paid card orders the platform has not issued yet, queried by paid date (at
most three months) or merchant order number, each with its cardholder's details (【明細】),
and 【匯出列表】 (the query as Excel). Another store's order is 404."""

from __future__ import annotations

from flask import g, request
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from app import listing
from app.auth.access import requires
from app.auth.permissions import Function
from app.checkout.rules import masked_card
from app.db import db
from app.errors import InvalidInput
from app.forms import strip
from app.htmx import render
from app.installments import queries
from app.installments.blueprint import bp
from app.installments.columns import UNISSUED_COLUMNS
from app.installments.models import UnissuedOrder
from app.pagination import paginate
from app.tenancy import get_owned_or_404

EXCEL_TITLE = "未發行訂單"


class UnissuedQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("付款日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("付款日期（迄）", filters=[strip], validators=[Length(max=10)])
    merchant_order_no = StringField("廠商訂單編號", filters=[strip], validators=[Length(max=25)])


@bp.get("/unissued")
@requires(Function.INSTALLMENT_UNISSUED)
def unissued():
    form = UnissuedQueryForm(formdata=request.args)
    context = {"form": form, "columns": UNISSUED_COLUMNS, "page": None, "error": None}
    try:
        start, end = listing.checked_period(form, narrowed=bool(form.merchant_order_no.data))
    except InvalidInput as err:
        context["error"] = err.message
        return render("installments/unissued.html", **context), 422
    stmt = queries.unissued_orders(queries.UnissuedFilter(
        store_id=g.store.id, start=start, end=end,
        merchant_order_no=form.merchant_order_no.data or ""))
    if listing.excel_asked():
        return listing.excel(EXCEL_TITLE, UNISSUED_COLUMNS,
                             db.session.scalars(stmt.execution_options(yield_per=1_000)))
    context["page"] = paginate(stmt)
    return render("installments/unissued.html", **context)


@bp.get("/unissued/<int:unissued_id>")
@requires(Function.INSTALLMENT_UNISSUED)
def unissued_detail(unissued_id: int):
    """【明細】: the cardholder's details of one paid order (a modal or a page)."""
    row = get_owned_or_404(UnissuedOrder, unissued_id)
    return render("installments/unissued_detail.html", row=row,
                  card=masked_card(row.card_first6, row.card_last4))
