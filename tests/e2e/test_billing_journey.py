"""Browser: the demo issuer opens 應繳費用 (one bill unpaid), follows the bill's amount to its
detail, picks another month in the month selector, downloads the month's Excel; the operator
records a payment of what is due on the store's billing page; the issuer's amount due and the
bill's status then read 已繳費."""

from __future__ import annotations

import openpyxl
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _login(page, live_server: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/**")


def _money(text: str) -> int:
    return int(text.replace("NT$", "").replace(",", "").strip())


def test_amount_due_bill_detail_month_selector_excel_and_a_payment(app, live_server, page, tmp_path):  # noqa: ANN001
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, live_server, "issuer")
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="應繳費用").click()
    assert page.get_by_test_id("status-unpaid").count() == 1
    expect(page.get_by_test_id("remittance")).to_be_visible()
    due = _money(page.get_by_test_id("due-amount").inner_text())
    assert due > 0

    page.get_by_test_id("bill-link").click()
    latest = page.get_by_test_id("bill-month").inner_text()
    assert page.get_by_test_id("bill-status").inner_text() == "未繳費"
    assert page.get_by_test_id("bill-line").count() >= 4  # the four items of 使用後核銷
    picker = page.get_by_test_id("month-picker")
    months = [o.get_attribute("value") for o in picker.locator("option").all()]
    assert len(months) == 3
    shown = picker.input_value()
    picker.select_option(next(m for m in months if m != shown))  # an earlier, paid month
    page.get_by_test_id("query").click()
    earlier = page.get_by_test_id("bill-month").inner_text()
    assert earlier != latest and page.get_by_test_id("bill-status").inner_text() == "已繳費"
    with page.expect_download() as download:
        page.get_by_test_id("excel").click()
    path = tmp_path / "bill.xlsx"
    download.value.save_as(path)
    book = openpyxl.load_workbook(path, read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    assert len(rows) >= 2 and any("序號處理費" in str(c) for r in rows for c in r)

    page.get_by_role("button", name="登出").click()
    _login(page, live_server, "operator")
    page.goto(f"{live_server}/operator/bills")
    page.get_by_role("row").filter(has_text="3002607").get_by_role("link", name="帳單與繳費").click()
    assert _money(page.get_by_test_id("due").inner_text()) == due
    form = page.get_by_test_id("payment-form")
    form.get_by_label("繳費金額（元）").fill(str(due))
    form.get_by_label("匯款帳號末五碼／交易編號").fill("12345")
    form.get_by_role("button", name="登錄繳費").click()
    assert _money(page.get_by_test_id("due").inner_text()) == 0

    page.get_by_role("button", name="登出").click()
    _login(page, live_server, "issuer")
    page.goto(f"{live_server}/billing/")
    assert page.get_by_test_id("status-paid").count() == 1
    assert _money(page.get_by_test_id("due-amount").inner_text()) == 0
