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

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, g, jsonify, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from app import clock, listing
from app.auth.access import acting_account as _actor
from app.auth.access import acting_principal, may, read_store, why_not
from app.auth.permissions import Function, Level
from app.counter import offline, services, snapshot, today
from app.counter.forms import STALE_FORM, ActForm, LookupForm
from app.counter.services import PAGES, CounterPage
from app.db import db
from app.errors import DomainError, InvalidInput, Malformed, NotFound, json_error
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.products.access import NO_PERMISSION, unit_for
from app.settings.services import offline_enabled
from app.stores.models import Store
from app.tickets import actions
from app.tickets.actions import Done
from app.tickets.codes import display_code
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket
from app.tickets.plain import TicketRow
from app.tickets.services import UNKNOWN_CODE
from app.uploads.views import url_for_upload
from app.web import commit_answered, committed

bp = Blueprint("counter", __name__, url_prefix="/counter")
SERVICE_WORKER = "js/counter-sw.js"


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
        if current_user.is_operator or read_store() is None:
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
            act: ActForm | None = None, outcome: Outcome | None = None,
            done: Ticket | TicketRow | None = None,
            focus: str | None = None, status: int = 200,
            offline_mode: dict[str, Any] | None = None):  # noqa: ANN202
    """The counter area (HTMX) or the whole page: the code field, the answer, the card.

    `focus` names what gets the keyboard: the code field (default, and after every answer),
    or, under a fresh card, the reason field or the button, so Enter acts."""
    store: Store = read_store()  # only read: the press copies no store into the session
    now = clock.now()
    context: dict[str, Any] = {
        "page": page, "pages": PAGES, "lookup": lookup,
        "outcome": outcome, "done": done, "ticket": ticket, "act": act,
        "may_act": may(page.function, Level.MODIFY), "display_code": display_code,
        "offline": offline_mode, "form_token": _form_token(),
    }
    if ticket is not None:
        status_now = actions.effective_status(ticket, now)
        refused = actions.refusal(page.key, acting_principal(), store, ticket, now)
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


def _form_token() -> str:
    """The CSRF token of the answer's lookup form: on a POST the one the request carried, which
    CSRFProtect has just checked (read in its order: the form field, then the header). A token
    lasts the session (WTF_CSRF_TIME_LIMIT is None), so it is as good as a new one and costs
    no signing; a GET signs one."""
    if request.method == "POST":
        config = current_app.config
        carried = request.form.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token")) or next(
            (value for name in config.get("WTF_CSRF_HEADERS", ("X-CSRFToken", "X-CSRF-Token"))
             if (value := request.headers.get(name))), None)
        if carried:
            return carried
    return generate_csrf()


def _refused(page: CounterPage, err: DomainError, *, lookup: LookupForm | None = None,
             ticket: Ticket | None = None, act: ActForm | None = None,
             focus: str | None = None):  # noqa: ANN202
    return _render(page, lookup=lookup, ticket=ticket, act=act, focus=focus,
                   outcome=Outcome(False, err.message), status=err.status)


# The four pages --------------------------------------------------------------------------

