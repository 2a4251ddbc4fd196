"""票券報表 pages (7-3 J): the query form and its results, 下載Excel of the query, and per row
the history (歷程), a note (備註), the escrow ledger (價金保管帳, and its 下載Excel), the
partner-store list (可核銷商店名單) and the counter actions (退貨 / 取消核銷 / 取消退貨) the ticket
may take now.

The scope comes from `app.reports.scope` on every request: a parent store sees its children's
rows read-only (no note, no action on them), a sub-account bound to a branch sees only the
tickets its branch handled and cannot pick another branch; a row id outside the scope is 404.
"""

from __future__ import annotations

from flask import abort, current_app, flash, g, render_template, request, url_for
from sqlalchemy import select

from app import clock, history
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.bounds import INT_MAX, whole_number
from app.counter.services import PAGES
from app.db import db
from app.errors import InvalidInput
from app.escrow.columns import LEDGER_COLUMNS
from app.escrow.queries import ticket_ledger as ledger_of
from app.htmx import is_fragment_request, redirect_to, render
from app.reports import scope as report_scope
from app.reports import tickets as report
from app.reports.export_views import excel_download
from app.reports.ticket_page import NoteForm, ledger_download
from app.reports.views import bp
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Branch, DeliveryMethod, DeliveryType, Store
from app.tickets import services as ticket_services
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from app.web import committed

NOTE_ADDED = "備註已新增"


def _form_context(scope: report_scope.ReportScope, q: report.TicketQuery | None) -> dict:
    args = request.args
    group_value = q.status_group.value if q and q.status_group else args.get("status_group", "")
    type_value = q.delivery_type.value if q and q.delivery_type else args.get("delivery_type", "")
    return {
        "args": args, "q": q, "scope": scope, "mode": (q.mode if q else args.get("mode")) or "date",
        "MODES": report.MODES, "DATE_TYPES": report.DATE_TYPES, "BRANCH_TYPES": report.BRANCH_TYPES,
        "GROUPS": report.GROUPS, "StatusGroup": StatusGroup, "DeliveryType": DeliveryType,
        "groups_on": set(q.groups) if q else (set(args.getlist("cols")) if report.submitted(args)
                                              else set(report.DEFAULT_GROUPS)),
        "branches": scope.branches(),
        **_status_options(group_value, args.getlist("status")),
        **_method_options(type_value, args.getlist("delivery_method")),
    }


def _status_options(group_value: str, ticked: list[str]) -> dict:
    try:
        group = StatusGroup(group_value) if group_value else None
    except ValueError:
        group = None
    shown = STATUS_GROUPS[group] if group else tuple(TicketStatus)
    return {"status_choices": shown, "status_ticked": set(ticked)}


def _method_options(type_value: str, ticked: list[str]) -> dict:
    try:
        kind = DeliveryType(type_value) if type_value else None
    except ValueError:
        kind = None
    shown = report.methods_of(kind) if kind else tuple(DeliveryMethod)
    return {"method_choices": shown, "method_ticked": set(ticked)}


MODE_FIELDS = {"serial": ("serial",), "holder": ("holder_name", "holder_mobile", "holder_email"),
               "order": ("order_no", "merchant_order_no")}


def _tab_opened(mode: str) -> bool:
    """A lookup mode's tab was opened: no form sent, none of its fields given."""
    fields = MODE_FIELDS.get(mode)
    return fields is not None and not report.submitted(request.args) \
        and not any(f in request.args for f in fields)


def _may_act(slug: str) -> bool:
    return may(PAGES[slug].function, Level.MODIFY)


def _page_or_error(error: str | None = None, fields: dict | None = None):  # noqa: ANN202
    """The report page; with `error`, the form and the message only (422)."""
    try:
        scope = report_scope.for_request(request.args)
    except InvalidInput as err:
        scope = report_scope.for_request({})
        error, fields = error or err.message, fields or err.fields
    q = None
    mode = request.args.get("mode") or "date"
    if error is None and _tab_opened(mode):
        # a mode's tab opened: its empty form, nothing looked up yet
        return render("reports/tickets/index.html", **_base_context(scope, None, None, None))
    if error is None:
        try:
            q = report.parse(request.args)
        except InvalidInput as err:
            error, fields = err.message, err.fields
    context = _base_context(scope, q, error, fields)
    if error is not None:
        return render("reports/tickets/index.html", **context), 422
    number = whole_number(request.args.get("page", "1"), 1, INT_MAX) or 1
    context["result"] = report.page(scope, q, number, per_page=_per_page())
    context["row_urls"] = _row_urls()
    return render("reports/tickets/index.html", **context)


ROW_ID = "0"  # built once per page with this id, then each row's id is put in its place


def _row_urls() -> dict[str, str | None]:
    """The per-row links as str.format patterns: building 50 rows × 3 links with url_for was
    a tenth of the page's time."""
    def pattern(endpoint: str, **values: str) -> str:
        url = url_for(endpoint, **values)
        head, _, tail = url.rpartition(f"/{ROW_ID}")
        return f"{head}/{{}}{tail}"

    detail = "tickets.detail" in current_app.view_functions
    return {"history": pattern("reports.ticket_history", ticket_id=ROW_ID),
            "partners": pattern("reports.ticket_partners", ticket_id=ROW_ID),
            "ledger": pattern("reports.ticket_ledger", ticket_id=ROW_ID),
            "detail": pattern("tickets.detail", serial=ROW_ID) if detail else None}


