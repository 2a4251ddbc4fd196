"""8-3 C 分期核銷訂單報表 through the client: both tabs and their filters, a link's query string
filled in and run, the three-month rule, the Excel of each tab, the order page (fee split,
history, the refund-notice slot), notes with and without the modify right, the upload button,
sub-account rights, and another store's order: never listed, 404 everywhere."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from tests.factories import login, make_account, make_installment_order, make_store, make_sub
from tests.installments.factories import LAST_30_DAYS, ORDER_FIGURES, World, build_world

HTMX = {"HX-Request": "true"}
VIEW_ONLY = {Function.INSTALLMENT_REPORTS: Level.VIEW}


@pytest.fixture
def world(ctx) -> World:  # noqa: ANN001
    built = build_world()
    make_account(built.store, username="instowner")
    make_sub(built.store, "instviewer", grants=VIEW_ONLY)
    make_account(built.other, username="instother")
    db.session.commit()
    return built


@pytest.fixture
def owner(client, world):  # noqa: ANN001, ANN201
    login(client, "instowner")
    return client


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def listed(world: World, html: str) -> list[str]:
    by_id = {str(o.id): name for name, o in world.orders.items()}
    return [by_id[i] for i in re.findall(r'data-testid="order-row" data-order-id="(\d+)"', html)]


def serials(html: str) -> list[str]:
    return re.findall(r'data-testid="period-row" data-order-id="\d+" data-serial="(\w+)"', html)


def cell(html: str, order_id: int, key: str) -> str:
    row = html[html.index(f'data-order-id="{order_id}"'):]
    row = row[:row.index("</tr>")]
    found = re.search(rf'data-col="{key}">(.*?)</td>', row, re.S)
    assert found, key
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def xlsx(response) -> list[list[object]]:  # noqa: ANN001
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


# 訂單明細 ------------------------------------------------------------------------------------

def test_the_orders_tab_shows_the_last_30_days_with_money_by_group(owner, world):
    html = text(owner.get("/installments/reports"))
    assert listed(world, html) == LAST_30_DAYS
    o4 = world.orders["o4"]
    shown = [cell(html, o4.id, k) for k in ("returned_amount", "returned_periods", "redeemed_amount",
                                            "redeemed_periods", "unused_amount", "unused_periods")]
    assert shown == ["NT$666", "2", "NT$334", "1", "NT$0", "0"]
    assert cell(html, o4.id, "state") == "已退貨" and cell(html, o4.id, "refund_state") == "退款中"
    assert cell(html, o4.id, "return_reason") == "課程取消" and cell(html, o4.id, "return_fee") == "NT$100"
    assert f'href="/installments/orders/{o4.id}/fee-split"' in html
    assert cell(html, world.orders["o2"].id, "guarantee_end") == "核銷完成"
    assert cell(html, world.orders["o1"].id, "guarantee_end") == "2027/01/04"
    assert "注意事項" in html and "已核銷：系統核銷作業完成。款項將於約定撥款天期內撥入廠商帳戶中。" in html
    assert 'data-testid="note-link"' in html  # the owner may add notes
    assert 'href="/installments/reports"' in html and 'href="/installments/unissued"' in html  # menu


def test_a_link_with_the_merchant_order_number_fills_the_query_and_runs_it(owner, world):
    html = text(owner.get("/installments/reports?merchant_order_no=MO-OLD"))
    assert listed(world, html) == ["old"]  # issued in July: no period when an order is named
    assert 'name="merchant_order_no" type="search" value="MO-OLD"' in html
    assert listed(world, text(owner.get("/installments/reports?merchant_order_no=MO-A"))) == ["o1"]


@pytest.mark.parametrize(("query", "expected"), [
    ("start=2026-11-10&end=2026-11-15", ["o5", "o4"]),
    ("state=completed&start=2026-07-01&end=2026-09-30", ["old"]),
    ("state=return_pending", ["o3"]),
    ("purchaser_name=大文", ["o5"]),
    ("purchaser_mobile=0922000", ["o5"]),
    ("order_no={o3}", ["o3"]),
    ("merchant_order_no=NOPE", []),
])
def test_order_filters_through_the_page(owner, world, query, expected):
    query = query.format(o3=world.orders["o3"].order_no)
    html = text(owner.get(f"/installments/reports?{query}"))
    assert listed(world, html) == expected
    if not expected:
        assert "查無符合條件的訂單" in html


def test_more_than_three_months_is_refused(owner, world):
    response = owner.get("/installments/reports?start=2026-07-01&end=2026-11-21")
    assert response.status_code == 422 and "查詢範圍不可超過三個月" in text(response)
    response = owner.get("/installments/reports?tab=periods&start=2026-07-01&end=2026-11-21&format=xlsx")
    assert response.status_code == 422 and "查詢範圍不可超過三個月" in text(response)
    response = owner.get("/installments/reports?start=2026-11-21&end=2026-11-01")
    assert response.status_code == 422 and "起日不可晚於迄日" in text(response)


def test_pages_of_orders(owner, world, app):
    app.config["PAGE_SIZE"] = 2
    first = text(owner.get("/installments/reports"))
    assert listed(world, first) == LAST_30_DAYS[:2] and "第 1 / 3 頁（共 5 筆）" in first
    assert listed(world, text(owner.get("/installments/reports?page=3"))) == LAST_30_DAYS[4:]


def test_the_orders_excel_is_the_query(owner, world):
    rows = xlsx(owner.get("/installments/reports?format=xlsx&start=2026-11-10&end=2026-11-21"))
    header = rows[0]
    assert header[:3] == ["ECT訂單編號", "廠商訂單編號", "發行時間"] and "購買人 Email" in header
    lines = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [line["廠商訂單編號"] for line in lines] == ["MO-C", "MO-E", "MO-D"]
    d = lines[2]
    assert (d["總金額"], d["總期數"], d["退貨金額"], d["退貨期數"], d["核銷金額"], d["核銷期數"],
            d["未使用金額"], d["未使用期數"]) == (1000, 3, *ORDER_FIGURES["o4"])
    assert (d["訂單狀態"], d["退款狀態"], d["退貨手續費"], d["退貨原因"]) == ("已退貨", "退款中", 100, "課程取消")
    assert d["履約保障到期日"] == "2027/01/10" and d["購買人 Email"] == "buyer@example.com"


def test_the_page_reads_the_figures_in_a_fixed_number_of_statements(owner, world, count_queries):
    owner.get("/installments/reports")
    count_queries.clear()
    owner.get("/installments/reports")
    few = len(count_queries)
    for n in range(10):
        make_installment_order(world.store, 900 + n, statuses=None)
    db.session.commit()
    count_queries.clear()
    html = text(owner.get("/installments/reports"))
    assert html.count('data-testid="order-row"') == 15 and len(count_queries) == few  # none per row


# 各期序號明細 --------------------------------------------------------------------------------

def test_the_periods_tab_by_status_group_and_detailed_status(owner, world):
    o3, o4, o5 = (world.orders[k] for k in ("o3", "o4", "o5"))
    html = text(owner.get("/installments/reports?tab=periods&status_group=returned"))
    assert serials(html) == [*(p.serial for p in o3.periods), o4.periods[1].serial, o4.periods[2].serial]
    html = text(owner.get("/installments/reports?tab=periods&status_group=returned&status=returning"))
    assert serials(html) == [o4.periods[2].serial]
    assert 'value="returning" id="status-returning" checked' in html
    # a detailed status outside the chosen group is left out (the group's statuses apply)
    html = text(owner.get("/installments/reports?tab=periods&status_group=redeemed&status=unused"))
    assert serials(html) == [o5.periods[0].serial, o4.periods[0].serial,
                             *(p.serial for p in world.orders["o1"].periods[:1]),
                             *(p.serial for p in world.orders["o2"].periods)]
    html = text(owner.get("/installments/reports?tab=periods&status=redeeming&status=unused"))
    assert len(serials(html)) == 5  # o5's three, o1's two unused
    assert 'data-status="redeeming"' in html and "核銷中" in html


def test_the_periods_tab_by_expected_date_and_serial(owner, world):
    o5 = world.orders["o5"]
    html = text(owner.get("/installments/reports?tab=periods&date_type=expected&start=2026-11-21&end=2026-11-21"))
    assert serials(html) == [o5.periods[0].serial]
    row = html[html.index('data-testid="period-row"'):]
    assert "2026/11/21" in row and "MO-E" in row and "1/3" in row
    html = text(owner.get(f"/installments/reports?tab=periods&serial={world.orders['old'].periods[2].serial}"))
    assert serials(html) == [world.orders["old"].periods[2].serial]  # a serial needs no period
    other = world.orders["other"].periods[0].serial
    html = text(owner.get(f"/installments/reports?tab=periods&serial={other}"))
    assert serials(html) == [] and "查無符合條件的序號" in html


def test_the_periods_excel(owner, world):
    o4 = world.orders["o4"]
    rows = xlsx(owner.get("/installments/reports?tab=periods&merchant_order_no=MO-D&format=xlsx"))
    header = rows[0]
    lines = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [line["序號"] for line in lines] == [p.serial for p in o4.periods]
    assert [(line["期數"], line["面額"], line["序號狀態"], line["詳細狀態"]) for line in lines] == [
        ("1/3", 334, "核銷", "已核銷"), ("2/3", 333, "退貨", "已退貨"), ("3/3", 333, "退貨", "退貨中")]
    assert [line["退貨手續費（本期分攤）"] for line in lines] == [None, 50, 50]
    assert {line["退貨原因"] for line in lines} == {"課程取消"}
    assert lines[0]["預計核銷日"].date().isoformat() == "2026-11-11"


def test_the_status_options_follow_the_group(owner, world):
    html = text(owner.get("/installments/reports/status-options?status_group=returned", headers=HTMX))
    assert re.findall(r'name="status" value="(\w+)"', html) == ["return_pending", "returning", "returned"]
    html = text(owner.get("/installments/reports/status-options?status_group=bogus", headers=HTMX))
    assert len(re.findall(r'name="status"', html)) == 6


def test_an_unknown_choice_is_refused(owner, world):
    assert owner.get("/installments/reports?state=bogus").status_code == 422
    assert owner.get("/installments/reports?tab=periods&status_group=bogus").status_code == 422
    assert owner.get("/installments/reports?tab=nonsense").status_code == 200  # the orders tab


# The order page, history, notes ------------------------------------------------------------

def test_the_order_page(owner, world):
    o4 = world.orders["o4"]
    html = text(owner.get(f"/installments/orders/{o4.id}"))
    assert o4.order_no in html and "已退貨" in html and "退款中" in html
    assert re.findall(r'data-testid="period-row" data-serial="(\w+)" data-status="(\w+)"', html) == [
        (o4.periods[0].serial, "redeemed"), (o4.periods[1].serial, "returned"),
        (o4.periods[2].serial, "returning")]
    assert 'data-figure="returned" data-amount="666" data-periods="2"' in html
    assert 'data-testid="guarantee-end">2027/01/10' in html
    assert f'hx-get="/installments/orders/{o4.id}/refund-notice"' in html


def test_the_refund_notice_slot_loads_the_notice_log(app, client, world):
    login(client, "instowner")
    o3 = world.orders["o3"]
    html = text(client.get(f"/installments/orders/{o3.id}"))
    assert f'hx-get="/installments/orders/{o3.id}/refund-notice"' in html
    fragment = client.get(f"/installments/orders/{o3.id}/refund-notice", headers={"HX-Request": "true"})
    assert fragment.status_code == 200


def test_the_history_names_period_statuses(owner, world):
    o3 = world.orders["o3"]
    db.session.add(HistoryEntry(store_id=world.store.id, actor_label="instowner", subject_type="installment_orders",
                                subject_id=o3.id, action="returned", from_status="unused",
                                to_status="return_pending", reason="客人取消"))
    db.session.commit()
    html = text(owner.get(f"/installments/orders/{o3.id}"))
    history = html[html.index('data-testid="order-history"'):]
    assert "未使用 → 待退貨" in history and "退貨" in history and "客人取消" in history


def test_the_fee_split(owner, world):
    o3 = world.orders["o3"]
    html = text(owner.get(f"/installments/orders/{o3.id}/fee-split"))
    assert re.findall(r'data-share="(\d+)"', html) == ["30", "30", "30"]
    assert 'data-testid="shares-total">NT$90' in html
    o1 = world.orders["o1"]
    assert "此訂單沒有退貨手續費分攤資料" in text(owner.get(f"/installments/orders/{o1.id}/fee-split"))


def test_a_note_with_the_modify_right(owner, world):
    o1 = world.orders["o1"]
    response = owner.post(f"/installments/orders/{o1.id}/notes", data={"note": "  客戶來電詢問第二期  "})
    assert response.status_code == 303 and response.location.endswith(f"/installments/orders/{o1.id}")
    entry = db.session.query(HistoryEntry).filter_by(subject_type="installment_orders",
                                                     subject_id=o1.id).one()
    assert (entry.action, entry.reason, entry.store_id) == ("note", "客戶來電詢問第二期", world.store.id)
    html = text(owner.get(f"/installments/orders/{o1.id}/history"))
    assert "新增備註" in html and "客戶來電詢問第二期" in html and 'data-testid="note-form"' in html
    # from the report's modal: the panel comes back with the message
    html = text(owner.post(f"/installments/orders/{o1.id}/notes", data={"note": "第二則"}, headers=HTMX))
    assert "備註已新增" in html and "第二則" in html and "<html" not in html
    # an empty note is refused where it was typed
    response = owner.post(f"/installments/orders/{o1.id}/notes", data={"note": "   "})
    assert response.status_code == 422 and "請輸入備註內容" in text(response)
    assert owner.post(f"/installments/orders/{o1.id}/notes", data={"note": ""},
                      headers=HTMX).status_code == 200


def test_a_note_needs_the_modify_right(client, world):
    login(client, "instviewer")
    o1 = world.orders["o1"]
    html = text(client.get("/installments/reports"))
    assert listed(world, html) == LAST_30_DAYS and 'data-testid="note-link"' not in html
    assert 'data-testid="note-form"' not in text(client.get(f"/installments/orders/{o1.id}/history"))
    assert client.post(f"/installments/orders/{o1.id}/notes", data={"note": "x"}).status_code == 403
    assert db.session.query(HistoryEntry).filter_by(subject_type="installment_orders").count() == 0


def test_the_upload_button_needs_the_report_right_at_modify(app, client, world):
    login(client, "instowner")
    assert 'href="/installments/issue"' in text(client.get("/installments/reports"))
    client.post("/logout")
    login(client, "instviewer")
    assert 'href="/installments/issue"' not in text(client.get("/installments/reports"))


# Rights and tenancy --------------------------------------------------------------------------

def test_a_sub_account_needs_the_report_right(client, world):
    make_sub(world.store, "instnobody", grants={Function.INSTALLMENT_UNISSUED: Level.VIEW})
    db.session.commit()
    login(client, "instnobody")
    assert client.get("/installments/reports").status_code == 403
    assert client.get(f"/installments/orders/{world.orders['o1'].id}").status_code == 403


def test_a_redeem_after_use_store_has_no_installment_report(client, ctx):
    make_account(make_store(), username="ticketowner")
    db.session.commit()
    login(client, "ticketowner")
    assert client.get("/installments/reports").status_code == 403


def test_another_stores_order_is_404_and_never_listed(client, world):
    login(client, "instother")
    mine = world.orders["o1"]
    for url in (f"/installments/orders/{mine.id}", f"/installments/orders/{mine.id}/history",
                f"/installments/orders/{mine.id}/fee-split"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/installments/orders/{mine.id}/notes", data={"note": "x"}).status_code == 404
    html = text(client.get("/installments/reports?merchant_order_no=MO-A"))
    assert listed(world, html) == ["other"]
    rows = xlsx(client.get("/installments/reports?format=xlsx"))
    assert [r[1] for r in rows[1:]] == ["MO-A"] and rows[1][0] == world.orders["other"].order_no
    rows = xlsx(client.get("/installments/reports?tab=periods&format=xlsx"))
    assert {r[0] for r in rows[1:]} == {p.serial for p in world.orders["other"].periods}
