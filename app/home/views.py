"""管理後台首頁: the merchant's home (docs/reports.md).

A redeem-after-use (使用後核銷) store sees its dashboard: 近90天發行狀況, 訊息中心, 已發行訂單 of
a chosen period, 商品銷量 and 合約時間 (what each figure means: app.home.rules). The two
switchable cards are also served alone (`/home/status`, `/home/orders`) for their HTMX toggles;
without HTMX those URLs send the browser to the whole page with the same query.

Whose figures: app.reports.scope (a bound sub-account: its branch, forced on the server; a
parent: the sum of its stores or the one it picks, read-only).

An installment-mode (分期核銷) store sees, with the 分期核銷訂單報表 right, 發行統計, 核銷統計 and
退貨統計 of a chosen period (one card, also served alone at `/home/installments` for its
toggle and period), the message centre and the contract with its redemption settings.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_login import current_user, login_required

from app.auth.access import may, merchant_required, store_mode
from app.auth.permissions import Function, Level
from app.db import db
from app.home import dashboard, pending, queries
from app.htmx import is_fragment_request, render
from app.news.models import published
from app.reports import scope as report_scope
from app.stores.models import RedemptionMode

bp = Blueprint("home", __name__)

PAGE = "home/index.html"


@bp.route("/")
@login_required
def root():
    if current_user.is_operator:
        return redirect(url_for("operator.overview"))
    return redirect(url_for("home.index"))


@bp.app_context_processor
def pending_globals() -> dict[str, Any]:
    """`pending_count(key)`: a menu badge's count (app.home.pending), for every page's menu."""
    return {"pending_count": pending.count}


def _has_dashboard() -> bool:
    return store_mode() == RedemptionMode.REDEEM_AFTER_USE.value


def _has_installments() -> bool:
    return (store_mode() == RedemptionMode.INSTALLMENT.value
            and may(Function.INSTALLMENT_REPORTS, Level.VIEW))


def _picked_store() -> str:
    return (request.args.get("store") or "").strip()


@bp.get("/home")
@merchant_required
def index():
    context: dict[str, Any] = {
        "news": db.session.scalars(published().limit(5)).all(),
        "contract": g.store.current_contract, "dashboard": _has_dashboard(), "fees": [],
        "installments": _has_installments(), "pending": pending.items(),
    }
    if may(Function.VENDOR_PROFILE):
        context["fees"] = dashboard.fees(g.store.id, store_mode())
    status = 200
    if context["dashboard"]:
        scope = report_scope.for_request(request.args)
        context.update(_scope_context(scope))
        context.update(dashboard.status_card(scope, request.args))
        if scope.branch_id is None:
            orders, status = dashboard.orders_card(scope, request.args)
            context.update(orders)
            context.update(dashboard.products_card(scope, dict(scope.choices)))
            context["has_tickets"] = queries.has_tickets(scope)
    elif context["installments"]:
        figures, status = dashboard.installment_card((g.store.id,), request.args)
        context.update(figures)
    return render(PAGE, **context), status


def _scope_context(scope: report_scope.ReportScope) -> dict[str, Any]:
    branch = scope.branches()[0] if scope.branch_locked else None
    return {"scope": scope, "branch": branch, "picked_store": _picked_store()}


def _card(block: str, build) -> Any:  # noqa: ANN001
    """One card alone for an HTMX toggle; the whole page for anyone else."""
    if not is_fragment_request():
        return redirect(url_for("home.index", **request.args), 303)
    if not _has_dashboard():
        abort(404)
    scope = report_scope.for_request(request.args)
    context, _status = build(scope)  # a refused period is answered inside the card, and
    context.update(_scope_context(scope))  # HTMX swaps only a 200
    return render(PAGE, block=block, **context)


@bp.get("/home/status")
@merchant_required
def status_card():
    return _card("status_card", lambda scope: (dashboard.status_card(scope, request.args), 200))


@bp.get("/home/orders")
@merchant_required
def orders_card():
    def build(scope: report_scope.ReportScope) -> tuple[dict[str, Any], int]:
        if scope.branch_id is not None:
            abort(404)  # a bound sub-account sees its branch's figures only
        return dashboard.orders_card(scope, request.args)

    return _card("orders_card", build)


@bp.get("/home/installments")
@merchant_required
def installment_card():
    """The 分期核銷 card alone (its measure toggle and period, HTMX); the page for others."""
    if not is_fragment_request():
        return redirect(url_for("home.index", **request.args), 303)
    if not _has_installments():
        abort(404)
    context, _status = dashboard.installment_card((g.store.id,), request.args)
    return render(PAGE, block="installment_card", **context)  # a refused period: in the card
