"""Browser, issue 16 items 3 and 8: on a 390×844 phone a refused transfer or return application
opens at its error, in view and focused, and no confirm box comes before the browser's own checks
pass (the wallet's return form, the product form); the 發行中 banner of 批次發行結果 goes when the
batch finishes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Account
from app.db import db
from app.issuance.models import Batch, BatchStatus
from app.stores.models import Store
from tests.factories import make_order
from tests.wallet.helpers import MOBILE, issue_order, shop, tickets_of

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-TW", "timezone_id": "Asia/Taipei"}



@pytest.fixture
def phone(browser_instance):  # noqa: ANN001, ANN201
    context = browser_instance.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.accept()))
    yield page
    context.close()


def _wallet(app, live_server, page):  # noqa: ANN001, ANN202
    """A purchaser's confirmed wallet of three tickets, on a store offering returns."""
    with app.app_context():
        store, owner, pickup, _ = shop("phoneforms", returns=True)
        order = issue_order(owner, store, pickup, quantity=3)
        token = order.link_token
        serials = [t.serial for t in tickets_of(order)]
        db.session.remove()
    page.goto(f"{live_server}/t/{token}")
    page.get_by_label("手機末四碼").fill(MOBILE[-4:])
    page.get_by_role("button", name="確認").click()
    page.get_by_test_id("wallet").wait_for()
    return serials


def test_a_refused_transfer_opens_at_the_wrong_mobile(app, live_server, phone):
    serials = _wallet(app, live_server, phone)
    form = phone.get_by_test_id("transfer-form")
    form.get_by_label(f"咖啡券（{serials[0]}）").check()
    form.get_by_label("受贈人姓名").fill("陳大文")
    form.get_by_label("受贈人手機").fill("12345")
    form.get_by_label("受贈人 Email").fill("dawen@example.com")
    phone.evaluate("window.scrollTo(0, 0)")
    form.get_by_role("button", name="下一步：確認轉贈").click()
    mobile = phone.locator("#mobile.is-invalid")
    mobile.wait_for()
    expect(mobile).to_be_focused()
    expect(mobile).to_be_in_viewport(ratio=1)  # scrolled (smoothly) to the error, not at the top
    assert phone.get_by_test_id("transfer-confirm").count() == 0 and phone.dialogs == []


def test_a_return_application_asks_for_a_ticket_before_its_confirm_box(app, live_server, phone):
    serials = _wallet(app, live_server, phone)
    form = phone.get_by_test_id("return-form")
    form.get_by_label("退貨原因").fill("不想要了")
    form.get_by_role("button", name="送出退貨申請").click()
    first = form.get_by_label(f"咖啡券（{serials[0]}）")
    assert first.evaluate("e => e.validationMessage") == "請選擇要申請退貨的票券"
    expect(first).to_be_focused()
    expect(first).to_be_in_viewport()
    assert phone.dialogs == []  # no confirm box before the choice
    assert phone.get_by_test_id("wallet-error").count() == 0 and phone.get_by_test_id("return-error").count() == 0

    first.check()
    form.get_by_role("button", name="送出退貨申請").click()
    phone.locator("#flashes").filter(has_text="已送出 1 張票券的退貨申請").wait_for()
    assert phone.dialogs == ["確定要申請退貨嗎？"]


def test_a_refused_return_application_opens_at_its_error(app, live_server, phone):
    serials = _wallet(app, live_server, phone)
    with app.app_context():  # meanwhile the store stops offering returns: refused by the server
        from app.settings.services import settings_for
        store = db.session.get(Store, db.session.scalar(
            select(Account.store_id).where(Account.username == "phoneforms")))
        settings_for(store).online_return_application = False
        db.session.commit()
        db.session.remove()
    form = phone.get_by_test_id("return-form")
    form.get_by_label(f"咖啡券（{serials[0]}）").check()
    phone.evaluate("window.scrollTo(0, 0)")
    form.get_by_role("button", name="送出退貨申請").click()
    error = phone.get_by_test_id("wallet-error").or_(phone.get_by_test_id("return-error"))
    error.wait_for()
    expect(error).to_be_in_viewport(ratio=1)
    assert phone.dialogs == ["確定要申請退貨嗎？"]


def _login(page, live_server: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")


def test_the_product_form_asks_to_confirm_only_after_its_checks(live_server, phone):
    _login(phone, live_server, "issuer")
    phone.goto(f"{live_server}/products/new")
    phone.get_by_role("button", name="確認上架").click()
    name = phone.get_by_label("商品名稱")
    first_wrong = phone.locator("main form :is(input, select, textarea):invalid").first  # the browser's check
    expect(first_wrong).to_be_focused()
    expect(first_wrong).to_be_in_viewport()
    assert name.evaluate("e => !e.validity.valid")
    assert phone.dialogs == []  # nothing typed: the browser's check first, no confirm box
    assert phone.url.endswith("/products/new")

    phone.get_by_role("radio", name="提貨券").check()
    name.fill("手機測試兌換券")
    phone.get_by_label("面額").fill("120")
    with phone.expect_navigation():  # the browser's checks pass: the confirm box, then the post
        phone.get_by_role("button", name="確認上架").click()
    assert phone.dialogs == ["確定要上架此商品嗎？上架後即可發行票券。"]


def test_the_issuing_banner_goes_when_the_batch_finishes(app, live_server, page):
    _login(page, live_server, "issuer")
    with app.app_context():
        owner = db.session.scalar(select(Account).where(Account.username == "issuer"))
        order = make_order(db.session.get(Store, owner.store_id))
        batch = db.session.get(Batch, order.batch_id)
        batch.status, batch.issued_count = BatchStatus.QUEUED, 0
        import_no, batch_id = batch.import_no, batch.id
        db.session.commit()
        db.session.remove()
    page.goto(f"{live_server}/issuance/results")
    banner = page.get_by_test_id("issuing-banner")
    assert f"匯入單號 {import_no} 發行中" in banner.inner_text()
    row = page.locator(f"#batch-{batch_id}")
    assert row.get_attribute("data-status") == "queued"

    with app.app_context():  # the job finishes
        batch = db.session.get(Batch, batch_id)
        batch.status, batch.issued_count = BatchStatus.SUCCEEDED, batch.ticket_count
        db.session.commit()
        db.session.remove()
    page.locator(f"#batch-{batch_id}[data-status='succeeded']").wait_for()
    banner.wait_for(state="detached")
    assert page.get_by_test_id("issuing-banner").count() == 0
    assert page.locator("[hx-trigger]").count() == 0  # the polling stopped
