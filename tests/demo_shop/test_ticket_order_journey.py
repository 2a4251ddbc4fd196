"""Browser, the whole card journey of a ticket order (issue: card checkout): the sample shop
posts an AioCheckOut order, the consumer pays with the test card on a phone, the merchant's
ReturnURL (a local HTTP server that fails once) receives a verified notice on the retry, the
order appears in 未發行訂單管理, is ticked and exported as an issuance file, uploaded as a batch
and issued as is — and its card authorisation is captured (要關帳)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app import clock
from app.checkout import jobs as checkout_jobs
from app.checkout import notices as checkout_notices
from app.checkout.models import (
    CheckoutOrder,
    NoticeStatus,
    PaymentNotice,
    PaymentNoticeAttempt,
    TransactionStatus,
)
from app.db import db
from app.ecpay import checkmac
from app.tickets.models import Order
from app.unissued.models import TicketOrder, TicketOrderState
from tests.browsing import log_in, pay_with_test_card, phone_context
from tests.factories import STAGE_KEYS
from tests.installments.notice_helpers import MerchantServer

pytestmark = pytest.mark.browser


def _pay_on_a_phone(browser_instance, live_server: str) -> str:  # noqa: ANN001
    context = phone_context(browser_instance)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/sample-shop/")
        expect(page.locator("html")).to_have_attribute("data-ready", "true")
        page.select_option("#item", label="咖啡兌換券（NT$150）")
        page.select_option("#quantity", "2")
        page.fill("#buyer_name", "林小美")
        page.fill("#buyer_email", "mei@example.com")
        page.get_by_test_id("buy").click()
        expect(page.get_by_test_id("amount")).to_have_text("NT$300")
        pay_with_test_card(page, holder=("林小美", "0911222333"))
        expect(page.get_by_test_id("paid")).to_contain_text("付款成功")
        trade_no = page.locator("[data-field=MerchantTradeNo]").inner_text()
        assert trade_no.startswith("DEMO")
        return trade_no
    finally:
        context.close()


def test_a_ticket_order_from_the_shop_to_issued_and_captured(app, live_server, browser_instance,
                                                             page, tmp_path) -> None:  # noqa: ANN001
    app.config["CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    with MerchantServer(script=[(500, "busy"), (200, "1|OK")]) as merchant:
        app.config["DEMO_SHOP_RETURN_URL"] = merchant.url
        trade_no = _pay_on_a_phone(browser_instance, live_server)
        assert len(merchant.requests) == 1  # the first notice failed (HTTP 500)
        with app.app_context():
            ours = db.session.scalar(
                select(PaymentNotice).join(CheckoutOrder, CheckoutOrder.id == PaymentNotice.order_id)
                .where(CheckoutOrder.merchant_trade_no == trade_no).execution_options(unscoped=True))
            assert (ours.status, ours.attempts) == (NoticeStatus.PENDING, 1)
            assert ours.id not in checkout_notices.due_notice_ids()  # not before its 5 minutes
            clock.freeze(clock.now() + timedelta(minutes=6))
            # the demo's own ticket orders may have notices due too (to the sample shop): ours is
            # among those the job queues
            assert ours.id in checkout_notices.due_notice_ids()
            assert checkout_jobs.payment_notices(clock.now().isoformat()) >= 1
            clock.unfreeze()
            db.session.expire_all()
            assert (ours.status, ours.attempts) == (NoticeStatus.SUCCEEDED, 2)
            tries = db.session.scalars(select(PaymentNoticeAttempt)
                                       .where(PaymentNoticeAttempt.notice_id == ours.id)
                                       .order_by(PaymentNoticeAttempt.id)).all()
            assert [(t.http_status, t.succeeded) for t in tries] == [(500, False), (200, True)]
    # exactly two requests: the first answered HTTP 500 "busy", the second 1|OK (the script)
    assert len(merchant.requests) == 2
    refused, accepted = (r.form for r in merchant.requests)
    assert refused == accepted  # the retry sends the same notice, same CheckMacValue
    assert checkmac.verify(accepted, *STAGE_KEYS)
    assert (accepted["RtnCode"], accepted["MerchantTradeNo"], accepted["TradeAmt"]) == (
        "1", trade_no, "300")

    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "issuer")
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="未發行訂單管理").click()
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    row = page.locator(f'[data-testid=unissued-row][data-order-no="{trade_no}"]')
    expect(row.get_by_test_id("status")).to_have_text("可發行")
    expect(row).to_contain_text("林小美")
    row.get_by_role("checkbox").check()
    with page.expect_download() as download:
        page.get_by_test_id("export-selected").click()
    issuance_file = tmp_path / "issue.xlsx"
    download.value.save_as(issuance_file)

    page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券發行").click()
    page.get_by_role("radio", name="電子票券", exact=True).check()
    page.get_by_role("radio", name="即期票券", exact=True).check()
    page.get_by_role("radio", name="提貨券", exact=True).check()
    page.get_by_label("匯入單號").fill("CARD-1")
    page.get_by_label("發行資料檔案（.xlsx）").set_input_files(str(issuance_file))
    page.get_by_role("button", name="確認匯入").click()
    expect(page.get_by_test_id("wrong-row")).to_have_count(0)
    page.get_by_role("button", name="確認發行").click()
    status = page.get_by_test_id("batch-row").first.get_by_test_id("batch-status")
    expect(status).to_have_text("發行成功", timeout=15_000)

    page.goto(f"{live_server}/unissued-orders/?state=issued")
    issued = page.locator(f'[data-testid=unissued-row][data-order-no="{trade_no}"]')
    expect(issued.get_by_test_id("status")).to_have_text("已發行")
    issued.get_by_test_id("detail-link").click()
    expect(page.get_by_test_id("txn-status")).to_have_text("要關帳")
    with app.app_context():
        row = db.session.scalar(select(TicketOrder).where(TicketOrder.merchant_order_no == trade_no))
        order = db.session.get(Order, row.issued_order_id)
        assert row.state is TicketOrderState.ISSUED
        assert row.transaction.status is TransactionStatus.CLOSE_REQUESTED
        assert (order.merchant_order_no, order.ticket_count, order.purchaser_name) == (
            trade_no, 2, "林小美")
