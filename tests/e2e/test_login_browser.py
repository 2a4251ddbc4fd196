"""Browser: the demo logins work in a real Chromium against the served app."""

import pytest

pytestmark = pytest.mark.browser


def test_demo_issuer_logs_in_and_sees_the_menu(live_server, page):
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")
    nav = page.get_by_role("navigation", name="主選單")
    assert nav.get_by_text("示範票券發行商").is_visible()
    assert nav.get_by_role("link", name="最新消息").is_visible()
    assert page.get_by_test_id("message-centre").get_by_text("歡迎使用").is_visible()
    page.get_by_role("button", name="登出").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.get_by_text("您已登出").is_visible()


def test_a_wrong_password_shows_the_message(live_server, page):
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("wrong-password")
    page.get_by_role("button", name="登入").click()
    assert page.get_by_text("帳號或密碼錯誤").is_visible()
