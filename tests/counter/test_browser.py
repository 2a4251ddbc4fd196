"""Browser: the counter pages driven from the keyboard, as a clerk with a barcode scanner would.

A bound branch clerk redeems a code typed into the page; the issuer cancels it the same day; a
partner store redeems a granted product; the issuer returns a ticket with a fee and cancels the
return. Refusals (answered 404 / 409) are shown in the page, not swallowed by HTMX.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.db import db
from app.tickets import codes
from tests.counter.helpers import browser_login as _login
from tests.counter.helpers import clerk, dashed
from tests.counter.helpers import ready as _ready
from tests.counter.helpers import scan as _scan
from tests.factories import PASSWORD, link_product, make_account, make_branch, make_relation, make_store
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.browser


@pytest.fixture
def tickets(app, live_server):  # noqa: ANN001, ANN201
    with app.app_context():
        store, owner, pickup, _ = ready_store("ctrissuer1")
        branch = make_branch(store, "C001", "櫃台門市")
        clerk(store, "ctrclerk01", branch)
        partner = make_store("櫃台夥伴商店")
        make_account(partner, username="ctrpartner1")
        make_relation(store, partner)
        link_product(pickup, partners=[partner])
        db.session.commit()
        issued = [(t.code, t.serial) for t in issue(owner, store, pickup, quantity=3)]
        name = store.name
        db.session.remove()
    return issued, name


def _logout(page):  # noqa: ANN001, ANN202
    page.get_by_role("button", name="登出").click()


def _scan_on_arrival(page, code: str) -> None:  # noqa: ANN001
    """A scan into a page just opened: once its code field has the focus (autofocus) and its
    scripts have taken over the form."""
    _ready(page)
    _scan(page, code)


def test_the_counter_journey_from_the_keyboard(live_server, page, tickets):
    (first, _), (second, _), (third, _) = tickets[0]
    issuer_name = tickets[1]

    # a bound branch clerk redeems a code typed in lower case with dashes
    _login(page, live_server, "ctrclerk01")
    page.goto(f"{live_server}/counter/redeem")
    code_field = page.locator("#counter-code")
    _ready(page)
    _scan(page, dashed(first))
    card = page.get_by_test_id("ticket-card")
    expect(card).to_contain_text("咖啡券")
    expect(card).to_contain_text("未使用")
    expect(page.get_by_test_id("act-button")).to_be_focused()
    page.keyboard.press("Enter")  # 【核銷】 has the focus
    expect(page.get_by_test_id("counter-success")).to_have_text("已送出核銷，票券狀態已變更")
    # the answer is swapped in first, then the page's script moves the focus: wait for that state
    expect(code_field).to_be_focused()
    expect(code_field).to_have_value("")

    # the same code again: the card says when, where and by whom; an unknown code is said too
    _scan(page, first)
    refusal = page.get_by_test_id("card-refusal")
    expect(refusal).to_contain_text("此票券已核銷（於")
    expect(refusal).to_contain_text("櫃台門市")
    code_field.focus()
    _scan(page, codes.new_redemption_code())
    # a 404 answer, swapped in by counter.js
    expect(page.get_by_test_id("counter-error")).to_contain_text("查無此核銷代碼")
    _logout(page)

    # the issuer cancels it the same day: the card asks for the box to be ticked, not a reason
    _login(page, live_server, "ctrissuer1")
    page.goto(f"{live_server}/counter/cancel-redemption")
    _scan_on_arrival(page, first)
    expect(page.get_by_test_id("act-confirm")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("act-confirm")).to_be_checked()
    page.locator("#act-reason").fill("店員按錯")
    page.locator("#act-reason").press("Enter")
    expect(page.get_by_test_id("counter-success")).to_contain_text("已取消核銷，票券狀態已變更")

    # the issuer returns a ticket with a fee, then cancels the return
    page.goto(f"{live_server}/counter/return")
    _scan_on_arrival(page, third)
    expect(page.locator("#act-reason")).to_be_focused()
    page.keyboard.type("消費者不想要了")
    page.get_by_label("退貨手續費").fill("500")
    # the browser itself holds a fee above the face value (NT$150) back; the server would too
    assert page.locator("#act-fee").evaluate("field => field.validity.rangeOverflow")
    page.get_by_label("退貨手續費").fill("30")
    page.get_by_test_id("act-button").click()
    expect(page.get_by_test_id("counter-success")).to_contain_text("已送出退貨，票券狀態已變更")
    page.goto(f"{live_server}/counter/cancel-return")
    _scan_on_arrival(page, third)
    expect(page.get_by_test_id("ticket-card")).to_contain_text("待退貨")
    expect(page.locator("#act-reason")).to_be_focused()
    _scan(page, "消費者改變心意")
    expect(page.get_by_test_id("counter-success")).to_contain_text("已取消退貨，票券狀態已變更")
    _logout(page)

    # a partner store redeems a granted product and sees whose ticket it is
    _login(page, live_server, "ctrpartner1")
    page.goto(f"{live_server}/counter/redeem")
    _scan_on_arrival(page, second)
    expect(page.get_by_test_id("issuer")).to_contain_text(issuer_name)
    page.get_by_test_id("act-button").click()
    expect(page.get_by_test_id("counter-success")).to_contain_text("已送出核銷，票券狀態已變更")


def _counter_as(page, base, username, slug="redeem"):  # noqa: ANN001, ANN202
    _login(page, base, username)
    page.goto(f"{base}/counter/{slug}")
    _ready(page)


def _status_of(app, code):  # noqa: ANN001, ANN202
    from sqlalchemy import select

    from app.tickets.models import Ticket

    with app.app_context():
        status = db.session.scalar(select(Ticket.status).where(Ticket.code.matches(code))
                                   .execution_options(unscoped=True))
        db.session.remove()
    return status.value


def test_a_scan_and_two_enters_do_not_cancel_a_redemption(app, live_server, page, tickets):
    (code, _), *_ = tickets[0]
    _counter_as(page, live_server, "ctrissuer1")
    _scan(page, code)
    expect(page.get_by_test_id("act-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("counter-success")).to_contain_text("已送出核銷")

    page.goto(f"{live_server}/counter/cancel-redemption")
    expect(page.locator("#counter-code")).to_be_focused()
    _scan(page, code)
    confirm = page.get_by_test_id("act-confirm")
    expect(confirm).to_be_focused()  # the box, not the reason field
    expect(confirm).not_to_be_checked()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("counter-error")).to_have_text("請勾選「我確認要取消此票券的核銷」後再按【取消核銷】")
    expect(confirm).to_be_focused()
    expect(confirm).not_to_be_checked()
    assert _status_of(app, code) == "used"

    confirm.check()
    page.get_by_test_id("act-button").click()
    expect(page.get_by_test_id("counter-success")).to_contain_text("已取消核銷，票券狀態已變更")
    assert _status_of(app, code) == "unused"


def test_an_expired_session_goes_to_the_login_page_and_back_to_the_counter(live_server, page, tickets):
    (code, _), *_ = tickets[0]
    _counter_as(page, live_server, "ctrclerk01")
    page.context.clear_cookies()  # the session has expired
    _scan(page, code)
    page.wait_for_url(f"{live_server}/login?next=/counter/redeem")
    page.get_by_label("帳號").fill("ctrclerk01")
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/counter/redeem")
    _ready(page)
    _scan(page, code)
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")


def test_a_server_error_shows_a_banner_and_keeps_the_typed_code(live_server, page, tickets):
    (code, _), *_ = tickets[0]
    _counter_as(page, live_server, "ctrclerk01")
    page.route("**/counter/lookup", lambda route: route.fulfill(status=500, body="boom"))
    _scan(page, code)
    banner = page.get_by_role("alert").filter(has=page.get_by_test_id("request-error"))
    expect(banner).to_contain_text("系統發生錯誤")
    expect(banner).to_contain_text("HTTP 500")
    expect(page.locator("#counter-code")).to_have_value(code)
    assert page.get_by_test_id("ticket-card").count() == 0

    # the next attempt clears the banner, and works once the server answers again
    page.unroute("**/counter/lookup")
    page.locator("#counter-code").press("Enter")
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")
    expect(page.get_by_test_id("request-error")).to_have_count(0)


def test_a_network_failure_shows_a_banner_and_keeps_the_typed_code(live_server, page, tickets):
    (code, _), *_ = tickets[0]
    _counter_as(page, live_server, "ctrclerk01")
    page.route("**/counter/lookup", lambda route: route.abort())
    _scan(page, code)
    expect(page.get_by_test_id("request-error")).to_contain_text("無法連線到伺服器")
    expect(page.locator("#counter-code")).to_have_value(code)
    page.get_by_role("button", name="關閉").click()
    expect(page.get_by_test_id("request-error")).to_have_count(0)
