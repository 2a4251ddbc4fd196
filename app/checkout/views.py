"""五 系統開發管理 › 系統介接設定 (the MerchantID, the HashKey/HashIV pair shown once and
rotatable, the allowed IPs) and 信用卡付款紀錄 (the checkout orders, their card transactions and
their result notices, re-sendable).

Seeing needs 系統介接設定 at 查詢; changing anything needs 修改.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField

from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.checkout import notices, services
from app.checkout.models import CheckoutOrder, NoticeStatus
from app.ecpay import keys
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.web import committed, form_status, saved

bp = Blueprint("checkout", __name__, url_prefix="/vendor/integration")


class AllowedIpsForm(FlaskForm):
    allowed_ips = TextAreaField("允許 IP（每行一個 IP 或網段，留空則不限制）",
                                render_kw={"rows": 5, "autocomplete": "off"})


def _context(**extra) -> dict:  # noqa: ANN003
    store = g.store
    return {"store": store, "key_rows": keys.key_rows(store.id),
            "allowed_ips": keys.allowed_ips_of(store.id), "grace": keys.GRACE,
            "can_modify": may(Function.SYSTEM_INTEGRATION, Level.MODIFY)} | extra


@bp.get("")
@requires(Function.SYSTEM_INTEGRATION)
def integration():
    return render("checkout/integration.html", **_context())


@bp.post("/keys")
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def rotate_keys():
    """【產生新金鑰】: the new pair is on this response only (never stored in plain)."""
    with committed() as outcome:
        pair = keys.rotate(acting_account(), g.store)
    if not outcome.saved:
        outcome.flash_error()
        return redirect_to(url_for("checkout.integration"))
    return render("checkout/integration.html", **_context(new_pair=pair))


@bp.route("/ips", methods=["GET", "POST"])
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def allowed_ips():
    form = AllowedIpsForm(data={"allowed_ips": keys.allowed_ips_of(g.store.id)}) \
        if request.method == "GET" else AllowedIpsForm()
    if done := saved(form, lambda: keys.update_allowed_ips(acting_account(), g.store,
                                                           form.allowed_ips.data or ""),
                     done=lambda changed: ("允許 IP 已更新", "success") if changed
                     else ("允許 IP 未變更", "info"),
                     to=url_for("checkout.integration")):
        return done
    return render("checkout/allowed_ips.html", form=form, **_context()), form_status(form)


@bp.get("/orders")
@requires(Function.SYSTEM_INTEGRATION)
def orders():
    page = paginate(select(CheckoutOrder).order_by(CheckoutOrder.created_at.desc(),
                                                   CheckoutOrder.id.desc()))
    return render("checkout/orders.html", page=page)


@bp.get("/orders/<int:checkout_order_id>")
@requires(Function.SYSTEM_INTEGRATION)
def order(checkout_order_id: int):
    row = get_owned_or_404(CheckoutOrder, checkout_order_id)
    notice = notices.notice_of(row)
    return render("checkout/order.html", order=row, txn=services.transaction_of(row),
                  notice=notice, attempts=notices.attempts_of(notice) if notice else [],
                  NoticeStatus=NoticeStatus,
                  can_modify=may(Function.SYSTEM_INTEGRATION, Level.MODIFY))


@bp.post("/orders/<int:checkout_order_id>/resend")
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def resend(checkout_order_id: int):
    row = get_owned_or_404(CheckoutOrder, checkout_order_id)
    notice = notices.notice_of(row)
    if notice is None:
        flash("此訂單尚未付款，沒有付款結果通知", "warning")
        return redirect_to(url_for("checkout.order", checkout_order_id=row.id))
    with committed() as outcome:
        notices.request_resend(acting_account(), g.store, notice)
    if outcome.saved:
        flash("已重新發送付款結果通知", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("checkout.order", checkout_order_id=row.id))
