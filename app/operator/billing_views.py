"""The operator's bills and payments (帳單與繳費): who owes what across stores, and one store's
bills with their lines, its payments and adjustments, where a payment or an adjustment is
recorded (`app.bills.services`)."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import clock
from app.auth.access import operator_required
from app.billing.rates import rate_text
from app.billing.rules import percent_text
from app.bills import services as bills
from app.bills.models import Bill, BillAdjustment, Payment
from app.columns import Column, xlsx_response
from app.db import db
from app.errors import InvalidInput
from app.htmx import render
from app.operator import billing
from app.operator.blueprint import bp
from app.operator.forms import AdjustmentForm, PaymentForm
from app.pagination import page_number
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Store
from app.web import saved

PER_PAGE = 50


def _month(row: billing.StoreStanding) -> str:
    return f"{row.month:%Y/%m}" if row.month else ""


BILLS_COLUMNS = (  # the page and its Excel: rows of billing.StoreStanding
    Column("merchant_code", "商店代號", lambda r: r.store.merchant_code, "code"),
    Column("name", "商店名稱", lambda r: r.store.name, width=24),
    Column("month", "帳單月份", _month),
    Column("amount", "帳單金額", lambda r: r.amount, "money"),
    Column("status", "繳費狀態", lambda r: r.status.label if r.status else ""),
    Column("billed", "累計帳單金額", lambda r: r.billed, "money"),
    Column("paid", "累計繳費金額", lambda r: r.paid, "money"),
    Column("due", "應繳金額", lambda r: r.due, "money"),
)


@bp.get("/bills")
@operator_required
@offers_saved_filters("status", "code", "month")
def bills_overview():
    args = request.args
    status = args.get("status", "") if args.get("status", "") in billing.STATUS_FILTERS else ""
    code = args.get("code", "").strip()[:20]
    month_text = args.get("month", "").strip()[:10]
    shown = {"status": status, "code": code, "month": month_text,
             "statuses": billing.STATUS_FILTERS, "columns": BILLS_COLUMNS}
    try:
        month = billing.parse_month(month_text)
    except InvalidInput as err:
        return render("operator/bills.html", error=err.message, page=None, **shown), 422
    rows = billing.standings(month=month, status=status, code=code)
    if args.get("format") == "xlsx":
        name = f"帳單與繳費_{month:%Y%m}" if month else "帳單與繳費"
        return xlsx_response(f"{name}_{clock.business_day():%Y%m%d}.xlsx", BILLS_COLUMNS, rows,
                             sheet_title="帳單與繳費")
    page = billing.page_of(rows, page_number(), PER_PAGE)
    totals = {"due": sum(r.due for r in rows), "unpaid": sum(1 for r in rows if r.due)}
    return render("operator/bills.html", error=None, page=page, totals=totals, **shown)


# One store's bills, payments and adjustments ---------------------------------------------------

def _store_billing_page(store: Store, payment_form: PaymentForm | None = None,
                        adjustment_form: AdjustmentForm | None = None, status: int = 200):  # noqa: ANN202
    store_bills = list(db.session.scalars(
        select(Bill).where(Bill.store_id == store.id).options(selectinload(Bill.lines))
        .order_by(Bill.month.desc())))
    standing = bills.standing_of(store.id)
    payments = list(db.session.scalars(
        select(Payment).where(Payment.store_id == store.id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())))
    adjustments = list(db.session.scalars(
        select(BillAdjustment).where(BillAdjustment.store_id == store.id)
        .order_by(BillAdjustment.created_at.desc(), BillAdjustment.id.desc())))
    months = {b.id: b.month for b in store_bills}
    return render(
        "operator/store_billing.html", store=store, bills=store_bills, standing=standing,
        statuses={b.id: bills.status_of(b, standing) for b in store_bills},
        billed=sum(b.amount for b in store_bills), paid=sum(p.amount for p in payments),
        payments=payments, adjustments=adjustments, months=months,
        payment_form=payment_form or PaymentForm(prefix="payment", formdata=None),
        adjustment_form=adjustment_form or AdjustmentForm(prefix="adjustment", formdata=None),
        percent_text=percent_text, rate_text=rate_text,
    ), status


@bp.get("/stores/<int:store_id>/billing")
@operator_required
def store_billing(store_id: int):
    return _store_billing_page(db.get_or_404(Store, store_id))


def _to_billing(store: Store) -> str:
    return url_for("operator.store_billing", store_id=store.id)


@bp.post("/stores/<int:store_id>/billing/payments")
@operator_required
def record_payment(store_id: int):
    store = db.get_or_404(Store, store_id)
    form = PaymentForm(prefix="payment")
    if done := saved(form, lambda: bills.record_payment(
            current_user, store, amount=form.amount.data, paid_on=form.paid_on.data,
            reference=form.reference.data or "", note=form.note.data or ""),
            done=lambda p: f"已登錄繳費 NT${p.amount:,}（{p.paid_on:%Y/%m/%d}）",
            to=lambda _: _to_billing(store) + "#payments", refusals=InvalidInput,
            refusal_on_form=True):
        return done
    return _store_billing_page(store, payment_form=form, status=422)


@bp.post("/stores/<int:store_id>/billing/adjustments")
@operator_required
def record_adjustment(store_id: int):
    store = db.get_or_404(Store, store_id)
    form = AdjustmentForm(prefix="adjustment")
    if done := saved(form, lambda: bills.record_adjustment(
            current_user, store, amount=form.amount.data, reason=form.reason.data or ""),
            done=lambda a: f"已登錄帳單調整 {'+' if a.amount > 0 else '-'}NT${abs(a.amount):,}，"
                           "將列入下期帳單",
            to=lambda _: _to_billing(store) + "#adjustments", refusals=InvalidInput,
            refusal_on_form=True):
        return done
    return _store_billing_page(store, adjustment_form=form, status=422)
