"""Browser (desktop and a 390×844 phone): the issuer edits its contacts with names and phones,
sees a wrong phone's message at that field, turns on 收款通知, then opens 廠商文件下載區 and the
manual."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.fixture(params=list(SIZES))
def screen(request, browser_instance):  # noqa: ANN001, ANN201
    context = browser_instance.new_context(locale="zh-TW", timezone_id="Asia/Taipei",
                                           **SIZES[request.param])
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.phone = request.param == "phone"
    yield pg
    context.close()


def _menu(page, name: str) -> None:  # noqa: ANN001
    if page.phone:
        page.get_by_role("button", name="選單").click()
    page.get_by_role("navigation", name="主選單").get_by_role("link", name=name, exact=True).click()


def test_contacts_payout_notice_and_the_manual(live_server, screen):
    page = screen
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    _menu(page, "廠商基本資料")
    expect(page.get_by_role("heading", name="廠商基本資料")).to_be_visible()
    page.get_by_label("帳務聯絡人姓名").fill("陳帳務")
    page.get_by_label("帳務聯絡人電話").fill("(02)2345-6789 分機 12")
    page.get_by_label("業務聯絡人姓名").fill("林業務")
    page.get_by_label("業務聯絡人電話").fill("2345-6789")  # no area code
    page.get_by_role("button", name="修改").click()

    wrong = page.locator("#sales_phone.is-invalid")
    expect(wrong).to_be_visible()
    expect(wrong).to_be_in_viewport()
    message = page.get_by_test_id("contact-sales").locator(".invalid-feedback")
    expect(message).to_contain_text("「2345-6789」不是有效的電話號碼")
    assert wrong.evaluate("e => e.closest('.mb-3').contains(document.querySelector("
                          "'[data-testid=contact-sales] .invalid-feedback'))")
    expect(page.get_by_label("帳務聯絡人姓名")).to_have_value("陳帳務")  # what was typed stays

    wrong.fill("0912-345-678")
    page.get_by_test_id("payout-notice-settings").get_by_label("開啟").check()
    page.get_by_role("button", name="修改").click()
    expect(page.get_by_text("廠商基本資料已修改")).to_be_visible()
    expect(page.get_by_label("帳務聯絡人電話")).to_have_value("02-23456789#12")
    expect(page.get_by_label("業務聯絡人電話")).to_have_value("0912345678")
    expect(page.get_by_test_id("payout-notice-settings").get_by_label("開啟")).to_be_checked()
    expect(page.get_by_test_id("contacts-history")).to_contain_text("修改收付款通知設定")

    _menu(page, "廠商文件下載區")
    expect(page.get_by_role("heading", name="廠商文件下載區")).to_be_visible()
    expect(page.get_by_test_id("download-issuance-template")).to_be_visible()
    page.get_by_test_id("download-manual").click()
    expect(page.get_by_role("heading", name="ECTicket 發行管理平台操作手冊")).to_be_visible()
    toc = page.get_by_test_id("manual-toc")
    toc.get_by_role("link", name="Billing (六 帳單報表)").click()
    expect(page.locator("#billing")).to_be_in_viewport()
    assert page.get_by_test_id("manual-chapter").count() == 7
    # nothing is wider than the screen (wide tables scroll inside themselves)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
