"""五 系統開發管理 › 系統介接設定 (the MerchantID, the HashKey/HashIV pair shown once and
rotatable, the allowed IPs) and 信用卡付款紀錄 (the checkout orders, their card transactions and
their result notices, re-sendable).

Seeing needs 系統介接設定 at 查詢; changing anything needs 修改.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, g, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app import clock, listing
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.checkout import notices, queries, services
from app.checkout.columns import COLUMNS
from app.checkout.models import CheckoutOrder, NoticeStatus
from app.db import db
from app.ecpay import envelope, keys
from app.errors import InvalidInput
from app.forms import strip
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.products.models import Product
from app.tenancy import get_owned_or_404
from app.web import committed, form_status, saved

bp = Blueprint("checkout", __name__, url_prefix="/vendor/integration")


ORDERS_TITLE = "信用卡付款紀錄"


class OrdersQueryForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("建立日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("建立日期（迄）", filters=[strip], validators=[Length(max=10)])
    status = SelectField("狀態", choices=[SelectChoice(v, label) for v, label in queries.STATUSES],
                         default="", validate_choice=True)
    order_no = StringField("訂單編號", filters=[strip], validators=[Length(max=20)],
                           description="特店訂單編號（MerchantTradeNo）或交易編號")


class AllowedIpsForm(FlaskForm):
    allowed_ips = TextAreaField("允許 IP（每行一個 IP 或網段，留空則不限制）",
                                render_kw={"rows": 5, "autocomplete": "off"})


class AutoCloseForm(FlaskForm):
    auto_close = SelectField("每日自動關帳",
                             choices=[SelectChoice("on", "開啟"), SelectChoice("off", "關閉")],
                             validate_choice=True)


def _context(**extra) -> dict:  # noqa: ANN003
    store = g.store
    return {"store": store, "key_rows": keys.key_rows(store.id),
            "ticket_key_rows": keys.key_rows(store.id, keys.TICKET),
            "platform_id": store.parent.merchant_code if store.parent_id else "",
            "ticket_api_url": f"{current_app.config['PUBLIC_BASE_URL']}/api/Ticket/",
            "allowed_ips": keys.allowed_ips_of(store.id), "grace": keys.GRACE,
            "auto_close": keys.auto_close_of(store.id),
            "can_modify": may(Function.SYSTEM_INTEGRATION, Level.MODIFY)} | extra


def _ticket_example(pair: keys.Pair | None) -> dict[str, str]:
    """The ECTicket example request (QueryItemInfo of one of the store's products): signed with
    `pair` when the page shows a pair just generated, else with placeholders (a pair is shown
    once, so the example never carries one afterwards)."""
    store = g.store
    product_id = db.session.scalar(select(Product.id).where(Product.store_id == store.id)
                                   .order_by(Product.id).limit(1))
    data = {"MerchantID": store.merchant_code, "ItemNo": str(product_id or 1)}
    plaintext = envelope.serialise(data)
    stamp = int(clock.now().timestamp())
    if pair is None:
        body = {"PlatformID": "", "MerchantID": store.merchant_code,
                "RqHeader": {"Timestamp": stamp},
                "Data": "<AES-128-CBC(urlencode(Data 明文), HashKey, HashIV) 的 Base64>",
                "CheckMacValue": "<UPPER(SHA256(lower(urlencode(HashKey + Data 明文 + HashIV))))>"}
    else:
        encrypted, plaintext = envelope.encrypt_json(data, pair.hash_key, pair.hash_iv)
        body = {"PlatformID": "", "MerchantID": store.merchant_code,
                "RqHeader": {"Timestamp": stamp}, "Data": encrypted,
                "CheckMacValue": envelope.ticket_check_mac_value(plaintext, pair.hash_key,
                                                                 pair.hash_iv)}
    return {"url": f"{current_app.config['PUBLIC_BASE_URL']}/api/Ticket/QueryItemInfo",
            "plaintext": plaintext, "signed": "1" if pair else "",
            "body": json.dumps(body, ensure_ascii=False, indent=2)}


@bp.get("")
@requires(Function.SYSTEM_INTEGRATION)
def integration():
    return render("checkout/integration.html", **_context(example=_ticket_example(None)))


@bp.post("/keys")
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def rotate_keys():
    """【產生新金鑰】 (purpose "" shared, "ticket" ECTicket only): the new pair is on this
    response only (never stored in plain), with an ECTicket example signed with it."""
    purpose = request.form.get("purpose", keys.SHARED)
    if purpose not in keys.PURPOSES:
        raise InvalidInput("金鑰用途不正確")
    with committed() as outcome:
        pair = keys.rotate(acting_account(), g.store, purpose)
    if not outcome.saved:
        outcome.flash_error()
        return redirect_to(url_for("checkout.integration"))
    ticket_pair = pair if purpose == keys.TICKET or not keys.key_rows(g.store.id, keys.TICKET) \
        else None
    return render("checkout/integration.html",
                  **_context(new_pair=pair, new_purpose=purpose,
                             new_purpose_label=keys.PURPOSES[purpose],
                             example=_ticket_example(ticket_pair)))


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


@bp.route("/auto-close", methods=["GET", "POST"])
@requires(Function.SYSTEM_INTEGRATION, Level.MODIFY)
def auto_close():
    """每日自動關帳 (信用卡交易設定): on by default; off, the store closes its card transactions
    itself within 21 days and its DoAction calls are answered 20:15–20:30 too."""
    form = AutoCloseForm(data={"auto_close": "on" if keys.auto_close_of(g.store.id) else "off"}) \
        if request.method == "GET" else AutoCloseForm()
    if done := saved(form, lambda: keys.update_auto_close(acting_account(), g.store,
                                                          form.auto_close.data == "on"),
                     done=lambda changed: ("每日自動關帳設定已更新", "success") if changed
                     else ("每日自動關帳設定未變更", "info"),
                     to=url_for("checkout.integration")):
        return done
    return render("checkout/auto_close.html", form=form, **_context()), form_status(form)


@bp.get("/orders")
@requires(Function.SYSTEM_INTEGRATION)
def orders():
    """信用卡付款紀錄: by 建立日期 (the last 30 days unless typed, at most three months) or an
    order number, and status; a page of them or the Excel of the query."""
    form = OrdersQueryForm(formdata=request.args)
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None}
    try:
        start, end = listing.checked_period(form, narrowed=bool(form.order_no.data))
    except InvalidInput as err:
        context["error"] = err.message
        return render("checkout/orders.html", **context), 422
    stmt = queries.orders(queries.Filter(store_id=g.store.id, start=start, end=end,
                                         status=form.status.data or "",
                                         order_no=form.order_no.data or ""))
    if listing.excel_asked():
        return listing.excel(ORDERS_TITLE, COLUMNS,
                             db.session.scalars(stmt.execution_options(yield_per=1_000)))
    context["page"] = paginate(stmt)
    return render("checkout/orders.html", **context)


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
