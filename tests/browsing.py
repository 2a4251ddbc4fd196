"""What browser tests do again and again: a phone-sized context, the merchant's login, paying
on the cashier page with the test card."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Page

PHONE = {"width": 390, "height": 844}


def phone_context(browser: Browser) -> BrowserContext:
    """A Taiwanese phone: zh-TW, Taipei time, 390 × 844, touch; 15 s to find anything."""
    context = browser.new_context(locale="zh-TW", timezone_id="Asia/Taipei", viewport=PHONE,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    return context


def log_in(page: Page, base: str, username: str, password: str = "Demo1234") -> None:
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(password)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/home")


def pay_with_test_card(page: Page, *, holder: tuple[str, str] | None = None) -> None:
    """Fill the cashier page with ECPay's test card (and the cardholder a ticket order asks
    for: name, mobile) and press 確認付款."""
    page.fill("#card_number", "4311-9522-2222-2222")
    page.fill("#expiry", "12/30")
    page.fill("#cvv", "222")
    if holder is not None:
        page.fill("#holder_name", holder[0])
        page.fill("#holder_mobile", holder[1])
    page.get_by_test_id("pay").click()
