"""Browser: the demo issuer opens 票券報表 from the menu, queries by date, turns a column group
on and sees its column, opens a row's history in the modal and downloads the Excel of the
query; the demo clerk1 (bound to branch A001) sees only A001's tickets, with a branch picker
that offers no other branch."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import or_, select

from app.auth.models import Account
from app.db import db
from app.tickets.models import Ticket

pytestmark = pytest.mark.browser


def _login(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill("Demo1234")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: "/login" not in url)  # home, or a branch clerk's counter


def _open_report(page) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name="主選單").get_by_role("link", name="票券報表").click()
    page.get_by_test_id("ticket-report-form").wait_for()


def _serials(page) -> list[str]:  # noqa: ANN001
    return page.get_by_test_id("ticket-row").evaluate_all("rows => rows.map(r => r.dataset.serial)")


def _headers(page) -> list[str]:  # noqa: ANN001
    return [h.strip() for h in page.get_by_test_id("ticket-report").locator("thead th").all_inner_texts()]


def test_the_issuer_queries_adds_a_column_group_and_downloads_excel(app, live_server, page):
    with app.app_context():
        issuer = db.session.scalar(select(Account).where(Account.username == "issuer"))
        expected = set(db.session.scalars(select(Ticket.serial).where(Ticket.store_id == issuer.store_id)
                                          .execution_options(unscoped=True)))
    _login(page, live_server, "issuer")
    _open_report(page)
    page.get_by_label("日期類型").select_option(label="發行日")
    page.get_by_test_id("query").click()
    page.get_by_test_id("ticket-report").wait_for()
    assert set(_serials(page)) == expected  # the demo tickets were issued in the last 30 days
    assert "持票人姓名" not in _headers(page)

    page.get_by_label("顯示持票人資訊").check()
    page.get_by_test_id("query").click()
    page.wait_for_url("**cols=holder**")
    assert "持票人姓名" in _headers(page)
    holders = page.locator('[data-testid="ticket-row"] td[data-col="holder_name"]').all_inner_texts()
    assert "示範購買人" in holders and len(holders) == len(expected)

    # a row's history opens in the modal, without leaving the page
    page.get_by_test_id("history-link").first.click()
    modal = page.get_by_test_id("row-modal-body")
    modal.get_by_test_id("ticket-history").wait_for()
    expect(modal.get_by_text("票券歷程")).to_be_visible()
    page.get_by_role("button", name="關閉").click()

    with page.expect_download() as caught:
        page.get_by_test_id("excel").click()
    download = caught.value
    assert download.suggested_filename.startswith("票券報表_") and download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        rows = list(load_workbook(io.BytesIO(f.read()), read_only=True).active.iter_rows(values_only=True))
    assert "持票人姓名" in rows[0] and rows[0][0] == "票券序號"
    assert {r[0] for r in rows[1:]} == expected and len(rows) - 1 == len(expected)


def test_a_bound_clerk_sees_only_its_branch(app, live_server, page):
    with app.app_context():
        clerk = db.session.scalar(select(Account).where(Account.username == "clerk1"))
        branch_id = clerk.branch_id
        expected = set(db.session.scalars(select(Ticket.serial).where(
            or_(Ticket.redeemed_branch_id == branch_id, Ticket.returned_branch_id == branch_id))
            .execution_options(unscoped=True)))
    assert expected  # the demo's clerk1 redeemed some tickets
    _login(page, live_server, "clerk1")
    _open_report(page)
    picker = page.get_by_test_id("branch-picker")
    assert picker.is_disabled()
    assert picker.locator("option").all_inner_texts() == ["A001 台北門市"]
    page.get_by_label("顯示操作人員").check()
    page.get_by_test_id("query").click()
    page.wait_for_url("**cols=operators**")
    assert set(_serials(page)) == expected
    branches = page.locator('[data-testid="ticket-row"] td[data-col="redeemed_branch"]').all_inner_texts()
    assert set(branches) == {"A001 台北門市"}
    # a hand-made URL naming another branch shows the same rows
    page.goto(f"{page.url}&branch={branch_id + 1}")
    assert set(_serials(page)) == expected
