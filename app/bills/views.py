"""The merchant's billing pages (六 帳單報表): 6-1 應繳費用, 6-2 帳單報表 and each bill's detail,
6-3 退貨作業費報表 and the 撥款對帳報表. All read only, all need 帳單報表 (view).

A bill belongs to one store. A parent store acting as itself may pick one of its children
(`?store=`) and read that store's bills and reports; it never acts on them (nothing here acts).
Any other store, or a month the store was not billed for, is 404.
"""

from __future__ import annotations

from flask import abort, current_app, g, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from app import clock, listing
from app.auth.access import mode_of, requires
from app.auth.permissions import Function
from app.bills import columns as cols
from app.bills import queries, rules, services
from app.bills.blueprint import bp
from app.columns import xlsx_response
from app.db import db
from app.errors import InvalidInput
from app.forms import strip
from app.htmx import redirect_to, render
from app.pagination import paginate_rows
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Store

INSTALLMENT = "installment"
BAD_MONTH = "月份格式錯誤，請輸入 YYYY-MM"
MONTHS_BACKWARDS = "起始月份不可晚於結束月份"


class PeriodForm(FlaskForm):
    """A query by days (6-3, 撥款對帳報表): GET, no CSRF."""

    class Meta:
        csrf = False

    start = StringField("查詢日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("查詢日期（迄）", filters=[strip], validators=[Length(max=10)])
    merchant_order_no = StringField("廠商訂單編號", filters=[strip], validators=[Length(max=25)])


class MonthForm(FlaskForm):
    """6-2 帳單報表: an optional month range (empty: every month)."""

    class Meta:
        csrf = False

    start = StringField("帳單月份（起）", filters=[strip], validators=[Length(max=7)])
    end = StringField("帳單月份（迄）", filters=[strip], validators=[Length(max=7)])


# The store shown ----------------------------------------------------------------------------------

def _stores() -> dict[int, Store]:
    """The stores the account may read bills of here: the acting one, and a parent's children."""
    return listing.stores_shown() if listing.reads_children() else {g.store.id: g.store}


def _store() -> Store:
    """The store picked by `?store=` (the acting store when none); any other store is 404."""
    picked = request.args.get("store", "").strip()
    if not picked:
        return g.store
    stores = _stores()
    try:
        return stores[int(picked)]
    except (KeyError, ValueError):
        abort(404)


def _context(store: Store, **more: object) -> dict:
    stores = _stores()
    return {"store": store, "stores": list(stores.values()) if len(stores) > 1 else [],
            "read_only": store.id != g.store.id, "mode": mode_of(store),
            "installment": mode_of(store) == INSTALLMENT,
            "store_arg": {"store": store.id} if store.id != g.store.id else {}, **more}


def _excel_name(title: str, store: Store) -> str:
    return f"{title}_{store.merchant_code}_{clock.business_day():%Y%m%d}.xlsx"


def _excel(title: str, store: Store, columns, rows):  # noqa: ANN001, ANN202
    return xlsx_response(_excel_name(title, store), columns, rows, sheet_title=title[:31])


# 6-1 應繳費用 -----------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.BILLING)
def due():
    store = _store()
    bills = queries.bills(store.id)
    standing = queries.standing(store.id, bills)
    latest = bills[-1] if bills else None
    earlier_unpaid = standing.due - latest.amount if latest is not None else 0
    return render("bills/due.html", **_context(
        store, latest=latest, standing=standing, earlier_unpaid=max(earlier_unpaid, 0),
        paid=standing.due == 0, account=current_app.config["BILLING_REMITTANCE_ACCOUNT"]))


# 6-2 帳單報表 -----------------------------------------------------------------------------------

def _month_range(form: MonthForm):  # noqa: ANN202
    if not form.validate():
        raise InvalidInput(listing.first_error(form))
    first = last = None
    if form.start.data:
        if (first := queries.parse_month(form.start.data)) is None:
            raise InvalidInput(BAD_MONTH, fields={"start": BAD_MONTH})
    if form.end.data:
        if (last := queries.parse_month(form.end.data)) is None:
            raise InvalidInput(BAD_MONTH, fields={"end": BAD_MONTH})
    if first and last and first > last:
        raise InvalidInput(MONTHS_BACKWARDS, fields={"start": MONTHS_BACKWARDS})
    return first, last


@bp.get("/bills")
@requires(Function.BILLING)
@offers_saved_filters(MonthForm)
def bills():
    store = _store()
    form = MonthForm(formdata=request.args)
    context = _context(store, form=form, columns=cols.BILL_COLUMNS, rows=[], error=None)
    try:
        first, last = _month_range(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("bills/bills.html", **context), 422
    rows = queries.bill_rows(store.id, first, last)
    if listing.excel_asked():
        return _excel("帳單報表", store, cols.BILL_COLUMNS, rows)
    context["rows"] = rows
    return render("bills/bills.html", **context)


def _behind(store: Store, kind_items: list[queries.Item], month) -> dict:  # noqa: ANN001
    """The rows behind each item that has lines (which tickets, SMS, prints, batches)."""
    kinds = {item.kind.value for item in kind_items if item.lines}
    first, last = rules.month_days(month)
    behind: dict = {}
    if "return" in kinds:
        stmt = queries.return_fee_rows(store.id, first, last)
        behind["return"] = db.session.execute(stmt.limit(queries.BEHIND_LIMIT)).all()
    if "serial" in kinds:
        behind["serial"] = queries.serial_charges(store.id, month)
    if "paper_print" in kinds:
        behind["paper_print"] = queries.print_charges(store.id, month)
    if "sms" in kinds:
        behind["sms"] = db.session.execute(queries.sms_messages(store.id, month)
                                           .limit(queries.BEHIND_LIMIT)).all()
    return behind


@bp.get("/bills/<month>")
@requires(Function.BILLING)
def bill(month: str):
    store = _store()
    first = queries.parse_month(month)
    found = queries.bill_of(store.id, first) if first is not None else None
    if found is None or found.store_id != store.id:
        abort(404)
    mode = mode_of(store)
    items, adjustments = queries.items(found, mode)
    if listing.excel_asked():
        rows = [(item.label, line) for item in items for line in (item.lines or [None])]
        rows += [("調整", line) for line in adjustments]
        return _excel(f"帳單明細_{queries.month_text(found.month)}", store, cols.LINE_COLUMNS, rows)
    store_bills = queries.bills(store.id)
    months = [b.month for b in store_bills][::-1]
    standing = queries.standing(store.id, store_bills)
    first_day, last_day = rules.month_days(found.month)
    return render("bills/bill.html", **_context(
        store, bill=found, status=services.status_of(found, standing), items=items,
        adjustments=adjustments, months=months,
        behind=_behind(store, items, found.month), limit=queries.BEHIND_LIMIT,
        first_day=first_day, last_day=last_day, columns=cols.LINE_COLUMNS,
        line_days=queries.line_days, line_rate=queries.line_rate, fee_text=queries.fee_text,
        rate_text=queries.rate_text, month_text=queries.month_text))


@bp.get("/bills/go")
@requires(Function.BILLING)
def bill_go():
    """The detail's month selector (a GET form): to the picked month's detail."""
    store = _store()
    first = queries.parse_month(request.args.get("month"))
    if first is None or queries.bill_of(store.id, first) is None:
        abort(404)
    args = {"store": store.id} if store.id != g.store.id else {}
    return redirect_to(url_for("billing.bill", month=queries.month_text(first), **args))


# 6-3 退貨作業費報表 -------------------------------------------------------------------------------

@bp.get("/return-fees")
@requires(Function.BILLING)
@offers_saved_filters(PeriodForm)
def return_fees():
    store = _store()
    installment = mode_of(store) == INSTALLMENT
    columns = cols.ORDER_FEE_COLUMNS if installment else cols.TICKET_FEE_COLUMNS
    form = PeriodForm(formdata=request.args)
    context = _context(store, form=form, columns=columns, page=None, error=None, totals=None,
                       fee_text=queries.fee_text)
    try:
        start, end = listing.checked_period(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("bills/return_fees.html", **context), 422
    stmt = queries.return_fee_rows(store.id, start, end)
    if listing.excel_asked():
        return _excel("退貨作業費報表", store, columns, db.session.execute(stmt))
    context.update(page=paginate_rows(stmt), totals=queries.return_fee_totals(store.id, start, end))
    return render("bills/return_fees.html", **context)


# 撥款對帳報表 ------------------------------------------------------------------------------------

@bp.get("/payouts")
@requires(Function.BILLING)
@offers_saved_filters(PeriodForm)
def payouts():
    store = _store()
    form = PeriodForm(formdata=request.args)
    context = _context(store, form=form, columns=cols.PAYOUT_COLUMNS,
                       day_columns=cols.PAYOUT_DAY_COLUMNS, page=None, error=None, days=[],
                       total=None)
    try:
        start, end = listing.checked_period(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("bills/payouts.html", **context), 422
    flt = queries.PayoutFilter(store.id, start, end, form.merchant_order_no.data or "")
    if listing.excel_asked():
        if request.args.get("sheet") == "days":
            return _excel("撥款對帳報表_每日合計", store, cols.PAYOUT_DAY_COLUMNS,
                          queries.payout_days(flt))
        return _excel("撥款對帳報表", store, cols.PAYOUT_COLUMNS,
                      db.session.execute(queries.payout_rows(flt)))
    days = queries.payout_days(flt)
    context.update(page=paginate_rows(queries.payout_rows(flt)), days=days,
                   total=queries.payout_total(days))
    return render("bills/payouts.html", **context)
