"""Browser: the demo issuer finds the demo transfer, dismisses then accepts the confirmation
dialog of 取消轉贈, and sees the transfer cancelled; then returns the demo return application
with a handling fee from the applications page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _login(page, base: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/home")


def test_the_issuer_cancels_a_transfer_and_handles_a_return_application(live_server, page):
    _login(page, live_server)
    page.get_by_role("link", name="電子票券轉贈紀錄").click()
    page.wait_for_url(re.compile(r".*/transfers/$"))
    row = page.get_by_test_id("transfer-row")
    assert row.count() == 1 and "轉贈中" in row.inner_text()
    row.get_by_role("link", name="取消轉贈").click()
    page.get_by_label("取消轉贈原因").fill("消費者來電要求取消")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")  # app.js asks first

    dialogs: list[str] = []

    def dismiss(dialog) -> None:  # noqa: ANN001
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="取消轉贈").click()
    for _ in range(50):  # until the question has been asked (and dismissed)
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs and "未使用的票券將返還給原購買人" in dialogs[0]
    assert page.get_by_test_id("transfer-status").inner_text() == "轉贈中"  # nothing was sent

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="取消轉贈").click()
    page.wait_for_selector("text=張未使用的票券已返還原購買人")
    assert page.get_by_test_id("transfer-status").inner_text() == "已取消"
    assert page.get_by_test_id("cancel-reason").inner_text() == "消費者來電要求取消"
    assert page.get_by_test_id("cancelled-by").inner_text() == "issuer"
    assert page.get_by_test_id("cancel-form").count() == 0

    page.get_by_role("link", name="電子票券退貨申請").click()
    page.get_by_test_id("application-row").get_by_role("link", name="退貨", exact=True).click()
    form = page.get_by_test_id("return-form")
    assert form.get_by_label("退貨原因").input_value() == "活動改期無法前往，申請退貨"
    form.get_by_label("退貨手續費").fill("15")
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="退貨", exact=True).click()
    page.wait_for_selector("text=已送出退貨，票券狀態已變更")
    assert page.get_by_test_id("application-status").inner_text() == "已退貨"
    assert "待退貨" in page.get_by_test_id("ticket-status").inner_text()
