"""Browser: the demo issuer looks a returned voucher up in 票券報表 by its serial, opens the row's
價金保管帳 in the modal, goes to the ticket page, reads the ledger there (deposit, refund and
handling fee, each acknowledged by the bank, the balance back to NT$0) and downloads it as Excel;
at desktop width nothing overflows the page, and on a phone the ledger's table scrolls inside
its own box while the page itself does not (and a gift voucher's empty state fits)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Account
from app.db import db
from app.escrow import queries
from app.escrow.columns import LEDGER_COLUMNS
from app.escrow.models import LedgerEntry, LedgerKind
from app.products.models import ProductKind
from app.tickets.models import Ticket
from app.web import format_money

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "locale": "zh-TW", "timezone_id": "Asia/Taipei"}
DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-TW",
           "timezone_id": "Asia/Taipei"}


def _login(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _overflow(page) -> int:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _returned_with_fee(app) -> tuple[str, int, list[tuple[str, str]]]:  # noqa: ANN001
    """The demo issuer's voucher refunded with a handling fee: its serial, id, and each ledger
    row as the page shows it (項目, 保管餘額)."""
    with app.app_context():
        issuer = db.session.scalar(select(Account).where(Account.username == "issuer"))
        ticket = db.session.scalar(
            select(Ticket).join(LedgerEntry, LedgerEntry.ticket_id == Ticket.id)
            .where(Ticket.store_id == issuer.store_id, LedgerEntry.kind == LedgerKind.HANDLING_FEE)
            .order_by(Ticket.id).limit(1).execution_options(unscoped=True))
        assert ticket is not None, "the demo returns a voucher with a handling fee"
        lines = queries.ticket_ledger(ticket).lines
        return ticket.serial, ticket.id, [(line.kind.label, format_money(line.balance)) for line in lines]


def _shown(ledger) -> list[tuple[str, str]]:  # noqa: ANN001
    rows = ledger.get_by_test_id("ledger-row")
    return list(zip(rows.locator('td[data-col="kind"]').all_inner_texts(),
                    rows.locator('td[data-col="balance"]').all_inner_texts(), strict=True))


def test_open_a_ticket_see_its_ledger_and_download_it(app, live_server, browser_instance):
    serial, ticket_id, expected = _returned_with_fee(app)
    assert [kind for kind, _ in expected] == ["價金存入", "退款", "退貨手續費"]
    assert expected[-1][1] == "NT$0"
    context = browser_instance.new_context(**DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _login(page, live_server, "issuer")
        page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券報表").click()
        page.get_by_test_id("report-modes").get_by_role("link", name="票券序號查詢").click()
        page.get_by_label("票券序號").fill(serial)
        page.get_by_test_id("query").click()
        row = page.locator(f'[data-testid="ticket-row"][data-serial="{serial}"]')
        row.wait_for()

        # the row's 價金保管帳, in the modal
        row.get_by_test_id("ledger-link").click()
        modal = page.get_by_test_id("row-modal-body")
        modal.get_by_test_id("escrow-ledger-table").wait_for()
        assert _shown(modal) == expected
        page.get_by_role("button", name="關閉").click()

        # the ticket page
        row.get_by_role("link", name=serial).click()
        page.wait_for_url(f"**/tickets/{serial}")
        ledger = page.get_by_test_id("escrow-ledger")
        expect(ledger).to_be_visible()
        assert _shown(ledger) == expected
        expect(ledger.get_by_test_id("escrow-held")).to_contain_text("NT$0")
        assert ledger.locator('td[data-col="bank"]').all_inner_texts() == ["銀行已確認"] * 3
        assert all(ref.startswith("ESB") for ref in
                   ledger.locator('td[data-col="bank_ref"]').all_inner_texts())
        assert _overflow(page) <= 0

        with page.expect_download() as caught:
            ledger.get_by_test_id("ledger-export").click()
        download = caught.value
        assert download.suggested_filename.startswith(f"價金保管帳_{serial}_")
        with open(download.path(), "rb") as f:
            header, *rows = load_workbook(io.BytesIO(f.read()), read_only=True).active.iter_rows(values_only=True)
        assert list(header) == [c.header for c in LEDGER_COLUMNS]
        kind, balance = header.index("項目"), header.index("保管餘額")
        assert [(r[kind], format_money(r[balance])) for r in rows] == expected
        assert {r[header.index("票券序號")] for r in rows} == {serial}
    finally:
        context.close()


def test_on_a_phone_the_ledger_scrolls_inside_its_box(app, live_server, browser_instance):
    serial, _, expected = _returned_with_fee(app)
    with app.app_context():
        gift = db.session.scalar(select(Ticket.serial).join(Account, Account.store_id == Ticket.store_id)
                                 .where(Account.username == "issuer", Ticket.kind == ProductKind.GIFT)
                                 .limit(1).execution_options(unscoped=True))
    context = browser_instance.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _login(page, live_server, "issuer")
        page.goto(f"{live_server}/tickets/{serial}")
        ledger = page.get_by_test_id("escrow-ledger")
        table = ledger.get_by_test_id("escrow-ledger-table")
        table.scroll_into_view_if_needed()
        expect(table).to_be_visible()
        assert _shown(ledger) == expected
        assert _overflow(page) <= 0  # the page does not scroll sideways
        box = ledger.locator(".table-responsive")
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")  # the table does, in its box
        expect(ledger.get_by_test_id("ledger-export")).to_be_visible()
        expect(ledger.get_by_test_id("escrow-held")).to_be_visible()

        # a gift voucher has no ledger: the sentence fits the phone's width
        page.goto(f"{live_server}/tickets/{gift}")
        empty = page.get_by_test_id("ledger-empty")
        empty.scroll_into_view_if_needed()
        expect(empty).to_have_text("尚無價金保管紀錄：贈品券不需價金保管。")
        edge = empty.bounding_box()
        assert edge["x"] >= 0 and edge["x"] + edge["width"] <= PHONE["viewport"]["width"]
        assert _overflow(page) <= 0
    finally:
        context.close()
