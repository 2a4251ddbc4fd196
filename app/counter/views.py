"""Counter pages (7-3 E 票券核銷, F 取消核銷, G 票券退貨, H 取消退貨), keyboard-first.

One code field (autofocus; a barcode scanner types the code and sends Enter) looks the ticket up
(`lookup`), the card shows it with the page's one button, and the button (`act`) finds the ticket
again by its code, through the same visibility as the lookup, and calls the ticket service. With
HTMX both answer the counter area only; without JS they are ordinary form posts answering the
whole page. The answer is said in large text and the code field is cleared and focused again
for the next customer. A page with a confirmation (取消核銷) acts only with its box ticked, which
a scan and two Enters cannot do; its card focuses the box, never the reason field.

Opening a page and looking codes up need the page's function at 查詢 (view); acting needs 修改
(modify). Refusals keep their HTTP status (403, 404, 409, 422, 429); counter.js lets HTMX swap
them into the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, request
from flask_login import current_user, login_required

from app import clock, listing
from app.auth.access import acting_account as _actor
from app.auth.access import may, why_not
from app.auth.permissions import Level
from app.counter import services, today
from app.counter.forms import STALE_FORM, ActForm, LookupForm
from app.counter.services import PAGES, CounterPage
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.htmx import render
from app.products.access import NO_PERMISSION
from app.stores.models import Store
from app.tickets import actions
from app.tickets.actions import Done
from app.tickets.codes import display_code
from app.tickets.models import Ticket
from app.tickets.services import UNKNOWN_CODE
from app.uploads.views import url_for_upload
from app.web import commit_answered

bp = Blueprint("counter", __name__, url_prefix="/counter")


@dataclass(frozen=True)
class Outcome:
    """What the clerk is told, in large text: done (green) or refused (red)."""

    ok: bool
    message: str


SLUGS = {p.endpoint.split(".")[1]: slug for slug, p in PAGES.items()}


def counter_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A counter route for a page (named by the page's own endpoint, or for the shared lookup
    and act routes by the posted `action` slug): a merchant account holding the page's function
    at view level, else 403."""

    @wraps(view)
    @login_required
    def wrapped(**kwargs: Any) -> Any:
        if current_user.is_operator or g.get("store") is None:
            abort(403)
        slug = SLUGS.get((request.endpoint or "").partition(".")[2]) or request.form.get("action", "")
        page = PAGES.get(slug)
        if page is None:
            abort(404)
        if not may(page.function, Level.VIEW):
            abort(403)
        return view(page, **kwargs)

    return wrapped


def _render(page: CounterPage, *, lookup: LookupForm | None = None, ticket: Ticket | None = None,
            act: ActForm | None = None, outcome: Outcome | None = None, done: Ticket | None = None,
            focus: str | None = None, status: int = 200):  # noqa: ANN202
    """The counter area (HTMX) or the whole page: the code field, the answer, the card.

    `focus` names what gets the keyboard: the code field (default, and after every answer),
    or, under a fresh card, the reason field or the button, so Enter acts."""
    store: Store = g.store
    now = clock.now()
    context: dict[str, Any] = {
        "page": page, "pages": PAGES, "lookup": lookup,
        "outcome": outcome, "done": done, "ticket": ticket, "act": act,
        "may_act": may(page.function, Level.MODIFY), "display_code": display_code,
    }
    if ticket is not None:
        status_now = actions.effective_status(ticket, now)
        refused = actions.refusal(page.key, _actor(), store, ticket, now)
        issuer = db.session.get(Store, ticket.store_id)
        context.update(
            status_now=status_now, refused=refused, is_issuer=ticket.store_id == store.id,
            issuer=issuer, mobile=services.mask_mobile(ticket.holder_mobile),
            image_url=url_for_upload(ticket.product.image),
            method_label=ticket.delivery_method.label,
            fee_allowed=page.slug == "return" and actions.fee_allowed(ticket, now),
            act=act or ActForm(formdata=None, data={
                "code": ticket.code, "ticket_id": ticket.id, "seen": status_now.value}),
        )
        offered = refused is None and context["may_act"]
        if focus is None and offered:  # never the reason field of a page that asks a confirmation
            focus = ("confirm" if page.confirm else
                     "button" if page.reason is actions.Reason.NONE else "reason")
    context["focus"] = focus or "code"
    if done is not None:
        context["done_status"] = actions.effective_status(done, now)
    return render("counter/page.html", block="counter", **context), status


def _refused(page: CounterPage, err: DomainError, *, lookup: LookupForm | None = None,
             ticket: Ticket | None = None, act: ActForm | None = None,
             focus: str | None = None):  # noqa: ANN202
    return _render(page, lookup=lookup, ticket=ticket, act=act, focus=focus,
                   outcome=Outcome(False, err.message), status=err.status)


# The four pages --------------------------------------------------------------------------

@counter_page
def show(page: CounterPage):
    return _render(page)


