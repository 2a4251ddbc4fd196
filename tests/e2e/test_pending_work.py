"""Browser: the demo issuer sees its pending work (the 待處理事項 card and a menu badge); clerk1
lands on the counter, which names the branch it redeems for."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _login(page, live_server: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()


def test_the_issuer_sees_pending_work_and_a_menu_badge(live_server, page):
    _login(page, live_server, "issuer")
    page.wait_for_url(f"{live_server}/home")
    card = page.get_by_test_id("pending-work")
    expect(card).to_be_visible()
    expect(card.get_by_role("link", name="待處理退貨申請")).to_be_visible()
    nav = page.get_by_role("navigation", name="主選單")
    badge = nav.locator("[data-badge='applications']")
    expect(badge).to_be_visible()
    count = badge.inner_text()
    expect(card.locator("[data-pending='applications'] [data-count]")).to_have_text(count)
    nav.get_by_role("link", name="電子票券退貨申請").click()
    page.wait_for_url(f"{live_server}/return-applications/")


def test_clerk1_lands_on_the_counter_naming_its_branch(live_server, page):
    _login(page, live_server, "clerk1")
    page.wait_for_url(f"{live_server}/counter/redeem")
    expect(page.get_by_test_id("counter-branch")).to_have_text("核銷分店：A001 台北門市")
