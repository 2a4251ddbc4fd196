"""Browser: the demo issuer's home shows its charts, and the amount/count toggles swap the
figures in place (HTMX, no page load); the numbers are in the tables too; a period over three
months is refused inside the card."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _values(page, testid: str) -> list[int]:  # noqa: ANN001
    return [int(v) for v in page.get_by_test_id(testid).locator("rect").evaluate_all(
        "rects => rects.map(r => r.getAttribute('data-value'))")]


def _table(page, testid: str, attribute: str) -> list[int]:  # noqa: ANN001
    return [int(v) for v in page.get_by_test_id(testid).locator(f"[{attribute}]").evaluate_all(
        f"cells => cells.map(c => c.getAttribute('{attribute}'))")]


def test_the_demo_issuer_switches_amount_and_count(live_server, page):
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    status = page.get_by_role("img", name="近90天票券核銷、退貨、未使用（面額）")
    expect(status).to_be_visible(timeout=10_000)
    amounts = _table(page, "status-table", "data-amount")
    counts = _table(page, "status-table", "data-count")
    assert sum(counts) > 0 and amounts != counts  # the demo has tickets in every figure
    assert _values(page, "status-chart") == amounts
    page.evaluate("window.__notReloaded = true")

    card = page.locator("#home-status")
    card.get_by_role("link", name="張數").click()
    page.get_by_role("img", name="近90天票券核銷、退貨、未使用（張數）").wait_for()
    assert _values(page, "status-chart") == counts
    assert card.get_by_role("link", name="張數").get_attribute("aria-pressed") == "true"
    assert page.evaluate("window.__notReloaded === true")  # swapped in place

    card.get_by_role("tab", name="表格").click()
    table = page.get_by_test_id("status-table")
    expect(table.get_by_role("rowheader", name="核銷")).to_be_visible(timeout=10_000)
    card.get_by_role("link", name="面額").click()
    page.get_by_role("img", name="近90天票券核銷、退貨、未使用（面額）").wait_for()
    assert _values(page, "status-chart") == amounts

    # issued orders: the demo's orders are ten days old and today, inside the default 30 days
    orders = page.locator("#home-orders")
    money = _values(page, "orders-chart")
    assert len(money) == 30 and sum(money) == sum(_table(page, "orders-table", "data-amount")) > 0
    orders.get_by_role("link", name="筆數").click()
    expect(orders.get_by_role("link", name="筆數")).to_have_attribute("aria-pressed", "true")
    assert _values(page, "orders-chart") == _table(page, "orders-table", "data-orders")
    expect(page.get_by_role("img", name="提貨券銷量前5名（服務開通至今）")).to_be_visible(timeout=10_000)

    orders.get_by_label("起日").fill("2020-01-01")
    orders.get_by_label("迄日").fill("2020-06-30")
    orders.get_by_role("button", name="查詢").click()
    expect(orders.get_by_test_id("orders-error")).to_have_text("查詢區間不可超過三個月", timeout=10_000)
    assert page.evaluate("window.__notReloaded === true")
