"""Browser: the demo issuer opens the circulation, cross-store and branch reports from the menu,
queries them and downloads the circulation report as Excel; the demo partner store sees the
issuer's ticket it redeemed in its cross-store report."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _login(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: "/login" not in url)  # home, or a branch clerk's counter


def _menu(page, label: str) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name="主選單").get_by_role("link", name=label).click()


def test_the_issuer_reads_its_reports_and_downloads_excel_and_a_partner_its_redemptions(live_server, page):
    _login(page, live_server, "issuer")

    _menu(page, "流通報表")
    page.get_by_test_id("query").click()
    issued = page.get_by_test_id("issued").inner_text()
    assert "張" in issued and not issued.startswith("0 ")
    expect(page.get_by_test_id("circulation").get_by_text("流通在外")).to_be_visible()
    total = page.get_by_test_id("total-row").get_by_test_id("count").inner_text()
    with page.expect_download() as caught:
        page.get_by_test_id("excel").click()
    download = caught.value
    assert download.suggested_filename.startswith("流通報表_") and download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        rows = list(load_workbook(io.BytesIO(f.read()), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("發行期間", "商店代號", "商店名稱")
    assert [r[7] for r in rows if r[5] == "合計"] == [int(total.replace(",", ""))]

    _menu(page, "跨店核銷報表")
    expect(page.get_by_text("查詢期間內沒有跨店核銷的票券")).to_be_visible()  # the issuer redeems only its own

    _menu(page, "分店報表")
    page.get_by_label("操作類型").select_option(label="核銷")
    page.get_by_test_id("query").click()
    expect(page.get_by_test_id("branch-summary").get_by_text("A001").first).to_be_visible()
    assert page.get_by_test_id("branch-lines").get_by_test_id("line").count() > 0
    assert set(page.get_by_test_id("line").locator("td").first.all_inner_texts()) <= {"核銷"}

    # the three-month rule, as the merchant sees it
    page.get_by_label("操作日期（起）").fill("2020-01-01")
    page.get_by_label("操作日期（迄）").fill("2020-12-31")
    page.get_by_test_id("query").click()
    assert page.get_by_test_id("query-error").inner_text().strip() == "查詢區間不可超過三個月"

    # the partner store sees the issuer's ticket it redeemed
    page.get_by_role("button", name="登出").click()
    _login(page, live_server, "partner")
    _menu(page, "跨店核銷報表")
    rows = page.get_by_test_id("cross-store").get_by_test_id("line")
    assert rows.count() >= 1
    assert "示範票券發行商" in rows.first.inner_text()
