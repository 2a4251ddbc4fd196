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

from app import listing
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.columns import Column
from app.db import db
from app.errors import InvalidInput
from app.htmx import render
from app.pagination import paginate, paginate_rows
from app.printing import queries, rules, services
from app.printing.forms import RunQueryForm, TicketQueryForm
from app.printing.models import PrintRun
from app.tenancy import get_owned_or_404
from app.web import committed

bp = Blueprint("printing", __name__, url_prefix="/printing")

# The list and its Excel: rows of (Ticket, Order).
COLUMNS = (
    Column("serial", "票券序號", lambda r: r.Ticket.serial, "code"),
    Column("order_no", "ECT訂單編號", lambda r: r.Order.order_no if r.Order else ""),
    Column("merchant_order_no", "廠商訂單編號",
           lambda r: r.Order.merchant_order_no if r.Order else ""),
    Column("product", "商品", lambda r: r.Ticket.product.name),
    Column("face_value", "面額", lambda r: r.Ticket.face_value, "money"),
    Column("status", "票券狀態", lambda r: r.Ticket.current_status, "status"),
    Column("holder", "持票人", lambda r: r.Ticket.holder_name),
    Column("issued_at", "發行時間", lambda r: r.Ticket.issued_at, "datetime"),
    Column("print_count", "列印次數", lambda r: r.Ticket.print_count, "number"),
    Column("printed_at", "首次列印時間", lambda r: r.Ticket.printed_at, "datetime"),
)
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
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None,
               "may_print": may(Function.PAPER_PRINTING, Level.MODIFY),
               "max_print": rules.MAX_TICKETS_PER_PRINT}
    try:
        flt = _filter(form)
    except InvalidInput as err:
        context["error"] = err.message
        return render("printing/index.html", **context), 422
    if listing.excel_asked():
        rows = db.session.execute(queries.paper_ticket_rows(flt).execution_options(yield_per=500))
        return listing.excel("紙本票券", COLUMNS, rows)
    context.update(page=paginate_rows(queries.paper_ticket_rows(flt)))
    return render("printing/index.html", **context)


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
    # another store's or a non-merchant-print ticket: 404 (not a refusal shown here)
    with committed(refusals=InvalidInput) as outcome:
        job = services.print_tickets(acting_account(), g.store, ids)
        data = services.tickets_pdf(job.tickets, services.footer_for(job.run))
        run_id = job.run.id
    if outcome.refused:
        outcome.flash_error()
        return _back()
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
