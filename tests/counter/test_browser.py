"""Browser: the counter pages driven from the keyboard, as a clerk with a barcode scanner would.

A bound branch clerk redeems a code typed into the page; the issuer cancels it the same day; a
partner store redeems a granted product; the issuer returns a ticket with a fee and cancels the
return. Refusals (answered 404 / 409) are shown in the page, not swallowed by HTMX.
"""

from __future__ import annotations

import pytest

from app.db import db
from app.tickets import codes
from tests.counter.helpers import clerk, dashed
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


def _login(page, base, username):  # noqa: ANN001, ANN202
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: url in (f"{base}/home", f"{base}/counter/redeem"))  # clerks: the counter


def _logout(page):  # noqa: ANN001, ANN202
    page.get_by_role("button", name="登出").click()


def _focused_id(page) -> str:  # noqa: ANN001
    return page.evaluate("document.activeElement && document.activeElement.id")


def _scan(page, code: str) -> None:  # noqa: ANN001
    """What a scanner does: type into the focused element, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_the_counter_journey_from_the_keyboard(live_server, page, tickets):
    (first, _), (second, _), (third, _) = tickets[0]
    issuer_name = tickets[1]

    # a bound branch clerk redeems a code typed in lower case with dashes
    _login(page, live_server, "ctrclerk01")
    page.goto(f"{live_server}/counter/redeem")
    assert _focused_id(page) == "counter-code"
    _scan(page, dashed(first))
    card = page.get_by_test_id("ticket-card")
    card.wait_for()
    assert "咖啡券" in card.inner_text() and "未使用" in card.inner_text()
    page.wait_for_function("document.activeElement && document.activeElement.dataset.testid === 'act-button'")
    page.keyboard.press("Enter")  # 【核銷】 has the focus
    success = page.get_by_test_id("counter-success")
    success.wait_for()
    assert success.inner_text().strip() == "已送出核銷，票券狀態已變更"
    assert _focused_id(page) == "counter-code" and page.locator("#counter-code").input_value() == ""

    # the same code again: the card says when, where and by whom; an unknown code is said too
    _scan(page, first)
    page.get_by_test_id("card-refusal").wait_for()
    assert "此票券已核銷（於" in page.get_by_test_id("card-refusal").inner_text()
    assert "櫃台門市" in page.get_by_test_id("card-refusal").inner_text()
    page.locator("#counter-code").focus()
    _scan(page, codes.new_redemption_code())
    error = page.get_by_test_id("counter-error")
    error.wait_for()
    assert "查無此核銷代碼" in error.inner_text()  # a 404 answer, swapped in by counter.js
    _logout(page)

    # the issuer cancels it the same day, with a reason typed after the lookup
    _login(page, live_server, "ctrissuer1")
    page.goto(f"{live_server}/counter/cancel-redemption")
    _scan(page, first)
    page.get_by_test_id("ticket-card").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'act-reason'")
    _scan(page, "店員按錯")
    page.get_by_test_id("counter-success").wait_for()
    assert "已取消核銷，票券狀態已變更" in page.get_by_test_id("counter-success").inner_text()

    # the issuer returns a ticket with a fee, then cancels the return
    page.goto(f"{live_server}/counter/return")
    _scan(page, third)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'act-reason'")
    page.keyboard.type("消費者不想要了")
    page.get_by_label("退貨手續費").fill("500")
    # the browser itself holds a fee above the face value (NT$150) back; the server would too
    assert page.locator("#act-fee").evaluate("field => field.validity.rangeOverflow")
    page.get_by_label("退貨手續費").fill("30")
    page.get_by_test_id("act-button").click()
    page.get_by_test_id("counter-success").wait_for()
    assert "已送出退貨，票券狀態已變更" in page.get_by_test_id("counter-success").inner_text()
    page.goto(f"{live_server}/counter/cancel-return")
    _scan(page, third)
    page.get_by_test_id("ticket-card").wait_for()
    assert "待退貨" in page.get_by_test_id("ticket-card").inner_text()
    _scan(page, "消費者改變心意")
    page.get_by_test_id("counter-success").wait_for()
    assert "已取消退貨，票券狀態已變更" in page.get_by_test_id("counter-success").inner_text()
    _logout(page)

    # a partner store redeems a granted product and sees whose ticket it is
    _login(page, live_server, "ctrpartner1")
    page.goto(f"{live_server}/counter/redeem")
    _scan(page, second)
    assert issuer_name in page.get_by_test_id("issuer").inner_text()
    page.get_by_test_id("act-button").click()
    page.get_by_test_id("counter-success").wait_for()
    assert "已送出核銷，票券狀態已變更" in page.get_by_test_id("counter-success").inner_text()
