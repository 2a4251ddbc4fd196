"""Browser: the demo issuer saves a filter on 票券報表 (a date type and a column group), reloads
the report without a query, applies the saved filter with one click from 已儲存的篩選條件 and
gets the same query back; then deletes it. At desktop size and on a 390×844 phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def sized_page(request, browser_instance):  # noqa: ANN001, ANN201
    context = browser_instance.new_context(locale="zh-TW", timezone_id="Asia/Taipei", **request.param)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())  # 確定刪除…？
    yield page
    context.close()


def test_save_reload_and_apply_a_filter_on_the_ticket_report(live_server, sized_page):
    page = sized_page
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server}/reports/tickets")
    page.get_by_label("日期類型").select_option(label="核銷日")
    page.get_by_label("顯示持票人資訊").check()
    page.get_by_test_id("query").click()
    page.wait_for_url("**date_type=redeemed**")

    page.get_by_test_id("save-filter-toggle").click()
    form = page.get_by_test_id("save-filter-form")
    form.get_by_label("篩選條件名稱").fill("核銷日＋持票人")
    form.get_by_test_id("save-filter").click()
    expect(page.get_by_text("已儲存篩選條件「核銷日＋持票人」")).to_be_visible()

    page.goto(f"{live_server}/reports/tickets")  # a fresh report: the defaults again
    expect(page.get_by_label("日期類型")).to_have_value("issued")
    expect(page.get_by_label("顯示持票人資訊")).not_to_be_checked()

    page.get_by_test_id("saved-filter-menu").click()
    item = page.get_by_test_id("saved-filter").filter(has_text="核銷日＋持票人")
    expect(item).to_be_visible()
    item.click()
    page.wait_for_url("**date_type=redeemed**")
    assert "cols=holder" in page.url and "page=" not in page.url
    expect(page.get_by_label("日期類型")).to_have_value("redeemed")
    expect(page.get_by_label("顯示持票人資訊")).to_be_checked()
    expect(page.get_by_test_id("saved-filter-menu")).to_contain_text("（1）")

    page.get_by_test_id("saved-filter-menu").click()
    page.get_by_test_id("delete-saved-filter").first.click()
    expect(page.get_by_text("已刪除篩選條件「核銷日＋持票人」")).to_be_visible()
    expect(page.get_by_test_id("saved-filter-menu")).to_contain_text("（0）")
