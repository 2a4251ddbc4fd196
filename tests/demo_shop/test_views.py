"""The sample shop through the client: the shop page, a purchase that builds a signed
AioCheckOut form the cashier accepts, the ReturnURL answer, the result page, the notices page,
and no shop where it is not asked for or not allowed."""

from __future__ import annotations

import ast
import re
from html import unescape
from pathlib import Path

import pytest

from app import clock, create_app
from app import config as app_config
from app.db import db
from app.ecpay import checkmac
from tests.conftest import base_config
from tests.core.test_imports import LAYER_OF, _imports
from tests.factories import STAGE_KEYS, make_checkout_store

CARD = {"card_number": "4311-9522-2222-2222", "expiry": "12/30", "cvv": "222", "plan": "once"}
BUYER = {"item": "0", "quantity": "2", "buyer_name": "王小明", "buyer_email": "ming@example.com"}
LOCAL_RETURN = "https://127.0.0.1/ecpay/return"  # refused by the SSRF guard at once: no network
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _form_fields(html: str, testid: str) -> dict[str, str]:
    start = html.index(f'data-testid="{testid}"')
    block = html[html.rindex("<form", 0, start):html.index("</form>", start)]
    return {unescape(k): unescape(v) for k, v in _HIDDEN.findall(block)}


def _result(**fields: str) -> dict[str, str]:
    base = {"MerchantID": "3002607", "MerchantTradeNo": "DEMO2611211405090001",
            "TradeNo": "2611211405091234", "TradeAmt": "300", "RtnCode": "1", "RtnMsg": "交易成功",
            "PaymentDate": "2026/11/21 14:06:00", "PaymentType": "Credit_CreditCard",
            "CustomField1": "王小明", "SimulatePaid": "0"}
    return checkmac.signed(base | fields, *STAGE_KEYS)


def test_the_shop_page_lists_the_demo_issuers_vouchers(client):
    page = client.get("/sample-shop/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "範例商店（示範用，非真實交易）" in html and 'name="viewport"' in html
    assert "咖啡兌換券" in html and "NT$680" in html and "甜點招待券" in html
    assert 'name="csrf_token"' in html and "<script>" not in html


def test_buying_builds_a_signed_form_the_cashier_takes_and_pays(app, ctx, client):
    store = make_checkout_store()
    db.session.commit()
    app.config.update(DEMO_SHOP_MERCHANT_ID=store.merchant_code, DEMO_SHOP_RETURN_URL=LOCAL_RETURN)
    page = client.post("/sample-shop/buy", data=BUYER)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-autosubmit" in html and "前往付款" in html
    assert "/static/js/autosubmit.js" in html
    fields = _form_fields(html, "checkout-form")
    assert checkmac.verify(fields, *STAGE_KEYS) and "csrf_token" not in fields
    assert (fields["ItemName"], fields["TotalAmount"], fields["MerchantID"]) == (
        "咖啡兌換券 x 2", "300", store.merchant_code)
    assert re.fullmatch(r"DEMO\d{16}", fields["MerchantTradeNo"])
    assert fields["OrderResultURL"] == "http://localhost/sample-shop/result"
    assert fields["CustomField1"] == "王小明"
    assert _form_action(html) == "http://localhost/Cashier/AioCheckOut/V5"
    # the cashier takes it: the payment page, then the card, then the result for the shop
    accepted = client.post("/Cashier/AioCheckOut/V5", data=fields, csrf=False)
    assert accepted.status_code == 303, accepted.get_data(as_text=True)[:300]
    pay_url = accepted.headers["Location"]
    pay_page = client.get(pay_url).get_data(as_text=True)
    assert "NT$300" in pay_page and "咖啡兌換券 x 2" in pay_page
    assert client.post(pay_url, data=CARD).status_code == 303
    result = _form_fields(client.get(pay_url).get_data(as_text=True), "result-form")
    shown = client.post("/sample-shop/result", data=result, csrf=False)
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "付款成功" in text and fields["MerchantTradeNo"] in text
    assert "回範例商店" in text and 'href="/login"' in text


def _form_action(html: str) -> str:
    return unescape(re.search(r'<form method="post" action="([^"]+)" data-autosubmit', html)[1])


def test_the_default_return_url_is_the_shops_own_notify(client):
    html = client.post("/sample-shop/buy", data=BUYER).get_data(as_text=True)
    fields = _form_fields(html, "checkout-form")
    assert fields["ReturnURL"] == "http://localhost/sample-shop/notify"
    assert fields["MerchantID"] == "3002607"


def test_a_cashier_elsewhere_is_allowed_as_the_forms_target(app, client):
    app.config["DEMO_SHOP_CASHIER_URL"] = "https://payment-stage.example/Cashier/AioCheckOut/V5"
    page = client.post("/sample-shop/buy", data=BUYER)
    assert _form_action(page.get_data(as_text=True)) == app.config["DEMO_SHOP_CASHIER_URL"]
    assert "form-action 'self' https://payment-stage.example;" in page.headers[
        "Content-Security-Policy"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("buyer_name", "", "請輸入購買人姓名"), ("buyer_email", "ming", "請輸入有效的電子信箱"),
    ("quantity", "6", None), ("item", "9", None), ("quantity", "x", None),
])
def test_a_bad_purchase_shows_the_shop_again(client, field, value, message):
    page = client.post("/sample-shop/buy", data=BUYER | {field: value})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "data-autosubmit" not in html and "is-invalid" in html
    assert message is None or message in html


