"""Browser: a merchant preparing a first batch finds 商品編號 on the issuance page, copies it
(the clipboard holds it, the button says 已複製), downloads 下載範本（含我的商品）, fills the
quantity and buyer of one product's row and uploads the file as is: the preview has no wrong
row and offers 【確認發行】."""

from __future__ import annotations

import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

pytestmark = pytest.mark.browser


def _fill_row(path, out_path, product_id: int) -> int:
    """Fill the pre-filled row of `product_id` (數量 onwards); the other rows stay untouched.
    Returns how many product rows the file holds."""
    book = openpyxl.load_workbook(path)
    sheet = book["發行資料"]
    rows = list(sheet.iter_rows(min_row=2))
    for row in rows:
        if row[0].value == product_id:
            for cell, value in zip(row[1:], [2, "FIRST0001", "林小美", "0911222333",
                                             "mei@example.com"], strict=False):
                cell.value = value
    book.save(out_path)
    return len(rows)


def test_a_merchant_copies_the_number_and_uploads_the_prefilled_template(
        app, live_server, page, tmp_path):
    from app.db import db
    from app.products.models import Product

    with app.app_context():
        product_id = db.session.scalar(select(Product.id).where(Product.name == "咖啡兌換券"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券發行").click()

    picker = page.get_by_test_id("product-picker")
    row = picker.get_by_test_id("picker-row").filter(has_text="咖啡兌換券")
    expect(row.locator("[data-number]")).to_have_text(str(product_id))
    expect(page.locator("html")).to_have_attribute("data-ready", "true")  # copy.js has run
    button = row.get_by_test_id("copy-number")
    button.click()
    expect(button).to_contain_text("已複製")
    assert page.evaluate("navigator.clipboard.readText()") == str(product_id)

    with page.expect_download() as download:
        picker.get_by_test_id("my-template-link").click()
    prefilled, filled = tmp_path / "mine.xlsx", tmp_path / "filled.xlsx"
    download.value.save_as(prefilled)
    assert _fill_row(prefilled, filled, product_id) >= 2  # every listed product has a row

    page.get_by_role("radio", name="電子票券", exact=True).check()
    page.get_by_role("radio", name="即期票券", exact=True).check()
    page.get_by_role("radio", name="提貨券", exact=True).check()
    page.get_by_label("匯入單號").fill("FIRST-BATCH-1")
    page.get_by_label("發行資料檔案（.xlsx）").set_input_files(str(filled))
    page.get_by_role("button", name="確認匯入").click()

    expect(page.get_by_role("button", name="確認發行")).to_be_visible()
    assert page.get_by_test_id("wrong-row").count() == 0
    assert "FIRST0001" in page.locator("main").inner_text()
