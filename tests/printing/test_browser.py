"""Browser: the demo issuer opens 紙本票券列印 from the menu, selects the unprinted tickets and
downloads their PDF (every serial inside, the QR code the redemption code), and sees the run in
the print history; at the kiosk page a consumer prints an ibon order once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.db import db
from app.tickets.models import Order, Ticket
from tests.printing.helpers import pdf_text, qr_codes

pytestmark = pytest.mark.browser


def _demo(app, import_no: str):  # noqa: ANN001, ANN202
    from app.issuance.models import Batch

    with app.app_context():
        batch_id = db.session.scalar(select(Batch.id).where(Batch.import_no == import_no))
        tickets = [(t.serial, t.code, t.print_count) for t in db.session.scalars(
            select(Ticket).where(Ticket.batch_id == batch_id).order_by(Ticket.id))]
        order = db.session.scalar(select(Order).where(Order.batch_id == batch_id))
        code = order.pickup_code
        db.session.remove()
    return tickets, code


def test_the_issuer_prints_the_unprinted_paper_tickets(app, live_server, page, tmp_path):
    tickets, _ = _demo(app, "DEMO-P1")
    unprinted = [t for t in tickets if t[2] == 0]
    assert unprinted, "the demo has unprinted merchant-print tickets"
    page.goto(f"{live_server}/login")
    page.get_by_label("帳號").fill("issuer")
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/home")

    page.get_by_role("navigation", name="主選單").get_by_role("link", name="紙本票券列印").click()
    page.get_by_label("列印狀態").select_option(label="未列印")
    page.get_by_role("button", name="查詢").click()
    rows = page.get_by_test_id("ticket-row")
    expect(rows).to_have_count(len(unprinted))  # the answer to the query, not the page before
    expect(page.locator("html")).to_have_attribute("data-ready", "true")  # select.js has run
    assert rows.count() == len(unprinted)
    page.get_by_label("全選本頁").check()
    assert page.locator("#selected-count").inner_text() == str(len(unprinted))
    with page.expect_download() as info:
        page.get_by_test_id("print-selected").click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    assert all(serial in text for serial, _, _ in unprinted)
    assert qr_codes(data, tmp_path) == [[unprinted[0][1]]]

    page.get_by_role("link", name="列印紀錄").click()
    first = page.get_by_test_id("run-row").first
    assert "廠商列印" in first.inner_text() and "issuer" in first.inner_text()
    first.get_by_role("link").click()
    assert page.get_by_test_id("run-ticket").count() == len(unprinted)


def test_the_kiosk_prints_an_ibon_order_once(app, live_server, page, tmp_path):
    tickets, code = _demo(app, "DEMO-C1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server}/cvs/{code}")
    cards = page.get_by_test_id("kiosk-ticket")
    assert cards.count() == len(tickets)
    assert page.locator("[data-testid=kiosk-qr] svg").count() == len(tickets)
    with page.expect_download() as info:
        page.get_by_role("button", name="列印").click()
    data = Path(info.value.path()).read_bytes()
    assert all(serial in pdf_text(data, tmp_path) for serial, _, _ in tickets)
    page.goto(f"{live_server}/cvs/{code}")
    expect(page.get_by_test_id("kiosk-printed")).to_be_visible()
    assert page.locator("svg").count() == 0
    page.goto(f"{live_server}/cvs/999999999999")
    assert page.get_by_test_id("kiosk-message").inner_text() == "取票代碼無效"
