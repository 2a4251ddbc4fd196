"""Browser: the demo installment store uploads an order (template, preview, confirm, progress),
the clock moves and its first period is redeemed by the daily job and released by the bank
simulator; a clerk on a phone returns the order with a handling fee, cancels the return, returns
it again; the bank refunds it and the merchant's server receives the signed refund notice,
which the order page then shows."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.escrow.jobs import run_sync
from app.installments.jobs import redeem_due_periods, refund_notices
from app.installments.models import InstallmentOrder
from app.installments.notices import verify
from app.installments.settings import settings_for
from app.stores.models import Store
from tests.escrow.conftest import bank, simulator  # noqa: F401
from tests.installments.notice_helpers import MerchantServer

pytestmark = pytest.mark.browser
T = clock.taipei_datetime
PHONE = {"width": 390, "height": 844}


def _fill(template_path, out_path) -> None:  # noqa: ANN001
    book = openpyxl.load_workbook(template_path)
    sheet = book["發行資料"]
    sheet.delete_rows(2, sheet.max_row)  # drop the sample rows
    sheet.append(["WEBI0001", 12000, "林小美", "0911222333", "mei@example.com", "2026/07/02"])
    book.save(out_path)


def _statuses(app) -> list[str]:  # noqa: ANN001
    with app.app_context():
        order = db.session.scalar(select(InstallmentOrder).where(
            InstallmentOrder.merchant_order_no == "WEBI0001"))
        return [p.status.value for p in order.periods]


def test_upload_redeem_return_cancel_return_again_and_the_refund_notice(
        app, live_server, page, tmp_path, bank):  # noqa: ANN001, F811
    app.config["INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK"] = True
    clock.freeze(T(2026, 7, 1, 10, 0))
    with MerchantServer() as merchant:
        try:
            with app.app_context():  # the URL an operator-opened https host would have
                store = db.session.scalar(select(Store).where(Store.merchant_code == "3002611"))
                settings = settings_for(store.id)
                settings.refund_notify_url = merchant.url
                secret = settings.notify_secret
                db.session.commit()
            _journey(app, live_server, page, tmp_path, merchant, secret)
            # the journey's end: one period released, eleven refunded, one notice received
            assert _statuses(app) == ["redeemed"] + ["returned"] * 11
            assert len(merchant.requests) == 1
        finally:
            clock.unfreeze()


def _journey(app, live_server, page, tmp_path, merchant, secret) -> None:  # noqa: ANN001
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("installment")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    # upload → preview → confirm → progress
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="分期核銷訂單報表").click()
    page.get_by_test_id("issue-link").click()
    with page.expect_download() as download:
        page.get_by_test_id("template-link").click()
    template, filled = tmp_path / "template.xlsx", tmp_path / "orders.xlsx"
    download.value.save_as(template)
    _fill(template, filled)
    page.get_by_label("匯入單號").fill("WEB-INST-1")
    page.get_by_label("發行資料檔案（.xlsx）").set_input_files(str(filled))
    page.get_by_role("button", name="確認匯入").click()
    assert page.get_by_test_id("wrong-row").count() == 0
    assert page.get_by_test_id("total-orders").inner_text() == "1"
    page.get_by_role("button", name="確認發行").click()  # the dialog is accepted
    page.get_by_test_id("batch-status").filter(has_text="發行成功").wait_for(timeout=15_000)
    assert _statuses(app) == ["unused"] * 12

    # the clock moves: the deposit, the daily job on 7/2, the release the night after
    with app.app_context():
        clock.freeze(T(2026, 7, 2, 0, 10))
        assert redeem_due_periods(clock.now().isoformat()) >= 1
        clock.freeze(T(2026, 7, 2, 1, 0))
        run_sync(date(2026, 7, 2), force=True)
        clock.freeze(T(2026, 7, 3, 1, 0))
        run_sync(date(2026, 7, 3), force=True)
    assert _statuses(app) == ["redeemed"] + ["unused"] * 11
    clock.freeze(T(2026, 7, 3, 10, 0))
    page.get_by_test_id("issued-orders-link").click()
    assert "WEBI0001" in page.locator("main").inner_text()

    # on a phone: return with a fee, cancel the return, return again
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/installments/order-return?merchant_order_no=WEBI0001")
    assert "11 期" in page.get_by_test_id("unused-amount").inner_text()
    page.get_by_label("退貨手續費").fill("110")
    page.get_by_label("原因").fill("課程取消")
    page.get_by_test_id("act").click()
    assert "已送出退貨，訂單狀態已變更" in page.locator("main").inner_text()
    assert _statuses(app) == ["redeemed"] + ["return_pending"] * 11

    page.goto(f"{live_server}/installments/order-cancel-return?merchant_order_no=WEBI0001")
    page.get_by_label("原因").fill("操作錯誤")
    page.get_by_test_id("act").click()
    assert "已取消退貨，訂單狀態已變更" in page.locator("main").inner_text()
    assert _statuses(app) == ["redeemed"] + ["unused"] * 11

    page.goto(f"{live_server}/installments/order-return?merchant_order_no=WEBI0001")
    page.get_by_label("退貨手續費").fill("11001")  # above the unused 11,000: on the field
    page.get_by_label("原因").fill("課程取消")
    page.get_by_test_id("act").click()
    assert "不可超過未使用金額" in page.locator("main").inner_text()
    page.get_by_label("退貨手續費").fill("50")
    page.get_by_test_id("act").click()
    assert "已送出退貨，訂單狀態已變更" in page.locator("main").inner_text()

    # the bank refunds it the next night; the notice goes to the merchant's server
    with app.app_context():
        clock.freeze(T(2026, 7, 4, 1, 0))
        run_sync(date(2026, 7, 4), force=True)
        clock.freeze(T(2026, 7, 4, 1, 5))
        refund_notices(clock.now().isoformat())
    assert _statuses(app) == ["redeemed"] + ["returned"] * 11
    [received] = merchant.requests
    assert received.form["MerchantOrderNo"] == "WEBI0001"
    assert verify(secret, received.headers["X-Ectix-Timestamp"], received.body,
                  received.headers["X-Ectix-Signature"], now=int(clock.now().timestamp()))

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/installments/reports?merchant_order_no=WEBI0001")
    page.get_by_test_id("order-row").get_by_role("link").first.click()  # its ECT order number
    page.get_by_test_id("notice-status").filter(has_text="通知成功").first.wait_for()
