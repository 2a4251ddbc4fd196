"""The public cashier (付款頁): `POST /Cashier/AioCheckOut/V5` from the merchant's page, the
payment page it leads to, and `POST /Cashier/QueryTradeInfo/V5` server to server.

The AioCheckOut form comes from another site (no CSRF token: the CheckMacValue is its proof);
the payment page's own form carries one. The page's address holds an unguessable token.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, make_response, render_template, request, url_for

from app import clock, ratelimit
from app.checkout import rules, services
from app.checkout.acquirer import read_card
from app.checkout.models import OrderStatus
from app.db import db
from app.extensions import csrf
from app.htmx import redirect_to
from app.web import CONTENT_SECURITY_POLICY

bp = Blueprint("cashier", __name__, url_prefix="/Cashier")

# Declined cards are counted: someone trying card numbers is stopped, a consumer who mistypes
# once or twice is not.
DECLINES_PER_IP = ratelimit.Rule("card-decline-ip", "10/10 minutes",
                                 "付款失敗次數過多，請 10 分鐘後再試")


def _error_page(error: rules.CheckoutError) -> Response:
    db.session.rollback()
    return make_response(render_template("checkout/error.html", error=error), 200)


@bp.post("/AioCheckOut/V5")
@csrf.exempt
def aio_checkout():
    accepted = services.accept(request.form.items(multi=True))
    if accepted.error is not None:
        return _error_page(accepted.error)
    assert accepted.order is not None
    token = accepted.order.token
    db.session.commit()
    return redirect_to(url_for("cashier.pay", token=token))


def _page(order, *, problems=None, decline: str = "", status: int = 200):  # noqa: ANN001, ANN202
    return render_template("checkout/pay.html", order=order, offers=services.offers(order),
                           asks_holder=services.asks_holder(order),
                           may_give_up=services.may_give_up(order),
                           problems=problems or {}, decline=decline,
                           lines=[line for line in order.item_name.split("#") if line]), status


def _result(order):  # noqa: ANN001, ANN202
    """The finished page (paid, or failed): posts the result to OrderResultURL (a small script
    submits it; the button does without), else offers ClientBackURL."""
    fields = services.result_for_browser(order) if order.order_result_url else None
    response = make_response(render_template("checkout/result.html", order=order,
                                             fields=fields, paid=order.status is OrderStatus.PAID,
                                             txn=services.transaction_of(order)))
    if fields is not None:
        parts = urlsplit(order.order_result_url.strip())
        origin = f"{parts.scheme}://{parts.netloc}"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {origin}")
    return response


@bp.get("/pay/<token>")
def pay(token: str):
    order = services.order_by_token(token) or abort(404)
    if order.status is not OrderStatus.PENDING:
        return _result(order)
    return _page(order)


@bp.post("/pay/<token>")
def pay_submit(token: str):
    order = services.order_by_token(token, lock=True) or abort(404)
    if order.status is not OrderStatus.PENDING:
        db.session.rollback()
        return redirect_to(url_for("cashier.pay", token=token))
    if order.failed_attempts >= services.MAX_DECLINES_PER_ORDER:  # locked before it could fail
        services.fail(order, services.ORDER_LOCKED)
        db.session.commit()
        return redirect_to(url_for("cashier.pay", token=token))
    ip = request.remote_addr or ""
    try:
        ratelimit.check(DECLINES_PER_IP, ip)
    except ratelimit.TooManyAttempts as refused:
        db.session.rollback()
        return _page(order, decline=refused.message, status=429)
    card, problems = read_card(request.form.get("card_number", ""), request.form.get("expiry", ""),
                               request.form.get("cvv", ""), today=clock.business_day())
    choice = services.parse_choice(order, request.form.get("plan", "once"))
    if choice is None:
        problems["plan"] = "請選擇付款方式"
    holder = None
    asks_holder = services.asks_holder(order)
    if asks_holder:
        holder, holder_problems = rules.read_holder(request.form.get("holder_name", ""),
                                                    request.form.get("holder_mobile", ""),
                                                    request.form.get("holder_email", ""))
        problems.update(holder_problems)
    if card is None or choice is None or (asks_holder and holder is None):
        db.session.rollback()
        return _page(order, problems=problems, status=422)
    payment = services.pay(order, card, periods=choice[0], consumer_periods=choice[1],
                           holder=holder, ip=ip)
    db.session.commit()
    if not payment.approved:
        ratelimit.count_failure(DECLINES_PER_IP, ip)
        if not payment.failed:
            return _page(order, decline=payment.reason, status=422)
    return redirect_to(url_for("cashier.pay", token=token))


@bp.post("/pay/<token>/give-up")
def give_up(token: str):
    """【放棄付款，返回商店】 after a decline: the order fails and the page sends its result to
    the merchant (OrderResultURL, else the ClientBackURL link)."""
    order = services.order_by_token(token, lock=True) or abort(404)
    services.give_up(order)
    db.session.commit()
    return redirect_to(url_for("cashier.pay", token=token))


@bp.post("/QueryTradeInfo/V5")
@csrf.exempt
def query_trade_info():
    fields, repeated = services.form_fields(request.form.items(multi=True))
    if repeated is not None:
        answer = {"TradeStatus": "10000100", "RtnMsg": f"Invalid parameter: {repeated}"}
    else:
        answer = services.query_trade_info(fields, request.remote_addr or "")
    db.session.rollback()
    return Response(urlencode(answer), 200, content_type="text/html; charset=utf-8")