def _base_context(scope: report_scope.ReportScope, q: report.TicketQuery | None, error: str | None,
                  fields: dict | None) -> dict:
    context = _form_context(scope, q)
    context.update(error=error, error_fields=fields or {}, result=None, now=clock.now(),
                   may_note=may(Function.REPORT_TICKETS, Level.MODIFY),
                   may_action={page.slug: _may_act(page.slug) for page in report.ROW_ACTIONS},
                   actions=PAGES)
    return context


def _per_page() -> int:
    return int(current_app.config["PAGE_SIZE"])


@bp.get("/tickets")
@requires(Function.REPORT_TICKETS)
@offers_saved_filters(*report.QUERY_KEYS)
def tickets():
    return _page_or_error()


@bp.get("/tickets/export")
@requires(Function.REPORT_TICKETS)
def tickets_export():
    """下載Excel of the same query: the file, or the background export's progress page."""
    try:
        return excel_download("tickets", request.args)
    except InvalidInput as err:
        return _page_or_error(err.message, err.fields)


@bp.get("/tickets/options")
@requires(Function.REPORT_TICKETS)
def ticket_options():
    """The detailed statuses of a status group, or the methods of a delivery type (HTMX)."""
    args = request.args
    if args.get("part") == "methods":
        return render_template("reports/tickets/_method_options.html",
                               **_method_options(args.get("delivery_type", ""), []))
    return render_template("reports/tickets/_status_options.html",
                           **_status_options(args.get("status_group", ""), []))


# Per row ---------------------------------------------------------------------------------------

def _visible_or_404(ticket_id: int) -> Ticket:
    ticket = report.visible_ticket(report_scope.for_request({}), ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def _history_page(ticket: Ticket, *, form: NoteForm | None = None, message: str | None = None,
                  status: int = 200):  # noqa: ANN202
    entries = history.entries_for(ticket, unscoped=True)
    branch_ids = {e.actor_branch_id for e in entries if e.actor_branch_id}
    branches = {b.id: b.label for b in db.session.scalars(
        select(Branch).where(Branch.id.in_(branch_ids)).execution_options(unscoped=True))} \
        if branch_ids else {}
    own = ticket.store_id == g.store.id
    return render("reports/tickets/history.html", ticket=ticket, entries=entries, branches=branches,
                  status_now=ticket.current_status, form=form or NoteForm(formdata=None),
                  may_note=ticket_services.may_note(acting_account(), g.store, ticket), own=own,
                  message=message), status


@bp.get("/tickets/<bigint:ticket_id>/history")
@requires(Function.REPORT_TICKETS)
def ticket_history(ticket_id: int):
    """歷程: every change of the ticket since issuance, with its notes (a modal or a page)."""
    return _history_page(_visible_or_404(ticket_id))


@bp.post("/tickets/<bigint:ticket_id>/notes")
@requires(Function.REPORT_TICKETS, Level.MODIFY)
def ticket_note(ticket_id: int):
    """新增備註 on a ticket of the acting store (not on a child store's: switch first)."""
    ticket = _visible_or_404(ticket_id)
    if ticket.store_id != g.store.id:
        abort(404)
    form = NoteForm()
    refused = not form.validate_on_submit()
    if not refused:
        with committed(form, refusals=InvalidInput) as outcome:
            ticket_services.add_note(acting_account(), g.store, ticket, form.note.data or "")
        refused = outcome.refused
        if outcome.error:
            form.note.errors = [outcome.error]
    if refused:
        # HTMX swaps only 2xx answers: the modal shows the form with its message either way
        return _history_page(ticket, form=form, status=200 if is_fragment_request() else 422)
    if is_fragment_request():
        return _history_page(ticket, message=NOTE_ADDED)
    flash(NOTE_ADDED, "success")
    return redirect_to(url_for("reports.ticket_history", ticket_id=ticket.id))


@bp.get("/tickets/<bigint:ticket_id>/ledger")
@requires(Function.REPORT_TICKETS)
def ticket_ledger(ticket_id: int):
    """價金保管帳: the ticket's escrow ledger entries with the running balance held in trust and
    the bank's acknowledgements (a modal or a page); the same as the ticket page's."""
    ticket = _visible_or_404(ticket_id)
    return render("reports/tickets/ledger.html", ticket=ticket, status_now=ticket.current_status,
                  ledger=ledger_of(ticket), columns=LEDGER_COLUMNS,
                  export_url=url_for("reports.ticket_ledger_export", ticket_id=ticket.id))


@bp.get("/tickets/<bigint:ticket_id>/ledger/export")
@requires(Function.REPORT_TICKETS)
def ticket_ledger_export(ticket_id: int):
    """下載Excel of the ticket's 價金保管帳 (a child store's too, for its parent)."""
    return ledger_download(ledger_of(_visible_or_404(ticket_id)))


@bp.get("/tickets/<bigint:ticket_id>/partners")
@requires(Function.REPORT_TICKETS)
def ticket_partners(ticket_id: int):
    """可核銷商店名單: the stores that may redeem this ticket's product."""
    ticket = _visible_or_404(ticket_id)
    return render("reports/tickets/partners.html", ticket=ticket,
                  stores=report.partner_stores(ticket), Store=Store)