@counter_page
def show(page: CounterPage):
    return _render(page, offline_mode=_offline_mode(page))


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
        ticket = _find_again(form, plain=page.key is Action.REDEEM)
    except DomainError as err:
        return _refused(page, err)
    if not valid or _unconfirmed(page, form, ticket):  # the same card, the message on its field
        return _render(page, ticket=_card(ticket), act=form,
                       outcome=Outcome(False, _first_error(form)),
                       focus=_first_error_field(form), status=422)
    try:
        done: Done = actions.perform(page.key, acting_principal(), read_store(), ticket,
                                     seen=form.seen.data or "",
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


def _unconfirmed(page: CounterPage, form: ActForm, ticket: Ticket | TicketRow) -> bool:
    """A page asking for a confirmation, its box not ticked, for an action the ticket allows (a
    refusal is said as it is, not hidden behind the box): the box is asked for."""
    if not page.confirm or form.confirm.data:
        return False
    if actions.refusal(page.key, acting_principal(), read_store(), ticket, clock.now()) is not None:
        return False
    form.confirm.errors = [f"請勾選「{page.confirm}」後再按【{page.button}】"]
    return True


def _find_again(form: ActForm, *, plain: bool) -> Ticket | TicketRow:
    """The ticket of the posted code, through the same visibility (and guard) as a lookup, and
    only if it is the ticket the card showed: a forged id cannot reach another ticket. A
    redemption takes it as a plain row (the press's hot path; its answer reads only that)."""
    ticket = services.find(read_store(), form.code.data or "", account_id=current_user.id,
                           plain=plain)
    if ticket.id != form.ticket_id.data:
        raise NotFound(UNKNOWN_CODE, code="unknown_code")
    return ticket


def _card(ticket: Ticket | TicketRow) -> Ticket:
    """The ticket for its card, which reads more of it than a plain row holds."""
    return ticket if isinstance(ticket, Ticket) else _reload(ticket)


def _reload(ticket: Ticket | TicketRow) -> Ticket:
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


# 離線核銷 (offline mode) ---------------------------------------------------------------------
# The redeem page works as an installable web app: a manifest, a service worker (scope
# /counter/) keeping the page and its files, and counter-offline.js, which keeps a signed
# snapshot (app.counter.snapshot) while online, redeems from it while offline and replays its
# queue here when the network is back (app.counter.offline).

def _offline_key() -> Any:  # noqa: ANN401 - an Ed25519 private key
    """The snapshot signing key where this store offers offline redemption, else None (the
    store turned it off, or the server has no signing key)."""
    key = snapshot.signing_key()
    return key if key is not None and offline_enabled(g.store) else None


def _offline_mode(page: CounterPage) -> dict[str, Any] | None:
    """What the redeem page needs to offer offline redemption, or None where it may not: only
    票券核銷, for an account that may redeem, in a store that has not turned it off, on a
    server with a signing key."""
    if page.slug != "redeem" or not may(Function.REDEEM, Level.MODIFY):
        return None
    key = _offline_key()
    if key is None:
        return None
    return {
        "snapshot": url_for("counter.offline_snapshot"), "sync": url_for("counter.offline_sync"),
        "worker": url_for("counter.service_worker"), "manifest": url_for("counter.manifest"),
        "conflicts": url_for("counter.offline_conflicts"),
        "health": url_for("observability.healthz"),
        "public_key": snapshot.public_key_text(key),
        "store": g.store.id, "branch": unit_for(_actor(), g.store).branch_id,
        "account": current_user.id, "max_age": int(snapshot.max_age().total_seconds()),
        "refresh": snapshot.refresh_seconds(),
    }


def _merchant_counter() -> None:
    """A merchant account, else 403 (the operator has no counter)."""
    if current_user.is_operator or g.get("store") is None:
        abort(403)


@bp.get("/sw.js")
def service_worker():
    """The service worker, served from /counter/ so that its scope covers the counter pages
    (a worker's scope is at most the folder it is served from)."""
    response = current_app.send_static_file(SERVICE_WORKER)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: the redeem page installs as 櫃台核銷."""
    body = {
        "name": "ECTicket 櫃台核銷", "short_name": "櫃台核銷", "lang": "zh-Hant-TW",
        "start_url": url_for("counter.redeem"), "scope": url_for("counter.redeem").rsplit("/", 1)[0] + "/",
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#212529",
        "icons": [{"src": url_for("static", filename="favicon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/offline/snapshot")
@login_required
def offline_snapshot():
    """This counter's signed snapshot: 403 without the right to redeem, 404 where offline mode
    is off (the store turned it off, or the server has no signing key)."""
    _merchant_counter()
    if not may(Function.REDEEM, Level.MODIFY):
        abort(403)
    key = _offline_key()
    if key is None:
        abort(404)
    return jsonify(snapshot.sign(snapshot.build(snapshot.Counter(g.store, _actor())), key))


@bp.post("/offline/sync")
@login_required
def offline_sync():
    """A device's queue of offline redemptions, replayed (app.counter.offline): JSON in, one
    answer per entry out. The session and its CSRF token (X-CSRFToken), as the counter's other
    requests. Heard whatever changed since the device redeemed: the store turned offline mode
    off, the branch was disabled, the clerk lost the right to redeem (票券核銷 at 查詢 is
    enough to be heard): what was handed out at the counter is recorded either way, as a
    conflict where the counter's rules now refuse it."""
    _merchant_counter()
    if not may(Function.REDEEM, Level.VIEW):
        return json_error(403, "forbidden", NO_PERMISSION[Function.REDEEM].message)
    try:
        queue = offline.parse_queue(_json_body())
        answers = offline.replay(_actor(), g.store, queue)
    except DomainError as err:
        db.session.rollback()
        return json_error(err.status, err.code, err.message)
    response = jsonify({"results": [answer.as_json() for answer in answers]})
    commit_answered()
    return response


def _json_body() -> Any:
    if not request.is_json:
        raise InvalidInput("請以 JSON 格式送出離線核銷佇列", code="bad_queue")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise Malformed("請求內容的 JSON 巢狀層數過多") from None
    if body is None:
        raise InvalidInput("離線核銷佇列不是有效的 JSON", code="bad_queue")
    return body


CONFLICT_FILTERS = {"open": False, "handled": True, "all": None}


@bp.get("/offline/conflicts")
@login_required
def offline_conflicts():
    """離線核銷衝突: what devices redeemed offline that the server refused when they synced,
    with both sides' facts; a clerk bound to a branch sees its branch's. ?format=xlsx
    downloads the list. Any counter page's function at 查詢."""
    _merchant_counter()
    if not any(may(p.function, Level.VIEW) for p in PAGES.values()):
        abort(403)
    shown = request.args.get("show", "open")
    if shown not in CONFLICT_FILTERS:
        shown = "open"
    branch_id = unit_for(_actor(), g.store).branch_id
    stmt = offline.conflicts_query(g.store, branch_id, handled=CONFLICT_FILTERS[shown])
    if listing.excel_asked():
        return listing.excel("離線核銷衝突", offline.COLUMNS, db.session.scalars(stmt))
    return render("counter/offline_conflicts.html", page=None, pages=PAGES, tab="conflicts",
                  found=paginate(stmt), columns=offline.COLUMNS, shown=shown,
                  may_handle=may(Function.REDEEM, Level.MODIFY), by_branch=branch_id is not None)


@bp.post("/offline/conflicts/<bigint:record_id>/handled")
@login_required
def offline_conflict_handled(record_id: int):
    """處理完畢: the merchant has dealt with a conflict (票券核銷 at 修改)."""
    _merchant_counter()
    if not may(Function.REDEEM, Level.MODIFY):
        abort(403)
    with committed() as outcome:
        offline.mark_handled(_actor(), g.store, record_id, unit_for(_actor(), g.store).branch_id)
    if outcome.saved:
        flash("已標記為處理完畢", "success")
    outcome.flash_error()
    return redirect_to(url_for("counter.offline_conflicts", show=request.args.get("show", "open")))
