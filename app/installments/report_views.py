"""8-3 C 分期核銷訂單報表: two tabs, 訂單明細 (orders with their money by group, return data,
history and notes) and 各期序號明細 (every period's serial), each with 下載Excel of its query;
an order's page (its periods, the handling fee's split, history, notes, refund notices).

A query runs on opening the page (the last 30 days issued), so a link such as
`/installments/reports?merchant_order_no=X` (from 訂單退貨) shows that order at once: an exact
merchant or ECT order number, or a serial, needs no period. Every order is loaded through the
acting store (`get_owned_or_404`): another store's order, its history, notes and fee split are
404, and its rows are never listed.
"""

from __future__ import annotations

from flask import flash, g, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app import history, listing
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.daterange import too_long_message
from app.db import db
from app.errors import InvalidInput
from app.forms import strip
from app.htmx import is_fragment_request, redirect_to, render
from app.installments import queries, services
from app.installments.blueprint import bp
from app.installments.columns import ORDER_COLUMNS, PERIOD_COLUMNS
from app.installments.models import InstallmentOrder
from app.installments.queries import OrderState, PeriodDate
from app.installments.status import PeriodGroup, PeriodStatus, guarantee_end_text
from app.pagination import paginate_rows
from app.saved_filters.pages import offers_saved_filters
from app.tenancy import get_owned_or_404
from app.web import committed

TABS = {"orders": "訂單明細", "periods": "各期序號明細"}
TOO_LONG = "查詢範圍不可超過三個月"  # the seed's words for this report
NOTE_ADDED = "備註已新增"
EXCEL_TITLES = {"orders": "分期核銷訂單明細", "periods": "分期核銷各期序號明細"}
YIELD_PER = 1_000  # rows read at a time while an Excel is written
PERIOD_LABELS = {s.value: s.label for s in PeriodStatus}


