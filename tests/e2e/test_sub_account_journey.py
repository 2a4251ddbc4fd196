"""Browser: the issuer creates a sub-account with limited permissions; the sub-account sees only
its menu and is refused (403) when it asks for a forbidden page directly."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _login(page, base, username, password="Demo1234"):
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(password)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/home")


def test_issuer_creates_a_limited_sub_account(live_server, page):
    _login(page, live_server, "issuer")
    nav = page.get_by_role("navigation", name="主選單")
    nav.get_by_role("link", name="後台子帳號").click()
    page.get_by_role("link", name="新增子帳號").first.click()
    page.get_by_label("帳號", exact=True).fill("counter01")
    page.get_by_label("密碼", exact=True).fill("Counter123")
    page.get_by_label("確認密碼").fill("Counter123")
    page.get_by_label("備註").fill("櫃台人員")
    matrix = page.get_by_test_id("permission-matrix")
    matrix.get_by_label("登入歷程 查詢").check()
    matrix.get_by_label("廠商基本資料 查詢").check()
    page.get_by_role("button", name="新增子帳號").click()
    expect(page.get_by_text("counter01").first).to_be_visible()

    page.get_by_role("button", name="登出").click()
    _login(page, live_server, "counter01", "Counter123")
    nav = page.get_by_role("navigation", name="主選單")
    links = {text.strip() for text in nav.get_by_role("link").all_inner_texts()}
    assert {"最新消息", "廠商基本資料", "登入歷程", "密碼設定"} <= links
    for hidden in ("後台子帳號", "操作設定管理", "商品管理", "票券核銷"):
        assert hidden not in links

    page.get_by_role("link", name="登入歷程").click()
    expect(page.get_by_role("heading", name="登入歷程")).to_be_visible()

    forbidden = page.goto(f"{live_server}/accounts/sub-accounts")
    assert forbidden.status == 403
    assert page.get_by_test_id("error-message").inner_text() == "您沒有使用此功能的權限"
    # Even a well-formed POST (with the page's CSRF token) is refused by the server: the
    # account may view the profile but not modify it.
    page.goto(f"{live_server}/vendor/profile")
    status = page.evaluate("""async () => {
        const token = document.querySelector('meta[name=csrf-token]').content;
        const body = new URLSearchParams({csrf_token: token, finance_emails: 'x@example.com'});
        const r = await fetch('/vendor/profile', {method: 'POST', body});
        return r.status;
    }""")
    assert status == 403
