"""In a browser: the gateway reports that the demo issuer's SMS notice could not be delivered;
the issuer finds it failed, with the reason, in 簡訊發送紀錄, presses 補發, and sees the notice
sent again (and the failure in the order's history)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import Account
from app.db import db
from app.notifications.models import Channel, MessageStatus
from app.products.models import Product
from demodata.stores import DEMO_PASSWORD
from tests.notifications.conftest import STATUS_SECRET, sms_gateway, use_gateway  # noqa: F401
from tests.orders.helpers import issue_order, messages

pytestmark = pytest.mark.browser
MOBILE = "0987000111"


def test_the_issuer_resends_a_notice_the_gateway_could_not_deliver(
        app, live_server, page, sms_gateway):  # noqa: F811
    use_gateway(app, sms_gateway, SMS_STATUS_SECRET=STATUS_SECRET)
    sms_gateway.callback_url = f"{live_server}/notifications/sms/status"
    sms_gateway.callback_secret = STATUS_SECRET
    with app.app_context():
        owner = db.session.scalar(select(Account).where(Account.username == "issuer"))
        product = db.session.scalar(select(Product).where(Product.name == "咖啡兌換券"))
        order = issue_order(owner, owner.store, product, mobile=MOBILE, name="簡訊測試")
        [sms] = messages(order, channel=Channel.SMS)
        assert sms.status is MessageStatus.SENT
        order_id, order_no, sms_id, ref = order.id, order.order_no, sms.id, sms.provider_ref
    assert sms_gateway.report(ref, "failed", "空號（號碼不存在）").status == 200

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/**")

    page.goto(f"{live_server}/sms-log/?phone={MOBILE}")
    row = page.locator(f"tr[data-message-id='{sms_id}']")
    assert row.get_attribute("data-status") == "failed"
    assert row.get_by_test_id("sms-status").inner_text() == "發送失敗"
    assert "簡訊閘道回報未送達：空號（號碼不存在）" in row.get_by_test_id("sms-error").inner_text()
    row.get_by_test_id("sms-resend").get_by_role("button", name="補發").click()  # confirmed

    page.wait_for_url(f"{live_server}/orders/{order_id}")
    page.get_by_text("已補發通知").first.wait_for()
    history = page.get_by_test_id("order-history")
    assert "通知發送失敗" in history.inner_text() and "補發通知" in history.inner_text()

    page.goto(f"{live_server}/sms-log/?phone={MOBILE}")
    rows = page.get_by_test_id("sms-row")
    assert rows.count() == 2
    newest = rows.first  # newest first: the re-sent notice, taken by the gateway
    assert newest.get_attribute("data-status") == "sent"
    assert order_no in newest.inner_text() and "補發通知" in newest.inner_text()
    assert newest.get_by_test_id("sms-resend").count() == 0
    assert len(sms_gateway.requests) == 2
