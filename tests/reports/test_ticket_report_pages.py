"""票券報表 pages through the client: the query form and its rows, the three-month rule, the
branch restriction and the parent's read-only view enforced on the server, pagination, the
Excel download of the same query, and per row the history, notes, partner stores and the
counter actions. The world is tests/reports/ticket_world.py."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from app.db import db
from app.history import HistoryEntry
from app.tickets.models import Ticket
from tests.factories import make_branch, make_sub
from tests.reports.ticket_world import (
    ALL_GROUPS,
    BY_ISSUE,
    SINCE_SEPTEMBER,
    build_family,
    build_ticket_world,
    client_for,
    row_serials,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def tw(ctx):  # noqa: ANN001, ANN201
    return build_ticket_world()


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def query_error(body: str) -> str:
    found = re.search(r'data-testid="query-error">(.*?)</div>', body, re.S)
    return found.group(1).strip() if found else ""


def headers_of(body: str) -> list[str]:
    return re.findall(r'<th class="text-nowrap" data-col="[^"]+">([^<]*)</th>', body)


def row_html(body: str, serial: str) -> str:
    found = re.search(rf'<tr data-testid="ticket-row" data-serial="{serial}".*?</tr>', body, re.S)
    assert found, serial
    return found.group(0)


def xlsx(data: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# The page ------------------------------------------------------------------------------------

def test_the_first_visit_shows_the_last_30_days_with_issuer_and_ticket_info(app, tw):
    response = client_for(app, "rowner01").get("/reports/tickets")
    body = text(response)
    assert response.status_code == 200
    assert row_serials(body) == tw.serials("d2", "d1")
    assert headers_of(body)[:9] == ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期",
                                    "商店代號", "發行商名稱", "平台商編號（PlatformID）"]
    assert "持票人姓名" not in headers_of(body)
    assert 'value="2026-10-23"' in body and 'value="2026-11-21"' in body  # the default period
    assert "共 2 筆" in body


def test_a_query_with_every_column_group(app, tw):
    response = client_for(app, "rowner01").get("/reports/tickets", query_string={
        "mode": "date", **SINCE_SEPTEMBER, "cols": list(ALL_GROUPS)})
    body = text(response)
    assert row_serials(body) == tw.serials(*BY_ISSUE)
    assert {"持票人姓名", "核銷分店", "轉贈編號", "商店代號", "發行方式"} <= set(headers_of(body))
    a2 = row_html(body, tw.t["a2"].serial)
    assert 'data-status="return_pending"' in a2 and "NT$10" in a2 and "總店" in a2
    assert re.search(r'data-col="redeemed_branch">\s*R001 台北門市', row_html(body, tw.t["a1"].serial))
    a1_id = tw.t["a1"].id
    assert f'href="/reports/tickets/{a1_id}/history"' in row_html(body, tw.t["a1"].serial)
    assert f'href="/reports/tickets/{a1_id}/partners"' in row_html(body, tw.t["a1"].serial)
    # unticking every group leaves the base columns
    response = client_for(app, "rowner01").get("/reports/tickets", query_string={
        "mode": "date", "q": "1", **SINCE_SEPTEMBER})
    assert headers_of(text(response)) == ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期"]


def test_the_other_modes_through_the_page(app, tw):
    client = client_for(app, "rowner01")
    serial = text(client.get("/reports/tickets", query_string={"mode": "serial", "serial": tw.t["c1"].serial}))
    assert row_serials(serial) == tw.serials("c1") and 'data-status="unused_escrow_expired"' in serial
    holder = text(client.get("/reports/tickets", query_string={
        "mode": "holder", "holder_name": "陳美麗", **SINCE_SEPTEMBER}))
    assert row_serials(holder) == tw.serials("b2", "b1")
    order = text(client.get("/reports/tickets", query_string={"mode": "order", "merchant_order_no": "MO4"}))
    assert row_serials(order) == tw.serials("d2", "d1")
    missing = client.get("/reports/tickets", query_string={"mode": "order", "q": "1"})
    assert missing.status_code == 422 and query_error(text(missing)) == "請輸入 ECT訂單編號 或 廠商訂單編號"
    # opening a lookup tab shows its empty form, not an error
    for mode in ("serial", "holder", "order"):
        tab = client.get("/reports/tickets", query_string={"mode": mode})
        assert tab.status_code == 200 and not query_error(text(tab)) and row_serials(text(tab)) == []
        assert 'name="q" value="1"' in text(tab)


def test_more_than_three_months_is_refused_with_a_clear_message(app, tw):
    client = client_for(app, "rowner01")
    params = {"mode": "date", "start": "2026-08-01", "end": "2026-11-21"}
    response = client.get("/reports/tickets", query_string=params)
    assert response.status_code == 422
    assert query_error(text(response)) == "查詢區間不可超過三個月"
    assert row_serials(text(response)) == []
    export = client.get("/reports/tickets/export", query_string=params)
    assert export.status_code == 422 and export.mimetype == "text/html"
    assert query_error(text(export)) == "查詢區間不可超過三個月"


def test_without_the_report_right_the_pages_are_forbidden(app, tw):

    make_sub(tw.store, username="rnoright01")
    db.session.commit()
    client = client_for(app, "rnoright01")
    for url in ("/reports/tickets", "/reports/tickets/export", "/reports/tickets/options",
                f"/reports/tickets/{tw.t['a1'].id}/history", f"/reports/tickets/{tw.t['a1'].id}/partners"):
        assert client.get(url).status_code == 403, url


def test_the_status_and_method_choices_follow_the_chosen_type(app, tw):
    client = client_for(app, "rowner01")
    statuses = text(client.get("/reports/tickets/options", query_string={"status_group": "returned"},
                               headers=HTMX))
    assert re.findall(r'name="status" value="([^"]+)"', statuses) == [
        "return_pending", "returning", "returned", "returned_escrow_expired"]
    methods = text(client.get("/reports/tickets/options", query_string={"part": "methods", "delivery_type": "paper"},
                              headers=HTMX))
    assert re.findall(r'name="delivery_method" value="([^"]+)"', methods) == [
        "paper:platform_print", "paper:merchant_print"]
    # the whole page: each type chosen, its choices beside it, and the select that refreshes them
    page = text(client.get("/reports/tickets", query_string={
        "mode": "date", "status_group": "returned", "delivery_type": "paper"}))
    assert re.search(r'<option value="returned" selected>', page)
    assert re.search(r'<option value="paper" selected>', page)
    assert re.findall(r'name="status" value="([^"]+)"', page) == [
        "return_pending", "returning", "returned", "returned_escrow_expired"]
    assert re.findall(r'name="delivery_method" value="([^"]+)"', page) == [
        "paper:platform_print", "paper:merchant_print"]
    assert 'id="f-status-group"' in page and 'hx-target="#method-options"' in page


# Whose rows, on the server -----------------------------------------------------------------------

def test_a_bound_clerk_sees_only_its_branch_and_cannot_pick_another(app, tw):
    client = client_for(app, "rclerk01")
    for branch in ("", tw.r002.id, "999999"):
        response = client.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER, "branch": branch})
        assert response.status_code == 200
        assert row_serials(text(response)) == tw.serials("d1", "a1")
    body = text(client.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
    picker = re.search(r'<select[^>]*data-testid="branch-picker".*?</select>', body, re.S).group(0)
    assert "disabled" in picker and re.findall(r'<option value="(\d+)"', picker) == [str(tw.r001.id)]
    # a ticket its branch never handled: not in a lookup, its rows' pages are 404
    serial = client.get("/reports/tickets", query_string={"mode": "serial", "serial": tw.t["c1"].serial})
    assert row_serials(text(serial)) == []
    assert client.get(f"/reports/tickets/{tw.t['c1'].id}/history").status_code == 404
    assert client.get(f"/reports/tickets/{tw.t['c1'].id}/partners").status_code == 404
    assert client.get(f"/reports/tickets/{tw.t['a1'].id}/history").status_code == 200
    # the Excel of the same query has the same rows
    export = client.get("/reports/tickets/export", query_string={"mode": "date", **SINCE_SEPTEMBER,
                                                                 "branch": tw.r002.id})
    assert [r[0] for r in xlsx(export.data)[1:]] == tw.serials("d1", "a1")


def test_an_unbound_account_picks_a_branch_of_its_own_store_only(app, tw):
    client = client_for(app, "rowner01")
    picked = client.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER, "branch": tw.r002.id})
    assert row_serials(text(picked)) == tw.serials("c2", "b1")
    foreign = make_branch(tw.other, "X001", "別家門市")
    db.session.commit()
    refused = client.get("/reports/tickets", query_string={"mode": "date", "branch": foreign.id})
    assert refused.status_code == 422 and query_error(text(refused)) == "查無此分店"


def test_another_stores_tickets_never_appear(app, tw):
    owner = client_for(app, "rowner01")
    holder = text(owner.get("/reports/tickets", query_string={"mode": "holder", "holder_name": "王小明",
                                                              **SINCE_SEPTEMBER}))
    assert row_serials(holder) == tw.serials("a3", "a2", "a1")  # not the other store's 王小明
    serial = text(owner.get("/reports/tickets", query_string={"mode": "serial", "serial": tw.other_ticket.serial}))
    assert row_serials(serial) == [] and "查無票券" in serial
    for url in (f"/reports/tickets/{tw.other_ticket.id}/history", f"/reports/tickets/{tw.other_ticket.id}/partners"):
        assert owner.get(url).status_code == 404
    assert owner.post(f"/reports/tickets/{tw.other_ticket.id}/notes", data={"note": "x"}).status_code == 404
    other = text(client_for(app, "rother01").get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
    assert row_serials(other) == [tw.other_ticket.serial]


def test_a_parent_sees_its_childs_tickets_read_only(app, ctx):
    family = build_family()
    client = client_for(app, "rparent01")
    body = text(client.get("/reports/tickets"))
    child_serials = [t.serial for t in family.child_tickets]
    assert sorted(row_serials(body)) == sorted([family.parent_ticket.serial, *child_serials])
    assert headers_of(body)[0] == "商店" and 'data-testid="read-only-note"' in body
    for serial in child_serials:
        row = row_html(body, serial)
        assert "子商店報表" in row
        assert 'data-testid="note-link"' not in row and "data-action=" not in row
        assert f'href="/tickets/{serial}"' not in row  # the ticket page is the child's
    own = row_html(body, family.parent_ticket.serial)
    assert 'data-testid="note-link"' in own and 'data-action="return"' in own
    assert f'href="/tickets/{family.parent_ticket.serial}"' in own
    picked = text(client.get("/reports/tickets", query_string={"store": family.child.id}))
    assert sorted(row_serials(picked)) == sorted(child_serials)
    child_ticket = family.child_tickets[0]
    history = client.get(f"/reports/tickets/{child_ticket.id}/history")
    assert history.status_code == 200 and 'data-testid="note-read-only"' in text(history)
    assert 'data-testid="note-form"' not in text(history)
    assert client.post(f"/reports/tickets/{child_ticket.id}/notes", data={"note": "母商店備註"}).status_code == 404
    assert db.session.scalar(select(HistoryEntry.id).where(HistoryEntry.action == "note")
                             .execution_options(unscoped=True)) is None
    unknown = client.get("/reports/tickets", query_string={"store": 999999})
    assert unknown.status_code == 422 and query_error(text(unknown)) == "查無此商店"


# Pagination ----------------------------------------------------------------------------------

def test_server_side_pages(app, tw, monkeypatch):
    app.config["PAGE_SIZE"] = 4
    client = client_for(app, "rowner01")
    params = {"mode": "date", **SINCE_SEPTEMBER, "cols": ["holder", "order"]}
    first = text(client.get("/reports/tickets", query_string=params))
    assert row_serials(first) == tw.serials(*BY_ISSUE[:4])
    assert "第 1 / 3 頁（共 9 筆）" in first
    next_link = re.search(r'href="([^"]+)">下一頁', first).group(1).replace("&amp;", "&")
    assert "cols=holder" in next_link and "cols=order" in next_link and "page=2" in next_link
    second = text(client.get(next_link))
    assert row_serials(second) == tw.serials(*BY_ISSUE[4:8]) and "第 2 / 3 頁（共 9 筆）" in second
    third = text(client.get("/reports/tickets", query_string={**params, "page": 3}))
    assert row_serials(third) == tw.serials("a1") and "下一頁" not in third and "上一頁" in third
    from app.reports import tickets as report

    monkeypatch.setattr(report, "COUNT_CAP", 5)
    capped = text(client.get("/reports/tickets", query_string=params))
    assert "第 1 頁（共 5 筆以上）" in capped and "下一頁" in capped


# Excel -----------------------------------------------------------------------------------------

def test_the_excel_has_the_rows_and_columns_of_the_query(app, tw):
    client = client_for(app, "rowner01")
    response = client.get("/reports/tickets/export", query_string={
        "mode": "date", **SINCE_SEPTEMBER, "cols": ["operators", "holder"]})
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "filename*=UTF-8''%E7%A5%A8%E5%88%B8%E5%A0%B1%E8%A1%A8_20261121.xlsx" in response.headers[
        "Content-Disposition"]
    rows = xlsx(response.data)
    assert rows[0] == ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期", "核銷商店", "核銷分店",
                       "核銷人員", "退貨分店", "退貨人員", "持票人姓名", "持票人手機", "持票人 Email"]
    assert [r[0] for r in rows[1:]] == tw.serials(*BY_ISSUE)
    d1 = rows[1 + BY_ISSUE.index("d1")]
    assert d1[1:5] == ["咖啡券", 150, "退貨", "待退貨"]
    assert d1[5].strftime("%Y/%m/%d %H:%M") == "2026/11/10 10:00"  # Taipei wall time
    assert d1[9:12] == ["R001 台北門市", "rclerk01", "紙本客人"]
    a3 = rows[1 + BY_ISSUE.index("a3")]
    assert a3[6:9] == ["合作核銷商店", "總店", "rpartner01"]
    # the page's filters apply to the Excel too
    paper = client.get("/reports/tickets/export", query_string={"mode": "date", **SINCE_SEPTEMBER,
                                                                "delivery_type": "paper"})
    assert [r[0] for r in xlsx(paper.data)[1:]] == tw.serials("d2", "d1")


def test_rule_h_the_page_and_excel_show_the_platforms_name(app, tw):
    """Rule h, through the page and its Excel (the platform's name resolved in the query)."""
    db.session.execute(update(Ticket).where(Ticket.id.in_([tw.t["a1"].id, tw.t["a2"].id]))
                       .values(platform_id=tw.partner.merchant_code))
    db.session.execute(update(Ticket).where(Ticket.id == tw.t["b1"].id).values(platform_id="PF0001"))
    db.session.commit()
    named = f"合作核銷商店（{tw.partner.merchant_code}）"
    query = {"mode": "date", **SINCE_SEPTEMBER, "cols": ["issuer"]}
    client = client_for(app, "rowner01")
    body = text(client.get("/reports/tickets", query_string=query))
    assert re.search(rf'data-col="platform_id">\s*{named}', row_html(body, tw.t["a1"].serial))
    assert re.search(r'data-col="platform_id">\s*PF0001', row_html(body, tw.t["b1"].serial))
    rows = xlsx(client.get("/reports/tickets/export", query_string=query).data)
    platform = rows[0].index("平台商編號（PlatformID）")
    by_serial = {r[0]: r[platform] for r in rows[1:]}
    assert by_serial[tw.t["a1"].serial] == by_serial[tw.t["a2"].serial] == named
    assert (by_serial[tw.t["b1"].serial], by_serial[tw.t["c1"].serial]) == ("PF0001", None)


# Per row -------------------------------------------------------------------------------------

def test_the_history_of_a_row(app, tw):
    client = client_for(app, "rowner01")
    page = client.get(f"/reports/tickets/{tw.t['a2'].id}/history")
    body = text(page)
    assert page.status_code == 200 and tw.t["a2"].serial in body
    assert re.findall(r'<tr data-action="([^"]+)"', body)[0] == "returned"  # newest first
    assert "消費者不需要了（退貨手續費 NT$10）" in body
    fragment = text(client.get(f"/reports/tickets/{tw.t['a2'].id}/history", headers=HTMX))
    assert "<html" not in fragment and 'data-testid="ticket-history"' in fragment


def test_adding_a_note_from_the_report(app, tw):
    client = client_for(app, "rowner01")
    url = f"/reports/tickets/{tw.t['a1'].id}/notes"
    done = client.post(url, data={"note": "  顧客來電詢問  "})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/reports/tickets/{tw.t['a1'].id}/history")
    history = text(client.get(done.headers["Location"]))
    assert "備註已新增" in history and "顧客來電詢問" in history
    htmx = client.post(url, data={"note": "第二則"}, headers=HTMX)
    assert htmx.status_code == 200 and 'data-testid="note-added"' in text(htmx) and "第二則" in text(htmx)
    empty = client.post(url, data={"note": "   "})
    assert empty.status_code == 422 and "請輸入備註內容" in text(empty)
    db.session.expire_all()
    notes = db.session.scalars(select(HistoryEntry.reason).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == tw.t["a1"].id,
        HistoryEntry.action == "note").order_by(HistoryEntry.id).execution_options(unscoped=True)).all()
    assert notes == ["顧客來電詢問", "第二則"]
    # adding a note is a change: report view alone is not enough, and the link is not shown
    for username in ("rviewer01", "rclerk01"):
        other = client_for(app, username)
        assert other.post(url, data={"note": "x"}).status_code == 403
        body = text(other.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
        assert 'data-testid="note-link"' not in body and row_serials(body)


def test_the_partner_store_list(app, tw):
    client = client_for(app, "rowner01")
    body = text(client.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
    assert 'data-testid="partners-link"' in row_html(body, tw.t["a1"].serial)
    assert 'data-testid="partners-link"' not in row_html(body, tw.t["b1"].serial)  # no partner stores
    partners = text(client.get(f"/reports/tickets/{tw.t['a1'].id}/partners", headers=HTMX))
    assert "合作核銷商店" in partners and tw.partner.merchant_code in partners
    none = text(client.get(f"/reports/tickets/{tw.t['b1'].id}/partners"))
    assert "此商品未設定跨店核銷商店" in none


def test_returns_and_cancellations_start_from_the_report(app, tw):
    owner = client_for(app, "rowner01")
    body = text(owner.get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
    offered = {name: re.findall(r'data-action="([^"]+)"', row_html(body, tw.t[name].serial)) for name in tw.t}
    assert offered == {"d2": ["return"], "c1": ["return"], "c2": ["cancel-redemption"], "a1": [], "a2": [],
                       "a3": [], "b1": [], "b2": [], "d1": []}
    form = re.search(r'<form method="post" action="(/counter/lookup)".*?</form>', row_html(body, tw.t["d2"].serial),
                     re.S)
    fields = dict(re.findall(r'name="(action|code)" value="([^"]+)"', form.group(0)))
    assert fields == {"action": "return", "code": tw.t["d2"].code}
    card = owner.post(form.group(1), data=fields)
    assert card.status_code == 200 and 'data-testid="ticket-card"' in text(card)
    assert tw.t["d2"].serial in text(card)
    # an account with report view only gets no buttons
    viewer = text(client_for(app, "rviewer01").get("/reports/tickets", query_string={"mode": "date", **SINCE_SEPTEMBER}))
    assert "data-action=" not in viewer
