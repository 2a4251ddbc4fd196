"""票券明細: one ticket of the acting store (the issuer), its escrow ledger (價金保管帳, with its
下載Excel), its full history, notes (備註), and buttons to the counter pages for the actions it
may take now.

The counter card links here by serial number for the issuer only; another store's serial (a
partner's, a child store's while not switched into it) answers 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app import clock, history
from app.auth.access import acting_account, may, merchant_required, requires
from app.auth.permissions import Function, Level
from app.columns import xlsx_response
from app.counter.services import PAGES, mask_mobile
from app.db import db
from app.errors import InvalidInput, NotFound
from app.escrow import columns as ledger_columns
from app.escrow.queries import TicketLedger, ticket_ledger
from app.htmx import redirect_to, render
from app.issuance.models import Batch
from app.return_applications import queries as application_queries
from app.stores.models import Branch, Store
from app.tickets import actions, services
from app.tickets.codes import display_code
from app.tickets.lifecycle import Facts
from app.tickets.models import Order, Ticket
from app.transfers import queries as transfer_queries
from app.wallet.rules import mask_email
from app.web import committed

bp = Blueprint("tickets", __name__, url_prefix="/tickets")


class NoteForm(FlaskForm):
    note = TextAreaField("備註", filters=[lambda v: v.strip() if isinstance(v, str) else v],
                         validators=[DataRequired("請輸入備註內容"),
                                     Length(max=1000, message="備註最多 1000 字")],
                         render_kw={"rows": 3, "maxlength": 1000})


def _ticket_or_404(serial: str) -> Ticket:
    """A ticket of the acting store by serial; anything else is 404."""
    try:
        ticket = services.find_by_serial(g.store, serial)
    except NotFound:
        abort(404)
    if ticket.store_id != g.store.id:
        abort(404)
    return ticket


def _names(entries: list[history.HistoryEntry]) -> tuple[dict[int, str], dict[int, str]]:
    """Store and branch names of the entries' actors (a partner store's clerk included)."""
    store_ids = {e.actor_store_id for e in entries if e.actor_store_id}
    branch_ids = {e.actor_branch_id for e in entries if e.actor_branch_id}
    stores = {s.id: s.name for s in db.session.scalars(
        select(Store).where(Store.id.in_(store_ids)))} if store_ids else {}
    branches = {b.id: b.name for b in db.session.scalars(
        select(Branch).where(Branch.id.in_(branch_ids)).execution_options(unscoped=True))} \
        if branch_ids else {}
    return stores, branches


def _counter_actions(ticket: Ticket) -> list[tuple[str, str]]:
    """The counter pages this ticket may go to now (the status machine says the action applies,
    and the account may act there), as (slug, button label)."""
    facts = Facts.of(ticket)
    return [(page.slug, page.title) for page in PAGES.values()
            if may(page.function, Level.MODIFY) and actions.applies(page.key, facts)]


def may_see_holder() -> bool:
    """The holder's full mobile and e-mail: the main account, or the 票券報表 right at view;
    anyone else (a clerk who opened the ticket from the counter card) sees them masked."""
    return current_user.is_main or may(Function.REPORT_TICKETS, Level.VIEW)


def _holder_contacts(ticket: Ticket) -> tuple[str, str]:
    if may_see_holder():
        return ticket.holder_mobile or "", ticket.holder_email or ""
    return (mask_mobile(ticket.holder_mobile),
            mask_email(ticket.holder_email) if ticket.holder_email else "")


def _render_detail(ticket: Ticket, form: NoteForm, status: int = 200):  # noqa: ANN202
    entries = history.entries_for(ticket)
    store_names, branch_names = _names(entries)
    order = db.session.get(Order, ticket.order_id)
    batch = db.session.get(Batch, ticket.batch_id)
    holder_mobile, holder_email = _holder_contacts(ticket)
    return render(
        "tickets/detail.html", ticket=ticket, order=order, batch=batch, form=form,
        status_now=actions.effective_status(ticket), entries=entries,
        store_names=store_names, branch_names=branch_names, code=display_code(ticket.code),
        redeemed_text=actions.performed_by_text(ticket, redeemed=True),
        returned_text=actions.performed_by_text(ticket, redeemed=False),
        method_label=ticket.delivery_method.label, actions=_counter_actions(ticket),
        may_note=services.may_note(acting_account(), g.store, ticket),
        transfers=transfer_queries.of_ticket(ticket),
        return_application=application_queries.pending_for(ticket),
        holder_mobile=holder_mobile, holder_email=holder_email, ledger=ticket_ledger(ticket),
        ledger_columns=ledger_columns.LEDGER_COLUMNS,
        ledger_export=url_for("tickets.ledger_export", serial=ticket.serial)), status


@bp.get("/<serial>")
@merchant_required
def detail(serial: str):
    return _render_detail(_ticket_or_404(serial), NoteForm(formdata=None))


def ledger_download(ledger: TicketLedger):  # noqa: ANN201
    """下載Excel of a voucher's 價金保管帳: the page's columns, and the Excel-only ones."""
    name = ledger_columns.filename(ledger.serial, f"{clock.business_day():%Y%m%d}")
    return xlsx_response(name, ledger_columns.LEDGER_COLUMNS, ledger.lines,
                         sheet_title=ledger_columns.SHEET_TITLE)


@bp.get("/<serial>/ledger/export")
@merchant_required
def ledger_export(serial: str):
    """The ticket's 價金保管帳 as Excel: whoever may open the ticket page may download it."""
    return ledger_download(ticket_ledger(_ticket_or_404(serial)))


@bp.post("/<serial>/notes")
@requires(Function.REPORT_TICKETS, Level.MODIFY)  # a note is a change (services.add_note checks)
def add_note(serial: str):
    ticket = _ticket_or_404(serial)
    form = NoteForm()
    if not form.validate_on_submit():
        return _render_detail(ticket, form, 422)
    with committed(form, refusals=InvalidInput) as outcome:
        services.add_note(acting_account(), g.store, ticket, form.note.data or "")
    if outcome.refused:
        if outcome.error:
            form.note.errors = [outcome.error]
        return _render_detail(ticket, form, outcome.status)
    flash("備註已新增", "success")
    return redirect_to(url_for("tickets.detail", serial=ticket.serial))
