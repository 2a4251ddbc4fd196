"""Browser: set up an authenticator app, log in with its code, then with a recovery code once."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _password_step(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()


def _fresh_code(totp: pyotp.TOTP, used: set[str]) -> str:
    """A code whose time step has not been used yet (waits for the next step if needed)."""
    code = totp.now()
    while code in used:
        time.sleep(1)
        code = totp.now()
    used.add(code)
    return code


def test_set_up_totp_log_in_with_it_and_with_a_recovery_code_once(live_server, page):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _password_step(page, live_server)
    page.wait_for_url(f"{live_server}/home")
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="雙因子驗證").click()
    page.get_by_test_id("start-totp").click()
    page.wait_for_url(f"{live_server}/two-factor/setup")
    expect(page.get_by_test_id("qr")).to_be_visible()
    key = page.get_by_test_id("setup-key").inner_text().replace(" ", "")
    totp, used = pyotp.TOTP(key), set()
    page.get_by_label("驗證碼").fill(_fresh_code(totp, used))
    page.get_by_role("button", name="進行設定").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="我已保存復原碼").click()
    expect(page.get_by_test_id("enabled").get_by_text("已啟用")).to_be_visible()

    page.get_by_role("button", name="登出").click()
    _password_step(page, live_server)
    page.wait_for_url(f"{live_server}/login/verify")
    page.goto(f"{live_server}/home")  # the pending state opens nothing
    page.wait_for_url(re.compile(r"/login\?next=(%2F|/)home$"))
    _password_step(page, live_server)
    page.get_by_label("驗證碼").fill(_fresh_code(totp, used))
    page.get_by_role("button", name="驗證並登入").click()
    page.wait_for_url(f"{live_server}/home")

    page.get_by_role("button", name="登出").click()
    _password_step(page, live_server)
    page.get_by_label("驗證碼").fill(codes[0])
    page.get_by_role("button", name="驗證並登入").click()
    page.wait_for_url(f"{live_server}/home")
    page.goto(f"{live_server}/two-factor")
    assert page.get_by_test_id("remaining").inner_text() == "9"

    page.get_by_role("button", name="登出").click()
    _password_step(page, live_server)
    page.get_by_label("驗證碼").fill(codes[0])
    page.get_by_role("button", name="驗證並登入").click()
    expect(page.get_by_text("驗證碼錯誤或已使用")).to_be_visible()
    assert page.url == f"{live_server}/login/verify"
    assert [e for e in errors if "status of 422" not in e] == []  # the refused code's 422 only
