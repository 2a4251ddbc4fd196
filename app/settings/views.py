"""7-1 操作設定管理: basic settings (基本設定) and ticket-page information (票券頁面資訊).

The page shows the current values of both sections; 【設定】 (modify right only) opens each
section's form on its own page. The history page lists every change of the two sections.
"""

from __future__ import annotations

from flask import Blueprint, g, request, url_for

from app import history
from app.auth.access import acting_account as _actor
from app.auth.access import requires
from app.auth.permissions import Function, Level
from app.htmx import render
from app.settings import rules, services
from app.settings.forms import BasicSettingsForm, OfflineSettingsForm, TicketPageForm
from app.settings.models import StoreSettings
from app.uploads.views import url_for_upload
from app.web import form_status, saved

bp = Blueprint("settings", __name__, url_prefix="/settings")

HISTORY_SHOWN = 200




def _common(settings: StoreSettings) -> dict:
    store = g.store
    return {
        "store": store,
        "settings": settings,
        "sms_available": services.sms_available(store),
        "sms_not_activated": services.SMS_NOT_ACTIVATED,
        "logo_url": url_for_upload(settings.logo),
        "banner_url": url_for_upload(settings.banner),
        "shown_on": rules.SHOWN_ON,
        "social_fields": rules.SOCIAL_FIELDS,
    }


@bp.get("/")
@requires(Function.OPERATION_SETTINGS)
def index():
    settings = services.settings_or_blank(g.store)
    return render("settings/index.html", blocker=services.issuance_blocker(g.store),
                  **_common(settings))


def _said(changed: bool, what: str) -> tuple[str, str]:
    return (f"{what}已儲存", "success") if changed else (f"{what}未變更", "info")


def _form_page(template: str, form):  # noqa: ANN001, ANN202
    """A settings form again: its messages once posted (422), beside the settings as stored."""
    settings = services.settings_or_blank(g.store)
    return render(template, form=form, **_common(settings)), form_status(form)


@bp.route("/basic", methods=["GET", "POST"])
@requires(Function.OPERATION_SETTINGS, Level.MODIFY)
def edit_basic():
    settings = services.settings_or_blank(g.store)
    form = BasicSettingsForm(obj=settings) if request.method == "GET" else BasicSettingsForm()
    if done := saved(form, lambda: services.update_basic(
            _actor(), g.store, sms_on=form.sms_on.data,
            online_return_application=form.online_return_application.data),
            done=lambda changed: _said(changed, "基本設定"), to=url_for("settings.index")):
        return done
    return _form_page("settings/edit_basic.html", form)


@bp.route("/offline", methods=["GET", "POST"])
@requires(Function.OPERATION_SETTINGS, Level.MODIFY)
def edit_offline():
    settings = services.settings_or_blank(g.store)
    form = OfflineSettingsForm(obj=settings) if request.method == "GET" else OfflineSettingsForm()
    if done := saved(form, lambda: services.update_offline(
            _actor(), g.store, enabled=form.offline_enabled.data),
            done=lambda changed: _said(changed, "櫃台離線核銷設定"), to=url_for("settings.index")):
        return done
    return _form_page("settings/edit_offline.html", form)


@bp.route("/ticket-page", methods=["GET", "POST"])
@requires(Function.OPERATION_SETTINGS, Level.MODIFY)
def edit_ticket_page():
    settings = services.settings_or_blank(g.store)
    form = TicketPageForm(obj=settings) if request.method == "GET" else TicketPageForm()
    if done := saved(form, lambda: services.update_ticket_page(
            _actor(), g.store, form.fields_for_service(),
            logo=form.logo.data, banner=form.banner.data,
            remove_logo=form.remove_logo.data, remove_banner=form.remove_banner.data),
            done=lambda changed: _said(changed, "票券頁面資訊"), to=url_for("settings.index")):
        return done
    return _form_page("settings/edit_ticket_page.html", form)


@bp.get("/history")
@requires(Function.OPERATION_SETTINGS)
def settings_history():
    settings = services.settings_or_blank(g.store)
    entries = history.entries_for(settings)[:HISTORY_SHOWN] if settings.id else []
    return render("settings/history.html", entries=entries, store=g.store)
