"""7-3 D 紙本票券列印: the store's merchant-print (廠商列印) paper tickets with filters and an Excel
download, 列印所選 (a PDF, one ticket per page), 測試列印 (a marked sample), and the print history
(every run: who, when, how many; a run's tickets).

Viewing needs 紙本票券列印 at view level, printing at modify level. Ticket ids come from the
form and are loaded through the acting store by the service: one id that is not this store's
merchant-print ticket makes the whole print a 404. Paper tickets belong to no branch, so a
sub-account bound to a branch needs only the right.
"""

from __future__ import annotations

import io

from flask import Blueprint, Response, flash, g, redirect, request, send_file, url_for
from wtforms import SelectChoice

from app import clock, listing, spreadsheets
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput
from app.htmx import render
from app.pagination import paginate
from app.printing import queries, rules, services
from app.printing.forms import RunQueryForm, TicketQueryForm
from app.printing.models import PrintRun
from app.tenancy import get_owned_or_404

bp = Blueprint("printing", __name__, url_prefix="/printing")

XLSX_HEADERS = ["票券序號", "ECT訂單編號", "廠商訂單編號", "商品", "面額", "票券狀態", "持票人", "發行時間",
                "列印次數", "首次列印時間"]
BAD_IDS = "所選票券有誤，請重新整理頁面後再試"


def _ticket_form() -> TicketQueryForm:
    form = TicketQueryForm(formdata=request.args)
    form.product.choices = [SelectChoice("", "全部")] + [
        SelectChoice(str(p.id), p.name) for p in queries.products(g.store.id)]
    return form


def _filter(form: TicketQueryForm) -> queries.TicketFilter:
    """The query of the form; a serial or order number alone searches every date."""
    start, end = listing.checked_period(form, narrowed=bool(form.number.data))
    return queries.TicketFilter(
        store_id=g.store.id, start=start, end=end,
        product_id=int(form.product.data) if form.product.data else None,
        printed=form.printed.data or "", number=form.number.data or "")


@bp.get("/")
@requires(Function.PAPER_PRINTING)
def index():
    form = _ticket_form()
    context = {"form": form, "page": None, "orders": {}, "error": None,
               "may_print": may(Function.PAPER_PRINTING, Level.MODIFY),
               "max_print": rules.MAX_TICKETS_PER_PRINT}
    try:
        flt = _filter(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("printing/index.html", **context), 422
    if request.args.get("format") == "xlsx":
        return _xlsx(flt)
    page = paginate(queries.paper_tickets(flt))
    context.update(page=page, orders=queries.orders_of(page.items))
    return render("printing/index.html", **context)


def _xlsx(flt: queries.TicketFilter) -> Response:
    def rows():  # noqa: ANN202
        stmt = queries.paper_tickets(flt)
        for chunk in db.session.scalars(stmt.execution_options(yield_per=500)).partitions():
            orders = queries.orders_of(chunk)
            for t in chunk:
                order = orders.get(t.order_id)
                yield (t.serial, order.order_no if order else "",
                       order.merchant_order_no if order else "", t.product.name, t.face_value,
                       t.current_status.label, t.holder_name, t.issued_at, t.print_count,
                       t.printed_at)

    day = clock.business_day()
    return spreadsheets.xlsx_response(f"紙本票券_{g.store.merchant_code}_{day:%Y%m%d}.xlsx",
                                      XLSX_HEADERS, rows(), sheet_title="紙本票券")


def _pdf_response(data: bytes, name: str) -> Response:
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"  # redemption codes
    return response


def _back():  # noqa: ANN202 - the list as it was, with its filters
    return redirect(url_for("printing.index", **request.args))


@bp.post("/print")
@requires(Function.PAPER_PRINTING, Level.MODIFY)
def print_selected():
    ids = rules.clean_ticket_ids(request.form.getlist("ticket_id"))
    if ids is None:
        flash(BAD_IDS, "danger")
        return _back()
    try:
        job = services.print_tickets(acting_account(), g.store, ids)
    except InvalidInput as err:
        db.session.rollback()
        flash(err.message, "danger")
        return _back()
    except DomainError:
        db.session.rollback()
        raise  # 404 for another store's or a non-merchant-print ticket
    data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
    run_id = job.run.id
    db.session.commit()
    return _pdf_response(data, f"紙本票券_{g.store.merchant_code}_{run_id}.pdf")


@bp.post("/sample")
@requires(Function.PAPER_PRINTING, Level.MODIFY)
def sample():
    run = services.record_test_print(acting_account(), g.store)
    data = services.sample_pdf(g.store, run)
    db.session.commit()
    return _pdf_response(data, f"測試列印_{g.store.merchant_code}.pdf")


# 列印紀錄 ----------------------------------------------------------------------------------------

@bp.get("/runs")
@requires(Function.PAPER_PRINTING)
def runs():
    form = RunQueryForm(formdata=request.args)
    context = {"form": form, "page": None, "error": None}
    try:
        start, end = listing.checked_period(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("printing/runs.html", **context), 422
    context["page"] = paginate(queries.runs(g.store.id, start, end))
    return render("printing/runs.html", **context)


@bp.get("/runs/<int:run_id>")
@requires(Function.PAPER_PRINTING)
def run_detail(run_id: int):
    run = get_owned_or_404(PrintRun, run_id)
    page = paginate(queries.run_tickets(run), per_page=rules.MAX_TICKETS_PER_PRINT,
                    max_per_page=rules.MAX_TICKETS_PER_PRINT)  # a run holds at most this many
    return render("printing/run.html", run=run, page=page, orders=queries.orders_of(page.items))