for _page in PAGES.values():  # /counter/redeem → counter.redeem, and so on
    bp.add_url_rule(f"/{_page.slug}", _page.endpoint.split(".")[1], show, methods=["GET"])


# 查詢 --------------------------------------------------------------------------------------

@bp.post("/lookup")
@counter_page
def lookup(page: CounterPage):
    form = LookupForm()
    if not form.validate_on_submit():
        return _render(page, lookup=form, outcome=Outcome(False, _first_error(form)), status=422)
    try:
        ticket = services.find(g.store, form.code.data or "", account_id=current_user.id)
    except DomainError as err:
        return _refused(page, err, lookup=form)
    # The card shows the code; the field is emptied so the next scan goes straight in.
    return _render(page, ticket=ticket)


# 核銷 / 取消核銷 / 退貨 / 取消退貨 ---------------------------------------------------------------

@bp.post("/act")
@counter_page
def act(page: CounterPage):
    if not may(page.function, Level.MODIFY):
        message, _ = why_not(_actor(), NO_PERMISSION[page.function].message)
        return _render(page, outcome=Outcome(False, message), status=403)
    form = ActForm()
    valid = form.validate_on_submit()
    if not valid and (form.code.errors or form.ticket_id.errors or form.seen.errors
                      or not (form.reason.errors or form.fee.errors)):
        return _render(page, outcome=Outcome(False, _first_error(form)), status=422)
    try:
        ticket = _find_again(form)
    except DomainError as err:
        return _refused(page, err)
    if not valid or _unconfirmed(page, form, ticket):  # the same card, the message on its field
        return _render(page, ticket=ticket, act=form, outcome=Outcome(False, _first_error(form)),
                       focus=_first_error_field(form), status=422)
    try:
        done: Done = actions.perform(page.key, _actor(), g.store, ticket, seen=form.seen.data or "",
                                     reason=form.reason.data or "", fee=form.fee.data)
    except DomainError as err:
        db.session.rollback()
        ticket = _reload(ticket)
        if isinstance(err, InvalidInput):
            for name, message in err.fields.items():
                if name in ("reason", "fee"):
                    form[name].errors = [message]
            return _refused(page, err, ticket=ticket, act=form, focus=_first_error_field(form))
        if isinstance(err, actions.CardStale):
            return _refused(page, err, ticket=ticket)  # the fresh card, its button focused
        return _refused(page, err, ticket=ticket, focus="code")
    # Rendered before the commit, which would expire the ticket and have the answer read it
    # again; a commit that fails still answers the error, never this page.
    answer = _render(page, outcome=Outcome(True, done.message), done=done.ticket)
    commit_answered()
    return answer


def _unconfirmed(page: CounterPage, form: ActForm, ticket: Ticket) -> bool:
    """A page asking for a confirmation, its box not ticked, for an action the ticket allows (a
    refusal is said as it is, not hidden behind the box): the box is asked for."""
    if not page.confirm or form.confirm.data:
        return False
    if actions.refusal(page.key, _actor(), g.store, ticket, clock.now()) is not None:
        return False
    form.confirm.errors = [f"請勾選「{page.confirm}」後再按【{page.button}】"]
    return True


def _find_again(form: ActForm) -> Ticket:
    """The ticket of the posted code, through the same visibility (and guard) as a lookup, and
    only if it is the ticket the card showed: a forged id cannot reach another ticket."""
    ticket = services.find(g.store, form.code.data or "", account_id=current_user.id)
    if ticket.id != form.ticket_id.data:
        raise NotFound(UNKNOWN_CODE, code="unknown_code")
    return ticket


def _reload(ticket: Ticket) -> Ticket:
    """The ticket as it is now (after a rollback, or another clerk's change)."""
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id, execution_options={"unscoped": True}) or ticket


def _first_error(form: LookupForm | ActForm) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0] if isinstance(errors, list) else str(errors)
    return STALE_FORM


def _first_error_field(form: ActForm) -> str | None:
    return next((name for name in ("reason", "fee", "confirm") if form[name].errors), None)


# 今日櫃台紀錄 -------------------------------------------------------------------------------

@bp.get("/today")
@login_required
def today_list():
    """Today at this counter: this account's (or its branch's) counter actions today, with the
    shift's totals; ?format=xlsx downloads the list. Any counter page's function at 查詢."""
    if current_user.is_operator or g.get("store") is None:
        abort(403)
    if not any(may(p.function, Level.VIEW) for p in PAGES.values()):
        abort(403)
    found = today.rows(g.store.id, current_user.id, current_user.branch_id)
    if listing.excel_asked():
        return listing.excel("今日櫃台紀錄", today.COLUMNS, found)
    return render("counter/today.html", page=None, pages=PAGES, rows=found, totals=today.totals(found),
                  columns=today.COLUMNS, day=clock.business_day(),
                  by_branch=current_user.branch_id is not None)
