"""Browser: the demo issuer downloads the template, uploads a file with one bad row, sees the red
row and its reason, fixes it, confirms, watches the progress reach success, and finds the
tickets under issued orders."""

from __future__ import annotations

import openpyxl
import pytest
from sqlalchemy import select

pytestmark = pytest.mark.browser


def _fill(template_path, out_path, product_id: int, mobile: str) -> None:
    book = openpyxl.load_workbook(template_path)
    sheet = book["發行資料"]
    sheet.delete_rows(2, sheet.max_row)  # drop the sample rows
    sheet.append([product_id, 2, "WEB0001", "林小美", "0911222333", "mei@example.com", None])
    sheet.append([product_id, 1, "WEB0002", "陳大文", mobile, None, None])
    book.save(out_path)


def test_issuer_uploads_fixes_confirms_and_finds_the_orders(app, live_server, page, tmp_path):
    from app.db import db
    from app.products.models import Product

    with app.app_context():
        product_id = db.session.scalar(select(Product.id).where(Product.name == "咖啡兌換券"))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券發行").click()

    with page.expect_download() as download:
        page.get_by_test_id("template-link").click()
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    bad, good = tmp_path / "bad.xlsx", tmp_path / "good.xlsx"
    _fill(template, bad, product_id, mobile="12345")
    _fill(template, good, product_id, mobile="0933444555")

    def upload(path):
        page.get_by_role("radio", name="電子票券", exact=True).check()
        page.get_by_role("radio", name="即期票券", exact=True).check()
        page.get_by_role("radio", name="提貨券", exact=True).check()
        page.get_by_label("匯入單號").fill("WEB-IMPORT-1")
        page.get_by_label("發行資料檔案（.xlsx）").set_input_files(str(path))
        page.get_by_role("button", name="確認匯入").click()

    upload(bad)
    wrong = page.get_by_test_id("wrong-row")
    assert wrong.count() == 1
    assert "手機格式錯誤" in wrong.inner_text() and "12345" in wrong.inner_text()
    assert page.get_by_role("button", name="確認發行").count() == 0  # nothing issues while wrong

    upload(good)  # the same import number replaces the preview
    assert page.get_by_test_id("wrong-row").count() == 0
    page.get_by_role("button", name="確認發行").click()  # the dialog is accepted

    status = page.get_by_test_id("batch-row").first.get_by_test_id("batch-status")
    status.filter(has_text="發行成功").wait_for(timeout=15_000)
    page.get_by_test_id("issued-orders-link").first.click()
    orders = page.locator("main").inner_text()
    assert "WEB0001" in orders and "WEB0002" in orders
