"""8-1 操作設定管理: the 發行前置設定 block (the refund-notification URL and the key its notices
are signed with), its edit form (【設定】 opens it, 【修改】 saves) and its history (【歷程】).

Seeing the page needs 操作設定管理 at 查詢; changing anything needs 修改 (the buttons are hidden
without it, and the services refuse too).
"""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from app import history
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.forms import Rule, strip
from app.htmx import redirect_to, render
from app.installments import settings as services
from app.installments.blueprint import bp
from app.web import committed, form_status, saved

HISTORY_SHOWN = 200


class RefundUrlForm(FlaskForm):
    refund_notify_url = StringField(
        "退款結果主動通知 URL", filters=[strip], validators=[Rule(services.url_problem)],
        render_kw={"maxlength": services.URL_MAX, "placeholder": "https://",
                   "inputmode": "url", "autocomplete": "off"})


def _page_context() -> dict:
    store = g.store
    return {"store": store, "settings": services.settings_or_blank(store.id),
            "domains": services.allowed_domains(store.id),
            "can_modify": may(Function.INSTALLMENT_SETTINGS, Level.MODIFY)}


@bp.get("/settings")
@requires(Function.INSTALLMENT_SETTINGS)
def settings():
    return render("installments/settings.html", **_page_context())


@bp.route("/settings/refund-url", methods=["GET", "POST"])
@requires(Function.INSTALLMENT_SETTINGS, Level.MODIFY)
def settings_edit():
    current = services.settings_or_blank(g.store.id)
    form = RefundUrlForm(obj=current) if request.method == "GET" else RefundUrlForm()
    if done := saved(form, lambda: services.update_refund_url(
            acting_account(), g.store, form.refund_notify_url.data or ""),
            done=lambda changed: ("退款結果主動通知 URL 已修改", "success") if changed
            else ("退款結果主動通知 URL 未變更", "info"),
            to=url_for("installments.settings")):
        return done
    return render("installments/settings_edit.html", form=form,
                  **_page_context()), form_status(form)


@bp.post("/settings/secret")
@requires(Function.INSTALLMENT_SETTINGS, Level.MODIFY)
def settings_secret():
    """【重新產生】 the signing key."""
    with committed() as outcome:
        services.regenerate_secret(acting_account(), g.store)
    if outcome.saved:
        flash("已重新產生簽章金鑰，請更新貴司驗證退款通知所用的金鑰", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("installments.settings"))


@bp.get("/settings/history")
@requires(Function.INSTALLMENT_SETTINGS)
def settings_history():
    current = services.settings_or_blank(g.store.id)
    entries = history.entries_for(current)[:HISTORY_SHOWN] if current.id else []
    return render("installments/settings_history.html", entries=entries, store=g.store)
