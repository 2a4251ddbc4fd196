"""Browser: the demo logins work in a real Chromium against the served app."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_demo_issuer_logs_in_and_sees_the_menu(live_server, page):
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")
    nav = page.get_by_role("navigation", name="主選單")
    expect(nav.get_by_text("示範票券發行商")).to_be_visible()
    expect(nav.get_by_role("link", name="最新消息")).to_be_visible()
    expect(page.get_by_test_id("message-centre").get_by_text("歡迎使用")).to_be_visible()
    page.get_by_role("button", name="登出").click()
    page.wait_for_url(f"{live_server}/login")
    expect(page.get_by_text("您已登出")).to_be_visible()
    assert page.goto(f"{live_server}/home").url.startswith(f"{live_server}/login")  # signed out


def test_a_wrong_password_shows_the_message(live_server, page):
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("wrong-password")
    page.get_by_role("button", name="登入").click()
    expect(page.get_by_text("帳號或密碼錯誤")).to_be_visible()
    assert page.url == f"{live_server}/login"  # still at the login, not let in
