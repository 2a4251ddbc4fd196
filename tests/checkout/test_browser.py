"""Browser, on a phone: a merchant's page posts an AioCheckOut form signed with ECPay's stage
keys (the demo store 3002607) → the consumer pays with the test card → the merchant's ReturnURL
(a local HTTP server that fails once) receives a verified notice, retried by the job → the
browser lands on OrderResultURL with the posted, verified result."""

from __future__ import annotations

from datetime import timedelta
from html import escape

import pytest
from playwright.sync_api import expect

from app import clock
from app.checkout import jobs as checkout_jobs
from app.ecpay import checkmac
from tests.browsing import pay_with_test_card, phone_context
from tests.factories import STAGE_KEYS
from tests.installments.notice_helpers import MerchantServer

pytestmark = pytest.mark.browser
RESULT_PAGE = "RESULT RECEIVED"  # the shop's result page (served as text/plain)


def _merchant_page(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                     for k, v in fields.items())
    return (f'<!doctype html><meta charset="utf-8"><form method="post" action="{action}">'
            f'{inputs}<button id="checkout">結帳</button></form>')


def test_pay_with_the_test_card_on_a_phone(app, live_server, browser_instance) -> None:  # noqa: ANN001
    app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    with MerchantServer(script=[(500, "try later"), (200, "1|OK")]) as notify, \
            MerchantServer(script=[(200, RESULT_PAGE)]) as shop:
        notify_port, shop_port = notify._server.server_address[1], shop._server.server_address[1]
        fields = checkmac.signed({
            "MerchantID": "3002607", "MerchantTradeNo": "ectixPW0001",
            "MerchantTradeDate": "2026/11/21 14:05:00", "PaymentType": "aio",
            "TotalAmount": "1200", "TradeDesc": "ectix 票券訂單", "ItemName": "咖啡兌換券 x2#蛋糕券 x1",
            "ReturnURL": f"http://127.0.0.1:{notify_port}/ecpay/return",
            "OrderResultURL": f"http://127.0.0.1:{shop_port}/ecpay/result",
            "ChoosePayment": "Credit", "EncryptType": "1", "CustomField1": "order:42",
        }, *STAGE_KEYS)
        context = phone_context(browser_instance)
        page = context.new_page()
        try:
            page.set_content(_merchant_page(f"{live_server}/Cashier/AioCheckOut/V5", fields))
            page.click("#checkout")
            expect(page.get_by_test_id("amount")).to_have_text("NT$1,200")
            expect(page.get_by_test_id("items")).to_contain_text("蛋糕券 x1")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # a ticket order: its tickets go to the cardholder
            pay_with_test_card(page, holder=("王小明", "0912345678"))
            expect(page.locator("body")).to_contain_text("RESULT RECEIVED")
            assert page.url == f"http://127.0.0.1:{shop_port}/ecpay/result"
        finally:
            context.close()
        # the first notice failed (HTTP 500); the per-minute job retries it 5 minutes later
        assert len(notify.requests) == 1
        with app.app_context():
            clock.freeze(clock.now() + timedelta(minutes=6))
            # the demo's own ticket orders have notices due too (to the sample shop): at least ours
            assert checkout_jobs.payment_notices(clock.now().isoformat()) >= 1
    assert len(notify.requests) == 2
    notice = notify.requests[-1].form
    assert checkmac.verify(notice, *STAGE_KEYS)
    assert (notice["RtnCode"], notice["MerchantTradeNo"], notice["TradeAmt"],
            notice["CustomField1"]) == ("1", "ectixPW0001", "1200", "order:42")
    result = shop.requests[0].form
    assert checkmac.verify(result, *STAGE_KEYS) and result["TradeNo"] == notice["TradeNo"]


def test_a_declined_card_given_up_posts_the_failure_to_the_shop(app, live_server, browser_instance) -> None:  # noqa: ANN001
    app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    with MerchantServer() as notify, MerchantServer(script=[(200, RESULT_PAGE)]) as shop:
        notify_port, shop_port = notify._server.server_address[1], shop._server.server_address[1]
        fields = checkmac.signed({
            "MerchantID": "3002607", "MerchantTradeNo": "ectixPW0002",
            "MerchantTradeDate": "2026/11/21 14:05:00", "PaymentType": "aio",
            "TotalAmount": "300", "TradeDesc": "ectix 票券訂單", "ItemName": "咖啡兌換券 x2",
            "ReturnURL": f"http://127.0.0.1:{notify_port}/ecpay/return",
            "OrderResultURL": f"http://127.0.0.1:{shop_port}/ecpay/result",
            "ChoosePayment": "Credit", "EncryptType": "1",
        }, *STAGE_KEYS)
        context = phone_context(browser_instance)
        page = context.new_page()
        try:
            page.set_content(_merchant_page(f"{live_server}/Cashier/AioCheckOut/V5", fields))
            page.click("#checkout")
            expect(page.get_by_test_id("give-up")).to_have_count(0)
            page.fill("#holder_name", "王小明")
            page.fill("#holder_mobile", "0912345678")
            page.fill("#card_number", "4000 0000 0000 0002")
            page.fill("#expiry", "12/30")
            page.fill("#cvv", "123")
            page.get_by_test_id("pay").click()
            expect(page.get_by_test_id("decline")).to_contain_text("發卡銀行拒絕交易")
            page.get_by_role("button", name="放棄付款，返回商店").click()
            expect(page.locator("body")).to_contain_text(RESULT_PAGE)
            assert page.url == f"http://127.0.0.1:{shop_port}/ecpay/result"
        finally:
            context.close()
    result = shop.requests[0].form
    assert checkmac.verify(result, *STAGE_KEYS)
    assert result["RtnCode"] != "1" and result["RtnMsg"] == "發卡銀行拒絕交易（測試拒絕卡）"
    assert (result["MerchantTradeNo"], result["TradeAmt"]) == ("ectixPW0002", "300")
    assert notify.requests == []  # no ReturnURL notice for an unpaid order
