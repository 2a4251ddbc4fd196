"""Browser: the shell on a phone (the menu folds behind 選單, the content comes first), the
ticket report with every optional column group at 1366 px (no page overflow, its first column
stays put while the table scrolls), the operator outbox's fixed columns, and a report on paper
(no menu, filters or buttons; a header with the store, the title and the query)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-TW", "timezone_id": "Asia/Taipei"}
DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-TW",
           "timezone_id": "Asia/Taipei"}


def _context(browser, options: dict, base: str, username: str):  # noqa: ANN001, ANN202
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def _overflow(page) -> int:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_on_a_phone_the_menu_folds_behind_a_button(live_server, browser_instance):
    context, page = _context(browser_instance, PHONE, live_server, "issuer")
    try:
        nav = page.get_by_role("navigation", name="主選單")
        toggle = page.get_by_role("button", name="選單")
        expect(toggle).to_be_visible()
        expect(nav.get_by_role("link", name="票券報表")).to_be_hidden()
        # the page's own content starts right under the top bar, not under the whole menu
        assert page.locator("#main").bounding_box()["y"] < 80
        assert _overflow(page) <= 0

        toggle.click()
        link = nav.get_by_role("link", name="票券報表")
        link.wait_for(state="visible")
        link.click()
        page.get_by_test_id("ticket-report-form").wait_for()
        expect(nav.get_by_role("link", name="票券報表")).to_be_hidden()
        assert _overflow(page) <= 0
    finally:
        context.close()


def test_at_1366_the_menu_stands_beside_the_content(live_server, browser_instance):
    context, page = _context(browser_instance, DESKTOP, live_server, "issuer")
    try:
        expect(page.get_by_role("button", name="選單")).to_be_hidden()
        nav = page.get_by_role("navigation", name="主選單")
        expect(nav.get_by_role("link", name="票券報表")).to_be_visible()
        assert nav.bounding_box()["x"] == 0 and page.locator("#main").bounding_box()["x"] >= 200
    finally:
        context.close()


def test_the_ticket_report_with_every_column_group_at_1366_and_on_paper(live_server, browser_instance):
    context, page = _context(browser_instance, DESKTOP, live_server, "issuer")
    try:
        page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券報表").click()
        page.get_by_label("日期類型").select_option(label="發行日")
        for box in page.get_by_test_id("column-groups").get_by_role("checkbox").all():
            box.check()
        page.get_by_test_id("query").click()
        page.wait_for_url("**cols=**")
        table = page.get_by_test_id("ticket-report")
        table.wait_for()
        assert _overflow(page) <= 0  # the table scrolls inside its own box, not the page

        first = table.locator("tbody tr").first.locator("td").first
        box_before = first.bounding_box()
        scrolled = table.evaluate("t => { const w = t.closest('.table-responsive');"
                                  " w.scrollLeft = w.scrollWidth; return w.scrollLeft; }")
        assert scrolled > 0  # every column group on: wider than the screen
        assert first.bounding_box()["x"] == box_before["x"]  # the serial stays in view

        page.emulate_media(media="print")
        expect(page.get_by_role("navigation", name="主選單")).to_be_hidden()
        expect(page.get_by_test_id("ticket-report-form")).to_be_hidden()
        expect(page.get_by_test_id("query")).to_be_hidden()
        header = page.get_by_test_id("print-header")
        expect(header).to_be_visible()
        text = header.inner_text()
        assert "示範票券發行商" in text and "票券報表" in text and "cols：holder" in text
        expect(table).to_be_visible()
    finally:
        context.close()


def test_the_outbox_table_has_fixed_columns_that_wrap(live_server, browser_instance):
    context, page = _context(browser_instance, DESKTOP, live_server, "operator")
    try:
        page.goto(f"{live_server}/operator/messages")
        table = page.get_by_test_id("messages")
        assert table.evaluate("t => getComputedStyle(t).tableLayout") == "fixed"
        assert _overflow(page) <= 0
        spilled = table.evaluate("t => [...t.querySelectorAll('td')]"
                                 ".filter(td => td.scrollWidth > td.clientWidth + 1).length")
        assert spilled == 0
    finally:
        context.close()
