"""Browser: the demo issuer finds its authorised card transaction on 交易明細查詢, ticks it,
batch-closes it (confirming the dialog) and sees it on 要關帳列表."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from demodata.credit import DEMO_TRANSACTIONS
from demodata.stores import DEMO_PASSWORD

pytestmark = pytest.mark.browser
MERCHANT_TRADE_NO = DEMO_TRANSACTIONS[0][0]  # authorised yesterday


def test_the_issuer_batch_closes_a_transaction(live_server, page) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")
    page.goto(f"{live_server}/vendor/credit/transactions?order_no={MERCHANT_TRADE_NO}")
    page.wait_for_selector("html[data-ready=true]")
    row = page.get_by_test_id("txn-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("status")).to_have_text("已授權")
    trade_no = row.get_attribute("data-trade-no")
    row.locator("input.txn-check").check()
    expect(page.locator("[data-checked-count]")).to_have_text("1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("batch-close").click()
    expect(page.get_by_test_id("closed-count")).to_have_text("1")
    page.goto(f"{live_server}/vendor/credit/close-requested")
    page.wait_for_selector("html[data-ready=true]")
    closed = page.locator(f'[data-testid=txn-row][data-trade-no="{trade_no}"]')
    expect(closed.get_by_test_id("status")).to_have_text("要關帳")
    assert trade_no and closed.get_attribute("data-status") == "close_requested"
