"""Per-request wiring: who is logged in, which store they act for, formatting for templates,
and the one commit of a form post.

`committed(form)` wraps a view's service call: the request's one commit when the call returns;
on a DomainError, a rollback, the error's field messages under the form's fields
(app.forms.place_field_errors) and the rest of it (message, status) for the view to show; a
NotFound still answers 404. `saved(form, work, done=…, to=…)` is a form post's usual end on top
of it: the form checked, the work committed, a flash and a redirect; or None and the form's
messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.local import LocalProxy

from app import clock
from app.auth.access import may
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.auth.request_cache import CachedPrincipal, RequestGlobals
from app.auth.rules import session_expired
from app.auth.services import (
    SEEN,
    SESSION_ID,
    STARTED,
    account_for_session,
    account_for_token,
    scope_for,
    session_ended,
    switchable_stores,
)
from app.bounds import NUL, NUL_MESSAGE, TOO_DEEP_MESSAGE, nul_fields
from app.columns import on_page
from app.db import db
from app.ecpay import wire
from app.errors import DomainError, InvalidInput, Malformed, NotFound
from app.extensions import login_manager
from app.forms import place_field_errors
from app.history import Actor, action_label, field_label, set_actor
from app.htmx import redirect_to
from app.jobs import ensure_local_runner
from app.menu import menu_for_current_user
from app.stores.models import Store
from app.tenancy import set_scope
from app.tickets.status import TicketStatus

# Scripts only from our own files (HTMX and Bootstrap are vendored; no inline script or handler
# anywhere), so an injected <script> or onclick= does not run. Styles keep inline attributes;
# images may be data: URIs (Bootstrap's icons, QR codes) and the camera scanner uses blob: workers.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:", "font-src 'self'", "connect-src 'self'",
    "media-src 'self' blob:", "worker-src 'self' blob:", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"
CACHEABLE_ENDPOINTS = frozenset({"static", "favicon"})
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin"),
                    ("Content-Security-Policy", CONTENT_SECURITY_POLICY))


def init_app(app: Flask) -> None:
    app.app_ctx_globals_class = RequestGlobals  # g.store may be loaded when first read
    # Browsers ask for /favicon.ico on pages that name no icon (a kiosk page, a PDF): the same one.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: redirect(url_for("static", filename="favicon.svg"), 301))
    login_manager.login_view = "auth.login"
    login_manager.login_message = "請先登入"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> Account | CachedPrincipal | None:
        if request.path.startswith("/api/"):
            return None  # the API takes bearer tokens only, so a cookie cannot ride on it (CSRF)
        ident, _, epoch = user_id.partition(".")
        if not ident.isdigit() or not epoch.isdigit():
            return None
        now = int(clock.now().timestamp())
        config = current_app.config
        if session_expired(session.get(STARTED), session.get(SEEN), now,
                           idle_seconds=config["SESSION_IDLE_MINUTES"] * 60,
                           max_seconds=config["SESSION_MAX_HOURS"] * 3600):
            return None  # idle too long, or past its absolute lifetime (or a remember cookie)
        cached = account_for_session(int(ident))
        if cached is None or not cached.is_active or cached.session_epoch != int(epoch):
            return None  # deleted, signed out everywhere, or the password changed since it began
        if session_ended(cached, session.get(SESSION_ID)):
            return None  # logged out in this browser (the cookie was copied before)
        if now - session[SEEN] >= 60:
            session[SEEN] = now  # the idle clock restarts (the cookie is re-signed once a minute)
        if request.endpoint in PRINCIPAL_ENDPOINTS:
            return CachedPrincipal(cached)
        return db.session.merge(cached, load=False)  # the request's own copy, without SQL

    @login_manager.request_loader
    def load_api_user(req):  # noqa: ANN001, ANN202
        if not req.path.startswith("/api/"):
            return None
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return account_for_token(header[len("Bearer "):].strip())

    app.before_request(refuse_unsafe_input)

    @app.before_request
    def load_actor() -> None:
        values = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        set_scope(None)
        values.store = None
        ip = request.remote_addr or ""
        user = current_user._get_current_object()  # type: ignore[attr-defined]  # once, not per read
        if not user.is_authenticated:
            set_actor(Actor(None, "訪客", None, None, ip))
            return
        if user.is_operator:
            set_actor(Actor(user.id, user.username, None, None, ip))
            return
        switched = session.get("store_id")
        if isinstance(user, CachedPrincipal):
            # A principal's acting store is read from the request cache (`read_store`) and
            # copied into the request's session only if a view reads `g.store`.
            store, scope = scope_for(user.cached, switched)
            values.read_store = store
            values.defer_store(lambda: scope_for(user.account, switched)[0])
        else:
            store, scope = scope_for(user, switched)
            values.store = store
        set_scope(scope)
        set_actor(Actor(user.id, user.username, store.id, getattr(user, "branch_id", None), ip))

    @app.before_request
    def start_local_jobs() -> None:
        if current_app.config["JOBS_MODE"] == "thread":
            ensure_local_runner(current_app._get_current_object())  # type: ignore[attr-defined]

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        # Each header unless the view set its own: one pass over the response's headers, not
        # one per header (this runs on every response).
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        if request.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", HSTS)
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            # Pages and fragments carry personal data or a CSRF token: never kept by a browser or
            # a proxy, so the back button after logout or a shared computer shows nothing.
            headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def template_globals() -> dict:
        return {"menu": menu_for_current_user, "may": may, "Function": Function, "Level": Level,
                # Read when a template reads it: a fragment that does not (the counter's
                # press) copies no store into the request's session (`g.defer_store`).
                "current_store": LocalProxy(lambda: g.get("store")),
                "switchable_stores": lambda: switchable_stores(current_user),
                "endpoint_exists": lambda endpoint: endpoint in current_app.view_functions}

    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_datetime, "dt")
    app.add_template_filter(format_date, "d")
    app.add_template_filter(action_label, "history_action")
    app.add_template_filter(field_label, "history_field")
    app.add_template_filter(status_label, "status_label")
    app.add_template_filter(platform_label, "platform")
    app.add_template_filter(on_page, "on_page")  # a list's columns the page shows (app.columns)


# Logged-in routes that only read who acts (and for which store): their account and store are
# read from the request cache, not copied into the request's session (the counter's press,
# the hottest page route; app.auth.request_cache.CachedPrincipal).
PRINCIPAL_ENDPOINTS = frozenset({"counter.act"})
HEADER_KEYS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")  # werkzeug's EnvironHeaders
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_unsafe_input() -> None:
    """Before any view: input that no column can hold is refused here, never a database error.
    A NUL in a path variable is a 404 (no row has that key); in a header, a 400; in a query,
    form or JSON value (or key, or an uploaded file's name), a 422 naming the field. A JSON body
    of the REST API nested deeper than `bounds.MAX_JSON_DEPTH` is a 400 before anything walks it."""
    # One proxy lookup instead of one per read (this runs before every request; each read of
    # `request` goes through werkzeug's LocalProxy).
    req = request._get_current_object()  # type: ignore[attr-defined]
    if any(isinstance(v, str) and NUL in v for v in (req.view_args or {}).values()):
        abort(404)
    # The headers as the WSGI server passed them (what request.headers reads), without building
    # a Headers view of the environ on every request; the cheap NUL test first.
    if any(isinstance(value, str) and NUL in value and name.startswith(HEADER_KEYS)
           for name, value in req.environ.items()):
        raise Malformed(NUL_MESSAGE)
    # Only these bodies are parsed into form fields and files (werkzeug): a JSON body is not,
    # nor the body of ECPay's JSON APIs, JSON whatever its Content-Type (app.ecpay.wire).
    form_body = req.mimetype in FORM_TYPES and not wire.takes_json_body(
        current_app.view_functions.get(req.endpoint or ""))
    # No query string, no query arguments: they are not parsed for nothing.
    queried = (req.args,) if req.environ.get("QUERY_STRING") else ()
    for source in (*queried, req.form) if form_body else queried:
        for name, value in source.items(multi=True):
            if NUL in name or NUL in value:
                raise InvalidInput(NUL_MESSAGE, fields={name.replace(NUL, ""): NUL_MESSAGE})
    for name, upload in req.files.items(multi=True) if form_body else ():
        if NUL in name or NUL in (upload.filename or ""):
            raise InvalidInput(NUL_MESSAGE, fields={name.replace(NUL, ""): NUL_MESSAGE})
    # ECPay's JSON APIs (/api/Ticket, /api/issuance) answer every malformed body in their own
    # envelope (TransCode, HTTP 200): only the REST API is refused here.
    if req.is_json and req.path.startswith("/api/v1/"):
        try:
            # Parsed once: the view's get_json reads the parsed body from the request's cache.
            body = req.get_json(silent=True)
        except RecursionError:
            raise Malformed(TOO_DEEP_MESSAGE) from None
        if body is None:
            return  # not JSON: the view says so (422)
        try:
            found = nul_fields(body)
        except ValueError:
            raise Malformed(TOO_DEEP_MESSAGE) from None
        if found:
            raise InvalidInput(NUL_MESSAGE, fields={path or "body": NUL_MESSAGE for path in found})


def format_money(amount: int | None) -> str:
    """NT$1,200: money is whole New Taiwan dollars."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}NT${abs(amount):,}"


def format_datetime(value: datetime | None) -> str:
    """2026/11/21 14:05 on a Taipei clock."""
    if value is None:
        return ""
    return clock.taipei(value).strftime("%Y/%m/%d %H:%M")


def status_label(value: str | None) -> str:
    """A stored ticket status value in words (— when there is none)."""
    if not value:
        return "—"
    try:
        return TicketStatus(value).label
    except ValueError:
        return value


def platform_text(platform_id: str | None, name: str | None) -> str:
    """A PlatformID as people read it: the platform's name with its id (示範平台（3002612）),
    the platform being the store whose 商店代號 it is; an id no store has, as it is."""
    if not platform_id:
        return ""
    return f"{name}（{platform_id}）" if name else platform_id


def platform_label(platform_id: str | None) -> str:
    """`platform_text` of one PlatformID, its platform's name looked up (a detail page)."""
    name = db.session.scalar(select(Store.name).where(Store.merchant_code == platform_id)
                             .execution_options(unscoped=True)) if platform_id else None
    return platform_text(platform_id, name)


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.taipei(value).date()
    return value.strftime("%Y/%m/%d")


# Form posts ------------------------------------------------------------------------------

T = TypeVar("T")
Done = str | tuple[str, str]  # a flash message, or (message, category)


@dataclass
class Outcome:
    """How a `committed` block ended."""

    form: FlaskForm | None = None
    saved: bool = False  # the call returned and its work is committed
    error: str | None = None  # the refusal's message, unless the form's fields took it
    status: int = 200  # the refusal's HTTP status (422 for InvalidInput)
    refusal: DomainError | None = None  # the refusal itself, for a view that tells kinds apart

    @property
    def refused(self) -> bool:
        return not self.saved

    def flash_error(self) -> None:
        """The refusal's message as a flash, when no field of the form took it."""
        if self.error:
            flash(self.error, "danger")

    def error_on_form(self) -> None:
        """The refusal's message at the top of the form, when no field of it took it."""
        if self.error and self.form is not None:
            self.form.form_errors.append(self.error)


def commit_answered() -> None:
    """Commit a request whose answer is already made (the API's JSON, the counter's fragment):
    nothing reads its loaded objects again, so the commit does not expire them (each would be
    marked stale for nothing, on the hottest path)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


@contextmanager
def committed(form: FlaskForm | None = None, *,
              refusals: type[DomainError] = DomainError) -> Iterator[Outcome]:
    """Commit what the block did; on a refusal (a DomainError, or only `refusals`: say
    InvalidInput, leaving the others to the error pages), roll back and show it: its field
    messages under `form`'s fields, its message in `error` when no field took it, its status.

        with committed(form) as outcome:
            services.rename(actor, thing, form.name.data)
        if outcome.saved:
            flash("已更新", "success")
            return redirect_to(...)
        return render(..., error=outcome.error), outcome.status
    """
    outcome = Outcome(form)
    try:
        yield outcome
    except refusals as err:
        db.session.rollback()
        if isinstance(err, NotFound):  # an id that is not this store's: the 404 page
            raise
        placed = form is not None and place_field_errors(form, err)
        outcome.refusal, outcome.error = err, None if placed else err.message
        outcome.status = err.status
        return
    except Exception:  # anything else: nothing of it is kept, and the error pages answer
        db.session.rollback()
        raise
    db.session.commit()
    outcome.saved = True


def saved(form: FlaskForm, work: Callable[[], T], *, done: Done | Callable[[T], Done],
          to: str | Callable[[T], str], refusals: type[DomainError] = DomainError,
          refusal_on_form: bool = False) -> Response | None:
    """Validate a posted form and run `work` (the service call) inside `committed(form)`. Saved:
    flash `done` (a message, or (message, category)) and redirect to `to`; either may be a
    function of what `work` returned. Otherwise None, and the view renders the form: its
    fields' messages, a refusal no field took as a flash (at the top of the form with
    `refusal_on_form`)."""
    if not form.validate_on_submit():
        return None
    with committed(form, refusals=refusals) as outcome:
        result = work()
    if outcome.refused:
        outcome.error_on_form() if refusal_on_form else outcome.flash_error()
        return None
    said = done(result) if callable(done) else done
    message, category = (said, "success") if isinstance(said, str) else said
    flash(message, category)
    return redirect_to(to(result) if callable(to) else to)


def form_status(form: FlaskForm) -> int:
    """The status of a page showing a form again: 422 once it was posted (with its messages)."""
    return 422 if form.is_submitted() else 200