def test_buying_without_the_shops_csrf_token_is_refused(client):
    page = client.post("/sample-shop/buy", data=BUYER, csrf=False)
    assert page.status_code == 400 and "data-autosubmit" not in page.get_data(as_text=True)


def test_a_verified_notice_is_answered_ok_and_listed(client):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 14, 6))
    answer = client.post("/sample-shop/notify", data=_result(), csrf=False)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "1|OK")
    page = client.get("/sample-shop/notices").get_data(as_text=True)
    assert "DEMO2611211405090001" in page and "檢查碼正確" in page and "2026/11/21 14:06" in page


def test_a_tampered_notice_is_answered_mac_error_and_listed_as_such(client):
    tampered = _result() | {"TradeAmt": "1"}
    answer = client.post("/sample-shop/notify", data=tampered, csrf=False)
    assert answer.get_data(as_text=True) == "0|CheckMacValue Error"
    page = client.get("/sample-shop/notices").get_data(as_text=True)
    assert "檢查碼錯誤" in page and "檢查碼正確" not in page


def test_no_notice_yet(client):
    page = client.get("/sample-shop/notices")
    assert page.status_code == 200 and "尚未收到付款結果通知" in page.get_data(as_text=True)


def test_the_result_page_says_failed_for_a_verified_failure_and_refuses_a_tampered_one(client):
    failed = client.post("/sample-shop/result", csrf=False,
                         data=_result(RtnCode="10100058", RtnMsg="付款失敗"))
    assert failed.status_code == 200 and "付款失敗" in failed.get_data(as_text=True)
    tampered = client.post("/sample-shop/result", data=_result() | {"RtnCode": "1", "TradeAmt": "9"},
                           csrf=False)
    html = tampered.get_data(as_text=True)
    assert tampered.status_code == 400 and "無法確認付款結果" in html and "付款成功" not in html


@pytest.mark.parametrize("values", [
    {"item": "99999999999999999999", "quantity": "-5"}, {"buyer_name": "長" * 400},
    {"buyer_email": "%FF%FE"}, {"item": "", "quantity": ""},
])
def test_hostile_input_is_never_a_server_error(client, values):
    statuses = [client.post("/sample-shop/buy", data=BUYER | values).status_code,
                client.post("/sample-shop/notify", data=values, csrf=False).status_code,
                client.post("/sample-shop/result", data=values, csrf=False).status_code,
                client.get("/sample-shop/notices", query_string=values).status_code,
                client.post("/sample-shop/result", data="CheckMacValue=x%00y", csrf=False,
                            content_type="application/x-www-form-urlencoded").status_code]
    assert all(status < 500 for status in statuses), statuses


def _app(tmp_path: Path, **config: object):  # noqa: ANN202
    return create_app(base_config(f"sqlite:///{tmp_path / 'unused.sqlite3'}") | config)


def test_no_shop_unless_asked_for(tmp_path):
    app = _app(tmp_path, DEMO_SHOP=False)
    assert "demo_shop" not in app.blueprints
    assert app.test_client().get("/sample-shop/").status_code == 404


def test_no_shop_on_a_production_app_even_when_asked_for(tmp_path, caplog):
    app = _app(tmp_path, DEMO_SHOP=True, TESTING=False, DEBUG=False)
    assert "demo_shop" not in app.blueprints
    assert "ECTIX_DEMO_SHOP is ignored" in caplog.text


def test_the_debug_server_serves_the_shop(tmp_path):
    app = _app(tmp_path, DEMO_SHOP=True, TESTING=False, DEBUG=True)
    assert "demo_shop" in app.blueprints


def test_the_environment_turns_the_shop_and_loopback_notices_on(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("ECTIX_NOTICE_ALLOW_LOOPBACK", "1")
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    production = app_config.from_environment()
    monkeypatch.setenv("FLASK_DEBUG", "1")
    debug = app_config.from_environment()
    assert production["DEMO_SHOP"] is True  # (the autouse fixture set ECTIX_DEMO_SHOP=1)
    assert production["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] is False
    assert debug["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] is True


def test_the_shop_talks_to_ectix_by_http_only():
    """It plays the merchant's system: of the app's packages it imports platform ones only
    (app.ecpay.checkmac), never checkout's services or models."""
    shop = Path(__file__).resolve().parents[2] / "app" / "demo_shop"
    imported = {module.split(".")[1] for path in shop.rglob("*.py")
                for _, modules in _imports(ast.parse(path.read_text(encoding="utf-8")))
                for module in modules if module.startswith("app.") and module.count(".") >= 1}
    packages = {name for name in imported if name in LAYER_OF and name != "demo_shop"}
    assert packages and all(LAYER_OF[name] == 0 for name in packages), packages
