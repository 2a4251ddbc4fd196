"""Browser, the card back office (信用卡收單) after a sale: a consumer pays in the sample shop (a
ticket order: the demo issuer runs the ECTicket issuance service); the merchant finds the
transaction, whose close is refused until its tickets are issued, batch-closes a card sale that
is not a ticket order, refunds part of it, puts the consumer's card on the reject list (拒絕名單);
the next checkout with that card is refused with the reason and nothing is charged."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.checkout.models import CardTransaction, CheckoutOrder, TransactionStatus
from app.credit.models import CardRefund
from app.credit.rejects import CARD_REFUSED
from app.db import db
from tests.browsing import log_in, pay_with_test_card, phone_context

pytestmark = pytest.mark.browser
HOLDER = ("林小美", "0911222333")
PLAIN_SALE = "DEMOCARD0001"  # the demo's card sale that is not a ticket order, authorised


def _buy(browser_instance, live_server: str) -> object:  # noqa: ANN001
    """A phone page on the cashier, a 咖啡兌換券 in its basket (the caller closes its context)."""
    context = phone_context(browser_instance)
    page = context.new_page()
    page.goto(f"{live_server}/sample-shop/")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    page.select_option("#item", label="咖啡兌換券（NT$150）")
    page.select_option("#quantity", "2")
    page.fill("#buyer_name", HOLDER[0])
    page.fill("#buyer_email", "mei@example.com")
    page.get_by_test_id("buy").click()
    expect(page.get_by_test_id("amount")).to_have_text("NT$300")
    return context, page


def test_close_refund_and_refuse_the_card(app, live_server, browser_instance, page) -> None:  # noqa: ANN001
    app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    context, phone = _buy(browser_instance, live_server)
    try:
        pay_with_test_card(phone, holder=HOLDER)
        expect(phone.get_by_test_id("paid")).to_contain_text("付款成功")
        trade_no = phone.locator("[data-field=MerchantTradeNo]").inner_text()
    finally:
        context.close()

    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "issuer")
    page.goto(f"{live_server}/vendor/credit/transactions?order_no={trade_no}")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    row = page.get_by_test_id("txn-row")
    expect(row.get_by_test_id("status")).to_have_text("已授權")
    row.locator("input.txn-check").check()
    page.get_by_test_id("batch-close").click()
    expect(page.get_by_test_id("closed-count")).to_have_text("0")
    expect(page.get_by_test_id("refusal")).to_contain_text("待發行的票券訂單")

    page.goto(f"{live_server}/vendor/credit/transactions?order_no={PLAIN_SALE}")
    row = page.get_by_test_id("txn-row")
    expect(row.get_by_test_id("status")).to_have_text("已授權")
    row.locator("input.txn-check").check()
    page.get_by_test_id("batch-close").click()
    expect(page.get_by_test_id("closed-count")).to_have_text("1")

    page.goto(f"{live_server}/vendor/credit/transactions?order_no={PLAIN_SALE}")
    page.get_by_test_id("txn-row").get_by_test_id("detail-link").click()
    expect(page.get_by_test_id("status")).to_have_text("要關帳")
    page.get_by_label("退刷金額").fill("100")
    page.get_by_test_id("refund").click()
    expect(page.locator("body")).to_contain_text("已退刷 NT$100")
    expect(page.get_by_test_id("refund-row")).to_have_count(1)

    page.get_by_role("navigation", name="主選單").get_by_role("link", name="拒絕名單").click()
    page.get_by_label("信用卡卡號").fill("4311-9522-2222-2222")
    page.get_by_role("button", name="新增送出").click()
    expect(page.get_by_test_id("reject-list")).to_contain_text("2222")

    context, phone = _buy(browser_instance, live_server)
    try:
        pay_with_test_card(phone, holder=HOLDER)
        expect(phone.get_by_test_id("decline")).to_contain_text(CARD_REFUSED)
    finally:
        context.close()
    with app.app_context():
        sale = db.session.scalar(select(CardTransaction).join(CardTransaction.order).where(
            CheckoutOrder.merchant_trade_no == trade_no))
        assert sale.status is TransactionStatus.AUTHORISED  # captured when its tickets are issued
        plain = db.session.scalar(select(CardTransaction).join(CardTransaction.order).where(
            CheckoutOrder.merchant_trade_no == PLAIN_SALE))
        assert plain.status is TransactionStatus.CLOSE_REQUESTED
        assert db.session.scalar(select(CardRefund.amount).where(
            CardRefund.transaction_id == plain.id)) == 100
        assert db.session.scalar(select(func.count()).select_from(CardTransaction).where(
            CardTransaction.card_last4 == "2222", CardTransaction.id > sale.id)) == 0
