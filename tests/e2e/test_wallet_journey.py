"""Browser, on a phone-sized screen: the purchaser opens the e-ticket link from the issuance
e-mail, confirms with the mobile's last four digits, sees the QR code (read back from a
screenshot by zbarimg), transfers one ticket; the recipient's link (from the transfer e-mail)
shows it with its QR code and the giver's no longer offers it; the issuer cancels the transfer
in the back office (7-3 K) and the ticket is back with the giver."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app import credentials
from app.auth.models import Account
from app.db import db
from app.notifications.models import Channel, Message
from app.products.models import Product
from app.stores.models import Store
from tests.conftest import service_missing
from tests.wallet.helpers import issue_order, tickets_of

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2, "locale": "zh-TW", "timezone_id": "Asia/Taipei"}


def _link_in_mail(app, order_id: int, kind: str) -> str:  # noqa: ANN001
    with app.app_context():
        body = db.session.scalar(
            select(Message.body).where(Message.order_id == order_id, Message.kind == kind,
                                       Message.channel == Channel.EMAIL)
            .order_by(Message.id.desc()).execution_options(unscoped=True))
        body = credentials.reveal_text(body)  # as sent: the link is sealed at rest
        db.session.remove()
    return re.search(r"https?://\S+/t/[A-Za-z0-9_-]+", body).group(0)


def _decode(png: bytes, tmp_path) -> str:  # noqa: ANN001
    if shutil.which("zbarimg") is None:
        service_missing("zbarimg not found (apt-get install zbar-tools)")
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    return subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, text=True,
                          timeout=30, check=False).stdout.strip()


def _card(page, serial: str):  # noqa: ANN001, ANN202
    return page.get_by_test_id("ticket-card").filter(has_text=serial)


def _confirm_holder(page, digits: str) -> None:  # noqa: ANN001
    page.get_by_role("heading", name="電子票券核銷登入頁").wait_for()
    assert page.get_by_test_id("qr").count() == 0  # a link alone shows no codes
    page.get_by_label("手機末四碼").fill(digits)
    page.get_by_role("button", name="確認").click()
    page.get_by_test_id("wallet").wait_for()


def test_wallet_journey_on_a_phone(app, live_server, browser_instance, tmp_path):
    app.config["PUBLIC_BASE_URL"] = live_server  # the links in the e-mails point at this server
    with app.app_context():
        owner = db.session.scalar(select(Account).where(Account.username == "issuer"))
        store = db.session.get(Store, owner.store_id)
        product = db.session.scalar(select(Product).where(Product.store_id == store.id,
                                                          Product.name == "咖啡兌換券"))
        order = issue_order(owner, store, product, quantity=2, name="林小美", mobile="0911222333",
                            email="mei@example.com")
        order_id = order.id
        (first_code, first_serial), (second_code, second_serial) = (
            (t.code, t.serial) for t in tickets_of(order))
        db.session.remove()
    link = _link_in_mail(app, order_id, "issuance_notice")
    assert link.startswith(f"{live_server}/t/")

    phone = browser_instance.new_context(**PHONE)
    phone.set_default_timeout(10_000)
    giver = phone.new_page()
    try:
        # the purchaser opens the link from the e-mail and confirms with the last four digits
        giver.goto(link)
        assert giver.get_by_test_id("issuer-name").inner_text() == "示範票券發行商"
        giver.get_by_label("手機末四碼").fill("0000")
        giver.get_by_role("button", name="確認").click()
        assert "手機末四碼不正確" in giver.get_by_test_id("answer-error").inner_text()
        _confirm_holder(giver, "2333")
        assert giver.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        first = _card(giver, first_serial)
        assert first.get_by_test_id("plain-status").inner_text() == "可使用"
        qr = first.get_by_test_id("qr")
        expect(qr).to_be_visible()
        assert _decode(qr.screenshot(), tmp_path) == first_code
        code = first.get_by_test_id("code")
        assert code.inner_text().replace("-", "") == first_code
        assert code.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 24  # readable at a counter
        assert code.evaluate("e => e.scrollWidth <= e.clientWidth")  # on one line, not cut off
        giver.reload()
        giver.get_by_test_id("wallet").wait_for()  # remembered: no second question

        # transfer the first ticket, through the confirm step
        giver.get_by_test_id("transfer-form").get_by_label(f"咖啡兌換券（{first_serial}）").check()
        giver.get_by_label("受贈人姓名").fill("陳大文")
        giver.get_by_label("受贈人手機").fill("0922333444")
        giver.get_by_label("受贈人 Email").fill("dawen@example.com")
        giver.get_by_role("button", name="下一步：確認轉贈").click()
        confirm_step = giver.get_by_test_id("transfer-confirm")
        assert "陳大文" in confirm_step.inner_text() and first_serial in confirm_step.inner_text()
        giver.get_by_role("button", name="確認轉贈").click()
        assert "已將 1 張票券轉贈給 陳○文" in giver.locator("#flashes").inner_text()
        first = _card(giver, first_serial)
        assert first.get_by_test_id("plain-status").inner_text() == "已轉贈"
        assert first.get_by_test_id("qr").count() == 0
        assert giver.get_by_test_id("transfer-form").get_by_label(f"咖啡兌換券（{first_serial}）").count() == 0  # no longer offered
        assert giver.get_by_test_id("transfer-form").get_by_label(f"咖啡兌換券（{second_serial}）").count() == 1
        assert giver.get_by_test_id("resend").count() == 1

        # the recipient opens the new link from the transfer e-mail
        their_link = _link_in_mail(app, order_id, "transfer_notice")
        assert their_link != link
        recipient_context = browser_instance.new_context(**PHONE)
        recipient_context.set_default_timeout(10_000)
        recipient = recipient_context.new_page()
        recipient.goto(their_link)
        _confirm_holder(recipient, "3444")
        cards = recipient.get_by_test_id("ticket-card")
        assert cards.count() == 1 and first_serial in cards.inner_text()
        assert _decode(cards.get_by_test_id("qr").screenshot(), tmp_path) == first_code
        assert recipient.get_by_test_id("transfer-form").count() == 0

        # the issuer cancels the transfer in the back office
        office = browser_instance.new_context(locale="zh-TW", timezone_id="Asia/Taipei")
        office.set_default_timeout(10_000)
        desk = office.new_page()
        desk.on("dialog", lambda dialog: dialog.accept())
        desk.goto(f"{live_server}/login")
        desk.get_by_label("帳號").fill("issuer")
        desk.get_by_label("密碼").fill("Demo1234")
        desk.get_by_role("button", name="登入").click()
        desk.wait_for_url(f"{live_server}/home")
        desk.goto(f"{live_server}/transfers/")
        transfer_no = giver.get_by_test_id("given-transfer").get_attribute("data-transfer-no")
        desk.get_by_role("link", name=transfer_no).click()
        desk.get_by_label("取消轉贈原因").fill("消費者來電取消轉贈")
        desk.get_by_test_id("cancel-form").get_by_role("button", name="取消轉贈").click()
        desk.get_by_test_id("transfer-status").filter(has_text="已取消").wait_for()
        office.close()

        # the recipient's link is no longer valid; the ticket is back with the giver
        recipient.reload()
        expect(recipient.get_by_test_id("link-not-valid")).to_be_visible()
        assert recipient.get_by_test_id("qr").count() == 0
        recipient_context.close()
        giver.reload()
        first = _card(giver, first_serial)
        assert first.get_by_test_id("plain-status").inner_text() == "可使用"
        assert _decode(first.get_by_test_id("qr").screenshot(), tmp_path) == first_code
        assert giver.get_by_test_id("transfer-form").get_by_label(f"咖啡兌換券（{first_serial}）").count() == 1
        assert giver.get_by_test_id("resend").count() == 0
    finally:
        phone.close()