class OrderQueryForm(FlaskForm):
    """訂單明細's query (GET, no CSRF)."""

    class Meta:
        csrf = False

    start = StringField("發行日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("發行日期（迄）", filters=[strip], validators=[Length(max=10)])
    merchant_order_no = StringField("廠商訂單編號", filters=[strip], validators=[Length(max=25)])
    order_no = StringField("ECT訂單編號", filters=[strip], validators=[Length(max=24)])
    purchaser_name = StringField("購買人姓名", filters=[strip], validators=[Length(max=50)])
    purchaser_mobile = StringField("購買人手機", filters=[strip], validators=[Length(max=20)])
    state = SelectField("訂單狀態", default="", choices=[
        SelectChoice("", "全部"), *[SelectChoice(s.value, s.label) for s in OrderState]])

    def searches_one(self) -> bool:
        """An exact merchant or ECT order number narrows the query by itself."""
        return bool(self.merchant_order_no.data or self.order_no.data)


class PeriodQueryForm(FlaskForm):
    """各期序號明細's query (GET, no CSRF)."""

    class Meta:
        csrf = False

    date_type = SelectField("日期類型", default=PeriodDate.ISSUED.value,
                            choices=[SelectChoice(d.value, d.label) for d in PeriodDate])
    start = StringField("日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("日期（迄）", filters=[strip], validators=[Length(max=10)])
    serial = StringField("序號", filters=[strip], validators=[Length(max=16)])
    merchant_order_no = StringField("廠商訂單編號", filters=[strip], validators=[Length(max=25)])
    status_group = SelectField("序號狀態", default="", choices=[
        SelectChoice("", "全部"), *[SelectChoice(grp.value, grp.label) for grp in PeriodGroup]])
    status = SelectMultipleField("詳細狀態",
                                 choices=[SelectChoice(s.value, s.label) for s in PeriodStatus])

    def searches_one(self) -> bool:
        return bool(self.serial.data or self.merchant_order_no.data)

    def group(self) -> PeriodGroup | None:
        return PeriodGroup(self.status_group.data) if self.status_group.data else None

    def statuses(self) -> tuple[PeriodStatus, ...]:
        """The detailed statuses ticked, within the chosen group (all of its statuses when none
        of them is ticked); empty: every status."""
        ticked = [PeriodStatus(v) for v in self.status.data or []]
        group = self.group()
        if group is None:
            return tuple(ticked)
        return tuple(s for s in ticked if s in group.members) or group.members


class NoteForm(FlaskForm):
    note = TextAreaField("備註", filters=[strip],
                         validators=[DataRequired("請輸入備註內容"),
                                     Length(max=1000, message="備註最多 1000 字")],
                         render_kw={"rows": 3, "maxlength": 1000})


# The report ------------------------------------------------------------------------------------

def _tab() -> str:
    tab = request.args.get("tab", "orders")
    return tab if tab in TABS else "orders"


def _period(form: FlaskForm, narrowed: bool):  # noqa: ANN202
    try:
        return listing.checked_period(form, narrowed=narrowed)
    except InvalidInput as err:
        if err.message == too_long_message(listing.RANGE_MONTHS):
            raise InvalidInput(TOO_LONG, fields=err.fields) from None
        raise


def _order_filter(form: OrderQueryForm) -> queries.OrderFilter:
    start, end = _period(form, form.searches_one())
    return queries.OrderFilter(
        store_id=g.store.id, start=start, end=end,
        merchant_order_no=form.merchant_order_no.data or "", order_no=form.order_no.data or "",
        purchaser_name=form.purchaser_name.data or "",
        purchaser_mobile=form.purchaser_mobile.data or "",
        state=OrderState(form.state.data) if form.state.data else None)


def _period_filter(form: PeriodQueryForm) -> queries.PeriodFilter:
    start, end = _period(form, form.searches_one())
    return queries.PeriodFilter(
        store_id=g.store.id, date_type=PeriodDate(form.date_type.data), start=start, end=end,
        serial=form.serial.data or "", merchant_order_no=form.merchant_order_no.data or "",
        statuses=form.statuses())


def _status_options(group_value: str, ticked: list[str]) -> dict:
    try:
        group = PeriodGroup(group_value) if group_value else None
    except ValueError:
        group = None
    return {"status_choices": group.members if group else tuple(PeriodStatus),
            "status_ticked": set(ticked)}


@bp.get("/reports")
@requires(Function.INSTALLMENT_REPORTS)
@offers_saved_filters(OrderQueryForm, PeriodQueryForm, "tab")
def reports():
    tab = _tab()
    form = (OrderQueryForm if tab == "orders" else PeriodQueryForm)(formdata=request.args)
    columns = ORDER_COLUMNS if tab == "orders" else PERIOD_COLUMNS
    context = {"tab": tab, "TABS": TABS, "form": form, "columns": columns, "page": None,
               "error": None, "may_note": may(Function.INSTALLMENT_REPORTS, Level.MODIFY),
               "may_issue": may(Function.INSTALLMENT_REPORTS, Level.MODIFY),
               **_status_options(request.args.get("status_group", ""),
                                 request.args.getlist("status"))}
    try:
        stmt = (queries.order_rows(_order_filter(form)) if tab == "orders"
                else queries.period_rows(_period_filter(form)))
    except InvalidInput as err:
        context["error"] = err.message
        return render("installments/reports.html", **context), 422
    if listing.excel_asked():
        rows = db.session.execute(stmt.execution_options(yield_per=YIELD_PER))
        return listing.excel(EXCEL_TITLES[tab], columns, rows)
    context["page"] = paginate_rows(stmt)
    return render("installments/reports.html", **context)


@bp.get("/reports/status-options")
@requires(Function.INSTALLMENT_REPORTS)
def report_status_options():
    """The detailed statuses of a status group, for the 各期序號明細 query (HTMX)."""
    return render_template("installments/report_status_options.html",
                           **_status_options(request.args.get("status_group", ""), []))


# One order ----------------------------------------------------------------------------------

def _order_or_404(order_id: int) -> InstallmentOrder:
    return get_owned_or_404(InstallmentOrder, order_id)


def _history_context(order: InstallmentOrder, form: NoteForm | None = None) -> dict:
    return {"order": order, "entries": history.entries_for(order), "period_labels": PERIOD_LABELS,
            "form": form or NoteForm(formdata=None),
            "may_note": may(Function.INSTALLMENT_REPORTS, Level.MODIFY)}


@bp.get("/orders/<int:order_id>")
@requires(Function.INSTALLMENT_REPORTS)
def order(order_id: int):
    """An order: its figures, periods with their share of the handling fee, history, notes."""
    found = _order_or_404(order_id)
    figures = queries.order_figures(found)
    return render(
        "installments/order.html", **_history_context(found), figures=figures,
        periods=queries.order_periods(found),
        state=queries.state_of(found.period_count, figures.done_periods, figures.returned_periods,
                               figures.pending_periods),
        refund_state=queries.refund_state(figures.returned_periods, figures.pending_periods,
                                          figures.refunded_periods),
        guarantee_end=guarantee_end_text(figures.done_periods, found.period_count,
                                                 figures.last_expected))


@bp.get("/orders/<int:order_id>/fee-split")
@requires(Function.INSTALLMENT_REPORTS)
def order_fee_split(order_id: int):
    """退貨手續費分攤: each returned period's share of the order's handling fee."""
    found = _order_or_404(order_id)
    periods = queries.order_periods(found)
    shared = [p for p in periods if p.return_fee is not None]
    return render("installments/order_fee_split.html", order=found, periods=periods,
                  shared=shared, shares_total=sum(p.return_fee or 0 for p in shared))


@bp.get("/orders/<int:order_id>/history")
@requires(Function.INSTALLMENT_REPORTS)
def order_history(order_id: int):
    """歷程: every change of the order since issuance, with its notes (a modal or a page)."""
    return render("installments/order_history.html", **_history_context(_order_or_404(order_id)))


@bp.post("/orders/<int:order_id>/notes")
@requires(Function.INSTALLMENT_REPORTS, Level.MODIFY)
def order_note(order_id: int):
    """新增備註: a note kept in the order's history (the tickets' "note" action)."""
    found = _order_or_404(order_id)
    form = NoteForm()
    if not form.validate_on_submit():
        # HTMX swaps only 2xx answers: the modal shows the form with its message either way
        return (render("installments/order_history.html", **_history_context(found, form)),
                200 if is_fragment_request() else 422)
    with committed(form):
        services.add_note(current_user, g.store, found, form.note.data or "")
    if is_fragment_request():
        return render("installments/order_history.html", **_history_context(found),
                      message=NOTE_ADDED)
    flash(NOTE_ADDED, "success")
    return redirect_to(url_for("installments.order", order_id=found.id))
