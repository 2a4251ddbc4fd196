"""Browser, on a phone, as a newcomer after `make run`: the sample shop → one voucher → the
cashier with the test card → the shop's result page says 付款成功, and the shop's notices page
shows the verified ReturnURL notice (the job runs in-process, right after the payment commits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.demo_shop import rules
from app.ecpay import checkmac
from tests.browsing import pay_with_test_card, phone_context

pytestmark = pytest.mark.browser


def test_buy_a_voucher_in_the_sample_shop_and_pay_with_the_test_card(app, live_server,
                                                                     browser_instance):  # noqa: ANN001
    app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    context = phone_context(browser_instance)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/sample-shop/")
        expect(page.locator("html")).to_have_attribute("data-ready", "true")
        expect(page.get_by_test_id("demo-label")).to_have_text("範例商店（示範用，非真實交易）")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.select_option("#item", label="台北門市限定蛋糕券（NT$680）")
        page.select_option("#quantity", "1")
        page.fill("#buyer_name", "王小明")
        page.fill("#buyer_email", "ming@example.com")
        page.get_by_test_id("buy").click()
        # the shop's form goes to the cashier by itself
        expect(page.get_by_test_id("amount")).to_have_text("NT$680")
        expect(page.get_by_test_id("items")).to_contain_text("台北門市限定蛋糕券 x 1")
        assert "/Cashier/pay/" in page.url
        # the demo issuer's orders are ticket orders: the cardholder is asked for
        pay_with_test_card(page, holder=("王小明", "0912345678"))
        expect(page.get_by_test_id("paid")).to_contain_text("付款成功")
        assert page.url == f"{live_server}/sample-shop/result"
        trade_no = page.locator("[data-field=MerchantTradeNo]").inner_text()
        expect(page.locator("[data-field=TradeAmt]")).to_have_text("680")
        page.get_by_role("link", name="查看商店收到的付款結果通知（ReturnURL）").click()
        notice = page.get_by_test_id("notice").first
        expect(notice).to_contain_text(trade_no)
        expect(notice.get_by_test_id("verified")).to_have_text("檢查碼正確")
    finally:
        context.close()
    kept = [json.loads(line) for line in
            Path(app.config["DEMO_SHOP_NOTICES_PATH"]).read_text(encoding="utf-8").splitlines()]
    assert len(kept) == 1 and kept[0]["verified"] is True
    fields = kept[0]["fields"]
    assert checkmac.verify(fields, rules.STAGE_HASH_KEY, rules.STAGE_HASH_IV)
    assert (fields["MerchantTradeNo"], fields["RtnCode"], fields["TradeAmt"],
            fields["CustomField1"]) == (trade_no, "1", "680", "王小明")
