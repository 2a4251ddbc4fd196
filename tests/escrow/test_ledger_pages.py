"""A voucher's 價金保管帳 through the client: another store's ticket is 404 everywhere, each
account gets from the ledger what it gets from the page the ledger sits on (the ticket page, the
ticket report's row), the Excel is guarded against formulas, the empty state, the table markup,
and the statements: two for a voucher's ledger whatever its length, and the report's 價金保管餘額
column costs no statement per row."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from app.auth.permissions import Function, Level
from app.columns import on_page
from app.db import db
from app.escrow import queries
from app.escrow.columns import LEDGER_COLUMNS
from app.escrow.jobs import run_sync
from app.escrow.models import BankInstruction, InstructionKind
from app.tickets import services
from app.tickets.models import Ticket
from tests.escrow.helpers import at, day, reload
from tests.factories import login, make_branch, make_operator, make_product, make_sub
from tests.issuance.helpers import ready_store
from tests.reports.ticket_world import build_family
from tests.tickets.helpers import issue

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTMX = {"HX-Request": "true"}
LEDGER_ROW = 'data-testid="ledger-row"'


def _returned(*shops) -> list[Ticket]:  # noqa: ANN002
    """For each (owner, store, product): a pickup voucher issued 7/1 and returned that evening
    with a fee of 30: deposit on the night of 7/2, refund and handling fee on the night of 7/3
    (three ledger rows)."""
    tickets = []
    for owner, store, product in shops:
        at(2026, 7, 1, 9, 0)
        [ticket] = issue(owner, store, product)
        at(2026, 7, 1, 20, 0)
        services.return_ticket(owner, store, reload(ticket), reason="顧客不要了", fee=30)
        db.session.commit()
        tickets.append(ticket)
    for d in (2, 3):
        at(2026, 7, d, 1, 0)
        run_sync(day(7, d))
    return [reload(t) for t in tickets]


@pytest.fixture
def shop(ctx, bank):  # noqa: ANN001, ANN201
    """A store with a returned voucher (three ledger rows) and a fresh one (none), another store
    with a voucher of its own; the clock left on 7/3 10:00."""
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, gift = ready_store()
    other, other_owner, other_pickup, _ = ready_store("other01")
    returned, theirs = _returned((owner, store, pickup), (other_owner, other, other_pickup))
    at(2026, 7, 3, 10, 0)
    [fresh] = issue(owner, store, pickup)
    return {"store": store, "owner": owner, "pickup": pickup, "gift": gift, "returned": returned,
            "fresh": reload(fresh), "theirs": theirs, "other": other}


def _client(app, username: str):  # noqa: ANN001, ANN202
    client = app.test_client()
    login(client, username)
    return client


def _sheet(data: bytes) -> list[list[object]]:
    return [list(r) for r in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)]


# Tenancy and bad input ---------------------------------------------------------------------------

def test_another_stores_ticket_is_404_on_every_ledger_url(app, shop):
    client = _client(app, "issuer01")
    theirs = shop["theirs"]
    for url in (f"/tickets/{theirs.serial}", f"/tickets/{theirs.serial}/ledger/export",
                f"/reports/tickets/{theirs.id}/ledger", f"/reports/tickets/{theirs.id}/ledger/export"):
        assert client.get(url).status_code == 404, url
    # and their owner gets theirs
    other = _client(app, "other01")
    assert other.get(f"/tickets/{theirs.serial}/ledger/export").status_code == 200
    assert LEDGER_ROW in other.get(f"/reports/tickets/{theirs.id}/ledger").get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/tickets/NOSUCHSERIAL/ledger/export", "/tickets/%00/ledger/export",
    f"/tickets/{'A' * 5000}/ledger/export", f"/reports/tickets/{2**31}/ledger",
    f"/reports/tickets/{2**63}/ledger", f"/reports/tickets/{10**30}/ledger/export",
    "/reports/tickets/-1/ledger", "/reports/tickets/abc/ledger/export",
])
def test_forged_ids_are_404(app, shop, url):
    assert _client(app, "issuer01").get(url).status_code == 404


# Who may see it ----------------------------------------------------------------------------------

@pytest.fixture
def accounts(shop):  # noqa: ANN001, ANN201
    """Sub-accounts of the shop: one with no rights, a clerk bound to a branch with counter rights
    only, a report viewer bound to a branch that handled nothing, a head-office report viewer."""
    store = shop["store"]
    branch = make_branch(store, "L001", "帳務門市")
    make_sub(store, "norights1")
    make_sub(store, "counter01", branch=branch, grants={Function.REDEEM: Level.MODIFY})
    make_sub(store, "branchv01", branch=branch, grants={Function.REPORT_TICKETS: Level.VIEW})
    make_sub(store, "viewer001", grants={Function.REPORT_TICKETS: Level.VIEW})
    make_operator("opledger1")
    db.session.commit()
    return ("issuer01", "norights1", "counter01", "branchv01", "viewer001", "opledger1")


def test_each_account_gets_from_the_ledger_what_it_gets_from_its_page(app, shop, accounts):
    ticket = shop["returned"]
    seen = {}
    for username in accounts:
        client = _client(app, username)
        page = client.get(f"/tickets/{ticket.serial}").status_code
        history = client.get(f"/reports/tickets/{ticket.id}/history").status_code
        seen[username] = (page, history)
        assert client.get(f"/tickets/{ticket.serial}/ledger/export").status_code == page, username
        assert client.get(f"/reports/tickets/{ticket.id}/ledger").status_code == history, username
        assert client.get(f"/reports/tickets/{ticket.id}/ledger/export").status_code == history, username
    # what the pages give, for the record: the ticket page to any merchant account, the report
    # to its viewers (a bound one: the tickets its branch handled only)
    assert seen == {"issuer01": (200, 200), "norights1": (200, 403), "counter01": (200, 403),
                    "branchv01": (200, 404), "viewer001": (200, 200), "opledger1": (403, 403)}


def test_the_ticket_page_shows_the_ledger_to_whoever_sees_the_page(app, shop, accounts):
    body = _client(app, "counter01").get(f"/tickets/{shop['returned'].serial}").get_data(as_text=True)
    assert body.count(LEDGER_ROW) == 3


def test_a_parent_store_sees_its_childs_ledger_in_the_report_only(app, ctx):
    family = build_family()
    child_ticket = family.child_tickets[0]
    client = _client(app, "rparent01")
    assert client.get(f"/reports/tickets/{child_ticket.id}/history").status_code == 200
    response = client.get(f"/reports/tickets/{child_ticket.id}/ledger")
    assert response.status_code == 200 and 'data-testid="escrow-ledger"' in response.get_data(as_text=True)
    assert client.get(f"/reports/tickets/{child_ticket.id}/ledger/export").status_code == 200
    # the ticket page is the acting store's only: switch into the child first
    assert client.get(f"/tickets/{child_ticket.serial}").status_code == 404
    assert client.get(f"/tickets/{child_ticket.serial}/ledger/export").status_code == 404


# The Excel ---------------------------------------------------------------------------------------

def test_the_excel_is_the_ledger_and_cannot_carry_a_formula(app, shop):
    ticket = shop["returned"]
    # a hostile bank reference and product name (text the file takes from outside)
    db.session.execute(update(BankInstruction).where(BankInstruction.ticket_id == ticket.id,
                                                     BankInstruction.kind == InstructionKind.REFUND)
                       .values(bank_ref='=HYPERLINK("http://evil.example","x")'))
    shop["pickup"].name = "@SUM(1+1)"
    db.session.commit()
    response = _client(app, "issuer01").get(f"/tickets/{ticket.serial}/ledger/export")
    assert response.status_code == 200 and response.mimetype == XLSX
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition and ticket.serial in disposition
    header, *rows = _sheet(response.data)
    assert header == [c.header for c in LEDGER_COLUMNS]
    col = {h: i for i, h in enumerate(header)}
    assert [r[col["項目"]] for r in rows] == ["價金存入", "退款", "退貨手續費"]
    assert [(r[col["存入信託"]], r[col["自信託撥出"]], r[col["保管餘額"]]) for r in rows] == [
        (150, None, 150), (None, 120, 30), (None, 30, 0)]
    assert [r[col["撥付對象"]] for r in rows] == [None, "消費者", "廠商"]
    assert [r[col["帳務日期"]].date() for r in rows] == [date(2026, 7, 2), date(2026, 7, 3), date(2026, 7, 3)]
    assert rows[1][col["銀行交易編號"]] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert {r[col["商品名稱"]] for r in rows} == {"'@SUM(1+1)"}
    assert all(r[col["銀行確認"]] == "銀行已確認" and r[col["銀行確認時間"]] for r in rows)
    # the report row's download is the same file
    again = _client(app, "issuer01").get(f"/reports/tickets/{ticket.id}/ledger/export")
    assert _sheet(again.data) == [header, *rows]


def test_an_empty_ledger_downloads_its_headers_only(app, shop):
    response = _client(app, "issuer01").get(f"/tickets/{shop['fresh'].serial}/ledger/export")
    assert _sheet(response.data) == [[c.header for c in LEDGER_COLUMNS]]


# The page's markup -------------------------------------------------------------------------------

def test_the_ledger_table_shows_the_page_columns_and_each_row(app, shop):
    body = _client(app, "issuer01").get(f"/tickets/{shop['returned'].serial}").get_data(as_text=True)
    section = body[body.index('data-testid="escrow-ledger"'):]
    section = section[:section.index("</table>")]
    headers = re.findall(r'<th class="text-nowrap" data-col="([a-z_]+)">([^<]*)</th>', section)
    assert headers == [(c.key, c.header) for c in on_page(LEDGER_COLUMNS)]
    assert "serial" not in dict(headers) and "recorded_at" not in dict(headers)  # Excel only
    assert '<div class="table-responsive">' in body[body.index("價金保管帳"):]  # scrolls on a phone
    rows = re.findall(rf'<tr {LEDGER_ROW}.*?</tr>', section, re.S)
    assert len(rows) == 3
    cells = dict(re.findall(r'data-col="([a-z_]+)">([^<]*)</td>', rows[1]))
    assert cells["kind"] == "退款" and cells["out_of_trust"] == "NT$120" and cells["balance"] == "NT$30"
    assert cells["into_trust"] == "" and cells["paid_to"] == "消費者" and cells["bank"] == "銀行已確認"
    assert cells["bank_ref"].startswith("ESB") and cells["day"] == "2026/07/03"
    assert f'href="/tickets/{shop["returned"].serial}/ledger/export"' in section


def test_the_empty_state_on_the_ticket_page_and_in_the_report(app, shop):
    client = _client(app, "issuer01")
    fresh = shop["fresh"]
    for body in (client.get(f"/tickets/{fresh.serial}").get_data(as_text=True),
                 client.get(f"/reports/tickets/{fresh.id}/ledger", headers=HTMX).get_data(as_text=True)):
        assert "尚無價金保管紀錄" in body and LEDGER_ROW not in body
        assert 'data-testid="ledger-empty"' in body and 'data-testid="escrow-ledger-table"' not in body
        assert 'data-testid="ledger-export"' not in body  # nothing to download
        assert "目前價金保管餘額" in body and "NT$0" in body


def test_the_report_row_opens_the_ledger_as_a_modal_or_a_page(app, shop):
    client = _client(app, "issuer01")
    ticket = shop["returned"]
    fragment = client.get(f"/reports/tickets/{ticket.id}/ledger", headers=HTMX).get_data(as_text=True)
    page = client.get(f"/reports/tickets/{ticket.id}/ledger").get_data(as_text=True)
    assert "<html" not in fragment and "<html" in page
    for body in (fragment, page):
        assert body.count(LEDGER_ROW) == 3 and ticket.serial in body
        assert f'href="/reports/tickets/{ticket.id}/ledger/export"' in body
    report = client.get("/reports/tickets", query_string={
        "mode": "serial", "q": "1", "serial": ticket.serial}).get_data(as_text=True)
    assert f'hx-get="/reports/tickets/{ticket.id}/ledger"' in report


# Statements --------------------------------------------------------------------------------------

def _ledger_statements(statements: list[str]) -> list[str]:
    """The ledger's own: its entries, and its instructions not acknowledged (the menu's pending
    work reads bank_instructions too)."""
    return [s for s in statements if "ledger_entries" in s or "later_instruction" in s]


def test_a_vouchers_ledger_is_two_statements_whatever_its_length(app, shop, count_queries):
    for ticket, rows in ((shop["returned"], 3), (shop["fresh"], 0)):
        ticket = reload(ticket)
        assert ticket.serial and ticket.kind  # loaded before counting
        count_queries.clear()
        view = queries.ticket_ledger(ticket)
        assert len(view.lines) == rows
        assert len(count_queries) == 2
    client = _client(app, "issuer01")
    for ticket in (shop["returned"], shop["fresh"]):
        for url in (f"/tickets/{ticket.serial}", f"/reports/tickets/{ticket.id}/ledger",
                    f"/tickets/{ticket.serial}/ledger/export"):
            count_queries.clear()
            assert client.get(url).status_code == 200
            assert len(_ledger_statements(count_queries)) == 2, url


def test_the_reports_held_column_costs_no_statement_per_row(app, shop, count_queries):
    store, owner, pickup = shop["store"], shop["owner"], shop["pickup"]
    client = _client(app, "issuer01")
    params = {"mode": "date", "q": "1", "start": "2026-07-01", "end": "2026-07-10",
              "cols": ["ticket", "escrow"]}

    def page() -> tuple[int, int, list[str]]:
        count_queries.clear()
        body = client.get("/reports/tickets", query_string=params).get_data(as_text=True)
        held = re.findall(r'data-col="held_in_escrow">([^<]*)</td>', body)
        # (the account is read again only when the request cache's 5 seconds are over)
        page_statements = [s for s in count_queries if not s.startswith("SELECT accounts.")]
        return len(page_statements), len(_ledger_statements(count_queries)), held

    before, ledger_before, held = page()
    assert sorted(held) == ["NT$0", "NT$0"]  # the returned one; the fresh one holds nothing yet
    at(2026, 7, 3, 11, 0)
    issue(owner, store, pickup, quantity=4)
    issue(owner, store, make_product(store, "另一券", face_value=90), quantity=2)
    at(2026, 7, 4, 1, 0)
    run_sync(day(7, 4))
    at(2026, 7, 4, 10, 0)
    after, ledger_after, held = page()
    assert sorted(held) == ["NT$0"] + ["NT$150"] * 5 + ["NT$90"] * 2  # the 7/4 night deposited them
    assert (after, ledger_after) == (before, ledger_before) == (after, 1)


# What the bank has not acknowledged ----------------------------------------------------------------

def test_a_rejected_deposit_shows_until_a_later_night_sends_it_again(app, ctx, bank):
    at(2026, 6, 29, 9, 0)
    store, owner, pickup, _ = ready_store()
    at(2026, 7, 1, 9, 0)
    [ticket] = issue(owner, store, pickup)
    bank.control(reject_serials=[ticket.serial])
    at(2026, 7, 2, 1, 0)
    run_sync(day(7, 2))
    ticket = reload(ticket)
    view = queries.ticket_ledger(ticket)
    assert view.lines == [] and [(o.kind, o.status.value) for o in view.outstanding] == [
        (InstructionKind.DEPOSIT, "rejected")]
    client = _client(app, "issuer01")
    body = client.get(f"/tickets/{ticket.serial}").get_data(as_text=True)
    assert '<li data-kind="deposit" data-status="rejected">' in body
    assert "將於下次價金保管同步重新送出" in body and "尚無價金保管紀錄" in body

    bank.control(reject_serials=[])
    at(2026, 7, 3, 1, 0)
    run_sync(day(7, 3))  # a second attempt, a new key: acknowledged
    view = queries.ticket_ledger(reload(ticket))
    assert [(line.kind.value, line.balance) for line in view.lines] == [("deposit", 150)]
    assert view.outstanding == []  # the rejected first attempt was sent again: not shown
    body = client.get(f"/tickets/{ticket.serial}").get_data(as_text=True)
    assert 'data-testid="escrow-outstanding"' not in body and body.count(LEDGER_ROW) == 1
