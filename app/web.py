"""Per-request wiring: who is logged in, which store they act for, formatting for templates."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, current_app, g, request, session
from flask_login import current_user

from app import clock
from app.auth.access import may
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.auth.services import account_for_token, request_account_options, scope_for, switchable_stores
from app.db import db
from app.extensions import login_manager
from app.history import Actor, action_label, field_label, set_actor
from app.jobs import ensure_local_runner
from app.menu import menu_for_current_user
from app.tenancy import set_scope
from app.tickets.status import TicketStatus


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "請先登入"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> Account | None:
        if request.path.startswith("/api/"):
            return None  # the API takes bearer tokens only, so a cookie cannot ride on it (CSRF)
        ident, _, epoch = user_id.partition(".")
        if not ident.isdigit() or not epoch.isdigit():
            return None
        account = db.session.get(Account, int(ident), options=request_account_options(),
                                 execution_options={"unscoped": True})
        if account is None or not account.is_active or account.session_epoch != int(epoch):
            return None  # deleted, or the password changed since this session began
        return account

    @login_manager.request_loader
    def load_api_user(req):  # noqa: ANN001, ANN202
        if not req.path.startswith("/api/"):
            return None
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        found = account_for_token(header[len("Bearer "):].strip())
        if found is None:
            return None
        if db.session.dirty:  # last_used_at, at most once a minute (a commit expires everything)
            db.session.commit()
        return found[0]

    @app.before_request
    def load_actor() -> None:
        set_scope(None)
        g.store = None
        ip = request.remote_addr or ""
        if not current_user.is_authenticated:
            set_actor(Actor(None, "訪客", None, None, ip))
            return
        if current_user.is_operator:
            set_actor(Actor(current_user.id, current_user.username, None, None, ip))
            return
        store, scope = scope_for(current_user, session.get("store_id"))
        g.store = store
        set_scope(scope)
        set_actor(Actor(current_user.id, current_user.username, store.id,
                        getattr(current_user, "branch_id", None), ip))

    @app.before_request
    def start_local_jobs() -> None:
        if current_app.config["JOBS_MODE"] == "thread":
            ensure_local_runner(current_app._get_current_object())  # type: ignore[attr-defined]

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def template_globals() -> dict:
        return {"menu": menu_for_current_user, "may": may, "Function": Function, "Level": Level,
                "current_store": g.get("store"),
                "switchable_stores": lambda: switchable_stores(current_user),
                "endpoint_exists": lambda endpoint: endpoint in current_app.view_functions}

    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_datetime, "dt")
    app.add_template_filter(format_date, "d")
    app.add_template_filter(action_label, "history_action")
    app.add_template_filter(field_label, "history_field")
    app.add_template_filter(status_label, "status_label")


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


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.taipei(value).date()
    return value.strftime("%Y/%m/%d")
