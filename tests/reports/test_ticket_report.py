"""票券報表 (7-3 J): the query, its filters and columns, against the hand-built world of
tests/reports/ticket_world.py (read its table to check every expected row by hand)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import InvalidInput
from app.products.models import Product
from app.reports import branch as branch_report
from app.reports import circulation
from app.reports import tickets as report
from app.return_applications.models import ApplicationStatus, ReturnApplication
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup, TicketStatus
from app.transfers.models import Transfer, TransferItem, TransferItemState
from tests.factories import make_sub
from tests.issuance.helpers import ready_store
from tests.reports.ticket_world import (
    ALL_GROUPS,
    BY_ISSUE,
    SINCE_SEPTEMBER,
    TODAY,
    build_family,
    build_ticket_world,
    freeze,
    issue_to,
    scope_of,
)
from tests.tickets.helpers import issue


@pytest.fixture
def tw(ctx):  # noqa: ANN001, ANN201
    return build_ticket_world()


def names(tw, params: dict | MultiDict, username: str = "rowner01", **scope_params) -> list[str]:  # noqa: ANN001
    """The names (a1 … d2) of the rows of a query, in the report's order."""
    by_serial = {t.serial: name for name, t in tw.t.items()}
    scope = scope_of(username, **scope_params)
    q = report.parse(params)
    rows = db.session.execute(report.rows_statement(scope, q)).mappings()
    return [by_serial.get(row["serial"], row["serial"]) for row in rows]


def q(**params) -> MultiDict:  # noqa: ANN003
    """A query as the form sends it; list values become repeated keys (status=…&status=…)."""
    pairs = [("mode", params.pop("mode", "date")), ("q", "1")]  # as the form sends it
    for key, value in params.items():
        pairs += [(key, v) for v in value] if isinstance(value, list | tuple) else [(key, value)]
    return MultiDict(pairs)


# The effective status ----------------------------------------------------------------------

def test_status_filter_and_column_agree_with_current_status(ctx):
    """Every stored status × kind × end date (yesterday, today, tomorrow): filtering on one
    status or one group in SQL selects exactly the tickets whose current_status is in it, and
    the status column shows current_status."""
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    _, owner, pickup, gift = ready_store()
    combos = list(itertools.product(TicketStatus, (TODAY - timedelta(days=1), TODAY,
                                                   TODAY + timedelta(days=1))))
    for product in (pickup, gift):
        for ticket, (status, end) in zip(issue(owner, owner.store, product, quantity=len(combos)),
                                         combos, strict=True):
            db.session.execute(update(Ticket).where(Ticket.id == ticket.id)
                               .values(status=status, expires_on=end))
    db.session.commit()
    db.session.expire_all()
    tickets = db.session.scalars(select(Ticket)).all()
    assert len(tickets) == 2 * 11 * 3
    today = clock.business_day()
    wanted_sets = [(s,) for s in TicketStatus] + [STATUS_GROUPS[g] for g in StatusGroup]
    for wanted in wanted_sets:
        expected = {t.id for t in tickets if t.current_status in wanted}
        got = set(db.session.scalars(select(Ticket.id).where(report.status_condition(wanted, today))))
        assert got == expected and got, wanted
    scope = scope_of(owner.username)
    shown = {row["id"]: row["status"] for row in db.session.execute(
        report.rows_statement(scope, report.parse(q(start="2026-11-21", end="2026-11-21")))).mappings()}
    assert shown == {t.id: t.current_status for t in tickets}


# By date -------------------------------------------------------------------------------------

def test_an_empty_query_shows_the_tickets_issued_in_the_last_30_days(tw):
    assert names(tw, {}) == ["d2", "d1"]  # 10/23–11/21: only O4; O1–O3 were issued earlier
    query = report.parse({})
    assert (query.start, query.end, query.groups) == (TODAY - timedelta(days=29), TODAY, ("issuer", "ticket"))


DATE_CASES = [
    (q(**SINCE_SEPTEMBER), list(BY_ISSUE)),
    (q(start="2026-09-02", end="2026-10-01"), ["c2", "c1", "b2", "b1"]),  # Taipei days, inclusive
    (q(start="2026-09-01", end="2026-09-01"), ["a3", "a2", "a1"]),
    (q(date_type="redeemed", start="2026-11-01", end="2026-11-21"), ["a3", "c2", "a1"]),
    (q(date_type="redeemed", start="2026-10-15", end="2026-10-15"), ["b1"]),
    (q(date_type="returned", start="2026-11-01", end="2026-11-21"), ["d1", "a2"]),
    (q(date_type="returned", start="2026-11-11", end="2026-11-21"), ["d1"]),
    (q(**SINCE_SEPTEMBER, status_group="unused"), ["d2", "c1"]),
    (q(**SINCE_SEPTEMBER, status_group="unused", status="unused"), ["d2"]),
    (q(**SINCE_SEPTEMBER, status="unused_escrow_expired"), ["c1"]),
    (q(**SINCE_SEPTEMBER, status_group="expired"), ["b2"]),
    (q(**SINCE_SEPTEMBER, status_group="redeemed"), ["c2", "b1", "a3", "a1"]),
    (q(**SINCE_SEPTEMBER, status_group="redeemed", status="used_after_expiry"), ["c2"]),
    (q(**SINCE_SEPTEMBER, status_group="returned"), ["d1", "a2"]),
    (q(**SINCE_SEPTEMBER, status=["used", "return_pending"]), ["d1", "b1", "a3", "a2", "a1"]),
    # a detailed status of another group, left ticked in the form, is dropped
    (q(**SINCE_SEPTEMBER, status_group="expired", status="used"), ["b2"]),
    (q(**SINCE_SEPTEMBER, delivery_type="paper"), ["d2", "d1"]),
    (q(**SINCE_SEPTEMBER, delivery_type="paper", delivery_method="paper:platform_print"), []),
    (q(**SINCE_SEPTEMBER, delivery_method="electronic:immediate"), ["c2", "c1", "b2", "b1", "a3", "a2", "a1"]),
    (q(**SINCE_SEPTEMBER, status_group="returned", delivery_type="electronic"), ["a2"]),
]


@pytest.mark.parametrize(("params", "expected"), DATE_CASES)
def test_by_date(tw, params, expected):
    assert names(tw, params) == expected


def test_by_branch_and_branch_type(tw):
    both, redeemed, returned = (
        names(tw, q(**SINCE_SEPTEMBER, branch_type=kind), branch=tw.r001.id)
        for kind in ("", "redeemed", "returned"))
    assert (both, redeemed, returned) == (["d1", "a1"], ["a1"], ["d1"])
    assert names(tw, q(**SINCE_SEPTEMBER), branch=tw.r002.id) == ["c2", "b1"]
    assert names(tw, q(**SINCE_SEPTEMBER, date_type="redeemed"), branch=tw.r002.id) == ["c2", "b1"]


# The other modes -----------------------------------------------------------------------------

def test_by_serial(tw):
    assert names(tw, q(mode="serial", serial=tw.t["c1"].serial)) == ["c1"]
    assert names(tw, q(mode="serial", serial=f" {tw.t['c1'].serial.lower()} ")) == ["c1"]
    assert names(tw, q(mode="serial", serial=tw.other_ticket.serial)) == []  # another store's
    # a picked branch does not hide the ticket looked up (only a bound account's branch does)
    assert names(tw, q(mode="serial", serial=tw.t["c1"].serial), branch=tw.r001.id) == ["c1"]


def test_by_holder_within_the_issuance_period(tw):
    assert names(tw, q(mode="holder", holder_name="王小明", **SINCE_SEPTEMBER)) == ["a3", "a2", "a1"]
    assert names(tw, q(mode="holder", holder_mobile="0922222222", **SINCE_SEPTEMBER)) == ["b2", "b1"]
    assert names(tw, q(mode="holder", holder_email="LIN@EXAMPLE.COM", **SINCE_SEPTEMBER)) == []
    assert names(tw, q(mode="holder", holder_email="lin@Example.com", **SINCE_SEPTEMBER)) == ["c2", "c1"]
    assert names(tw, q(mode="holder", holder_name="王小明", holder_mobile="0922222222",
                       **SINCE_SEPTEMBER)) == []
    # the default period is the last 30 days: O1 (09/01) is outside it
    assert names(tw, q(mode="holder", holder_name="王小明")) == []


def test_by_holder_shows_the_latest_holder(tw):
    db.session.execute(update(Ticket).where(Ticket.id == tw.t["a3"].id)
                       .values(holder_name="受贈人", holder_mobile="0966666666"))
    db.session.commit()
    assert names(tw, q(mode="holder", holder_name="王小明", **SINCE_SEPTEMBER)) == ["a2", "a1"]
    assert names(tw, q(mode="holder", holder_mobile="0966666666", **SINCE_SEPTEMBER)) == ["a3"]


def test_by_order(tw):
    assert names(tw, q(mode="order", order_no=tw.orders["O3"].order_no)) == ["c2", "c1"]
    assert names(tw, q(mode="order", merchant_order_no="MO1")) == ["a3", "a2", "a1"]
    assert names(tw, q(mode="order", merchant_order_no="XO1")) == []  # another store's order


@pytest.mark.parametrize(("params", "message", "field"), [
    (q(start="2026-08-20", end="2026-11-21"), "查詢區間不可超過三個月", "end"),
    (q(start="2026-08-21", end="2026-11-22"), "查詢區間不可超過三個月", "end"),
    (q(mode="holder", holder_name="王小明", start="2026-01-01", end="2026-11-21"), "查詢區間不可超過三個月", "end"),
    (q(start="2026-11-21", end="2026-11-01"), "起日不可晚於迄日", "start"),
    (q(start="2026/13/01"), "日期格式錯誤，請輸入 YYYY/MM/DD", "start"),
    (q(mode="everything"), "查詢方式錯誤", "mode"),
    (q(date_type="printed"), "日期類型錯誤", "date_type"),
    (q(branch_type="issuing"), "分店類型錯誤", "branch_type"),
    (q(status="lost"), "票券狀態錯誤", "status"),
    (q(delivery_type="fax"), "出券類型錯誤", "delivery_type"),
    (q(mode="serial"), "請輸入票券序號", "serial"),
    (q(mode="holder"), "請輸入持票人姓名、手機或 Email", "holder_name"),
    (q(mode="order"), "請輸入 ECT訂單編號 或 廠商訂單編號", "order_no"),
])
def test_refused_queries(ctx, params, message, field):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    with pytest.raises(InvalidInput) as refused:
        report.parse(params)
    assert refused.value.message == message and field in refused.value.fields


def test_exactly_three_months_is_allowed(ctx):
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 10))
    query = report.parse(q(start="2026-08-21", end="2026-11-21"))
    assert (query.start.isoformat(), query.end.isoformat()) == ("2026-08-21", "2026-11-21")


# Whose rows --------------------------------------------------------------------------------

def test_a_bound_clerk_sees_only_what_its_branch_handled(tw):
    for asked in ({}, {"branch": tw.r002.id}, {"branch": ""}):
        assert names(tw, q(**SINCE_SEPTEMBER), "rclerk01", **asked) == ["d1", "a1"]
    assert names(tw, q(**SINCE_SEPTEMBER), "rclerk02", branch=tw.r001.id) == ["c2", "b1"]
    assert names(tw, q(**SINCE_SEPTEMBER, branch_type="returned"), "rclerk01") == ["d1"]
    # looking up a ticket its branch never handled finds nothing
    assert names(tw, q(mode="serial", serial=tw.t["c1"].serial), "rclerk01") == []
    assert names(tw, q(mode="order", merchant_order_no="MO1"), "rclerk01") == ["a1"]
    assert report.visible_ticket(scope_of("rclerk01"), tw.t["c1"].id) is None
    assert report.visible_ticket(scope_of("rclerk01"), tw.t["a1"].id).id == tw.t["a1"].id


def _issued_by_r001(tw) -> Ticket:  # noqa: ANN001
    """One coffee ticket issued on 11/18 by a sub-account bound to R001 (the batch records the
    issuing branch), left unused."""
    issuer = make_sub(tw.store, "rissuer01", branch=tw.r001, grants={Function.ISSUANCE: Level.MODIFY})
    coffee = db.session.scalar(select(Product).where(Product.store_id == tw.store.id,
                                                     Product.name == "咖啡券"))
    db.session.commit()
    freeze(TODAY - timedelta(days=3))
    [ticket] = issue_to(issuer, tw.store, coffee, 1, merchant_order_no="MO5",
                        holder=("分店客人", "0955555555", "shop@example.com"))
    freeze(TODAY)
    return ticket


def test_rule_f_a_bound_clerk_also_sees_what_its_branch_issued(tw):
    """Rule f: the ticket report of a clerk bound to a branch shows what the branch issued
    (its batches' created_branch_id, as the circulation and branch reports count issuance),
    not only what it redeemed or returned."""
    e1 = _issued_by_r001(tw)
    tw.t["e1"] = e1
    assert names(tw, q(**SINCE_SEPTEMBER), "rclerk01") == ["e1", "d1", "a1"]
    assert names(tw, q(**SINCE_SEPTEMBER, branch_type="issued"), "rclerk01") == ["e1"]
    assert names(tw, q(**SINCE_SEPTEMBER, branch_type="redeemed"), "rclerk01") == ["a1"]
    assert names(tw, q(**SINCE_SEPTEMBER), "rclerk02") == ["c2", "b1"]  # another branch's
    assert names(tw, q(mode="serial", serial=e1.serial), "rclerk01") == ["e1"]
    assert names(tw, q(mode="order", merchant_order_no="MO5"), "rclerk01") == ["e1"]
    assert report.visible_ticket(scope_of("rclerk01"), e1.id).id == e1.id
    assert report.visible_ticket(scope_of("rclerk02"), e1.id) is None
    # the head office picking the branch gets the same tickets
    assert names(tw, q(**SINCE_SEPTEMBER), branch=tw.r001.id) == ["e1", "d1", "a1"]
    # the same rule the circulation and branch reports count issuance by
    period = {"start": "2026-11-01", "end": "2026-11-21"}
    assert circulation.report(scope_of("rclerk01", **period),
                              circulation.parse(period)).total.issued.count == 1
    issued = branch_report.summarise(scope_of("rclerk01", **period), branch_report.parse(period))
    assert [b.of(branch_report.Operation.ISSUED).count for b in issued.branches] == [1]


def test_another_stores_tickets_never_show(tw):
    assert names(tw, q(**SINCE_SEPTEMBER), "rother01") == [tw.other_ticket.serial]
    assert names(tw, q(mode="holder", holder_name="王小明", **SINCE_SEPTEMBER), "rother01") == [
        tw.other_ticket.serial]
    assert report.visible_ticket(scope_of("rowner01"), tw.other_ticket.id) is None
    with pytest.raises(InvalidInput, match="查無此分店"):
        scope_of("rother01", branch=tw.r001.id)


def test_a_parent_reads_its_childs_tickets_with_a_store_column(ctx):
    family = build_family()
    scope = scope_of("rparent01")
    assert scope.read_only and set(scope.store_ids) == {family.parent.id, family.child.id}
    query = report.parse(q())
    rows = list(db.session.execute(report.rows_statement(scope, query)).mappings())
    assert sorted((r["store_name"], r["product_name"]) for r in rows) == [
        ("子商店報表", "子商店券"), ("子商店報表", "子商店券"), ("母商店報表", "母商店券")]
    assert report.headers(scope, query)[0] == "商店"
    picked = scope_of("rparent01", store=family.child.id)
    assert [r["store_id"] for r in db.session.execute(report.rows_statement(picked, query)).mappings()] \
        == [family.child.id] * 2
    # the child itself sees only its own, without a store column
    child_scope = scope_of("rchild01")
    assert not child_scope.read_only and "商店" not in report.headers(child_scope, query)
    assert report.count(child_scope, query) == 2


# Columns ---------------------------------------------------------------------------------

def test_headers_follow_the_chosen_groups(tw):
    scope = scope_of("rowner01")
    base = ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期"]
    assert report.headers(scope, report.parse(q())) == base
    assert report.headers(scope, report.parse(q(cols="holder"))) == base + [
        "持票人姓名", "持票人手機", "持票人 Email"]
    every = report.headers(scope, report.parse(q(cols=list(reversed(ALL_GROUPS)))))
    assert every[:9] == base + ["商店代號", "發行商名稱", "平台商編號（PlatformID）"]  # the form's order
    assert every[-9:] == ["核銷商店", "核銷分店", "核銷人員", "退貨分店", "退貨人員",
                          "持票人姓名", "持票人手機", "持票人 Email", "價金保管餘額"]
    assert len(every) == len(base) + len(report.GROUP_COLUMNS)


def _sheet_rows(tw, params: MultiDict, username: str = "rowner01") -> dict[str, dict]:  # noqa: ANN001
    scope = scope_of(username)
    sheet = report.build_sheet(scope, params)
    by_serial = {t.serial: name for name, t in tw.t.items()}
    rows = [dict(zip(sheet.headers, row, strict=True)) for row in sheet.rows()]
    assert sheet.count() == len(rows)
    return {by_serial[r["票券序號"]]: r for r in rows}


def test_the_cells_of_every_group(tw):
    rows = _sheet_rows(tw, q(**SINCE_SEPTEMBER, cols=list(ALL_GROUPS)))
    assert list(rows) == list(BY_ISSUE)
    a1, a2, a3, c1, c2, d1 = (rows[n] for n in ("a1", "a2", "a3", "c1", "c2", "d1"))
    assert {k: a1[k] for k in ("商品名稱", "面額", "票券狀態", "詳細狀態", "商店代號", "發行商名稱",
                                "平台商編號（PlatformID）", "票券類型", "出券類型", "發行方式")} == {
        "商品名稱": "咖啡券", "面額": 150, "票券狀態": "核銷", "詳細狀態": "已使用",
        "商店代號": tw.store.merchant_code, "發行商名稱": "報表測試商店", "平台商編號（PlatformID）": "",
        "票券類型": "提貨券", "出券類型": "電子票券", "發行方式": "即期票券"}
    assert clock.taipei(a1["發行日期"]).strftime("%Y/%m/%d %H:%M") == "2026/09/01 10:00"
    assert clock.taipei(a1["核銷日期"]).strftime("%Y/%m/%d %H:%M") == "2026/11/10 11:00"
    assert (a1["核銷商店"], a1["核銷分店"], a1["核銷人員"]) == ("報表測試商店", "R001 台北門市", "rclerk01")
    assert (a1["退貨分店"], a1["退貨人員"], a1["退貨日期"]) == ("", "", None)
    assert (a1["ECT訂單編號"], a1["廠商訂單編號"], a1["購買人姓名"], a1["購買人手機"]) == (
        tw.orders["O1"].order_no, "MO1", "王小明", "0911111111")
    assert (a1["持票人姓名"], a1["持票人手機"], a1["持票人 Email"]) == ("王小明", "0911111111", "wang@example.com")
    # returned by the head office with a fee
    assert (a2["詳細狀態"], a2["退貨分店"], a2["退貨人員"], a2["退貨原因"], a2["退貨手續費"]) == (
        "待退貨", "總店", "rowner01", "消費者不需要了", 10)
    # redeemed by the partner store (its head office)
    assert (a3["核銷商店"], a3["核銷分店"], a3["核銷人員"]) == ("合作核銷商店", "總店", "rpartner01")
    assert (c1["票券狀態"], c1["詳細狀態"], c1["到期日"].isoformat()[:10]) == ("未使用", "未使用且價金保管逾期", "2026-10-20")
    assert (c2["票券狀態"], c2["詳細狀態"], c2["核銷分店"]) == ("核銷", "逾期兌回", "R002 台中門市")
    assert (rows["b2"]["票券狀態"], rows["b2"]["詳細狀態"], rows["b2"]["票券類型"]) == ("失效", "已失效", "贈品券")
    assert (d1["出券類型"], d1["發行方式"], d1["退貨分店"], d1["退貨人員"], d1["列印次數"]) == (
        "紙本票券", "廠商列印", "R001 台北門市", "rclerk01", 0)
    assert d1["轉贈編號"] == "" and d1["申請退貨狀態"] == ""


def test_rule_h_the_platform_column_names_the_platform(tw):
    """Rule h: a PlatformID is the 商店代號 of the platform that issued through the API; the
    issuer columns show the platform's name with its id, an unknown id as it is."""
    db.session.execute(update(Ticket).where(Ticket.id == tw.t["a1"].id)
                       .values(platform_id=tw.partner.merchant_code))
    db.session.execute(update(Ticket).where(Ticket.id == tw.t["b1"].id).values(platform_id="9999999"))
    db.session.commit()
    rows = _sheet_rows(tw, q(**SINCE_SEPTEMBER, cols="issuer"))
    column = "平台商編號（PlatformID）"
    assert rows["a1"][column] == f"合作核銷商店（{tw.partner.merchant_code}）"
    assert (rows["b1"][column], rows["a2"][column]) == ("9999999", "")


def test_transfer_and_return_application_columns_show_the_latest(tw):
    ticket = tw.t["a3"]
    for n, state in enumerate((TransferItemState.CANCELLED, TransferItemState.GIVEN), start=1):
        transfer = Transfer(store_id=tw.store.id, transfer_no=f"TR00{n}", order_id=ticket.order_id,
                            recipient_name=f"受贈人{n}", link_token=f"token{n}")
        db.session.add(transfer)
        db.session.flush()
        db.session.add(TransferItem(store_id=tw.store.id, transfer_id=transfer.id, ticket_id=ticket.id,
                                    state=state))
    db.session.add(ReturnApplication(store_id=tw.store.id, ticket_id=ticket.id, order_id=ticket.order_id,
                                     reason="買錯了", status=ApplicationStatus.DECLINED))
    db.session.add(ReturnApplication(store_id=tw.store.id, ticket_id=ticket.id, order_id=ticket.order_id,
                                     reason="不想要了", status=ApplicationStatus.PENDING))
    db.session.commit()
    rows = _sheet_rows(tw, q(**SINCE_SEPTEMBER, cols="order"))
    assert len(rows) == 9  # one row per ticket, whatever it was joined to
    a3 = rows["a3"]
    assert (a3["轉贈編號"], a3["受贈人"], a3["轉贈狀態"]) == ("TR002", "受贈人2", "已轉贈")
    assert (a3["申請退貨狀態"], a3["申請退貨原因"]) == ("待處理", "不想要了")
    assert clock.taipei(a3["申請退貨時間"]).date() == TODAY


# A page --------------------------------------------------------------------------------------

def test_pages_and_the_capped_total(tw, monkeypatch):
    scope = scope_of("rowner01")
    query = report.parse(q(**SINCE_SEPTEMBER))
    first = report.page(scope, query, 1, per_page=4)
    assert [r.serial for r in first.items] == tw.serials(*BY_ISSUE[:4])
    assert (first.total, first.capped, first.pages, first.has_prev, first.has_next) == (9, False, 3, False, True)
    last = report.page(scope, query, 3, per_page=4)
    assert [r.serial for r in last.items] == tw.serials("a1") and not last.has_next and last.has_prev
    assert report.page(scope, query, 4, per_page=4).items == []
    monkeypatch.setattr(report, "COUNT_CAP", 5)
    capped = report.page(scope, query, 2, per_page=4)
    assert (capped.total, capped.capped, capped.pages, capped.has_next) == (5, True, None, True)
    assert [r.serial for r in capped.items] == tw.serials(*BY_ISSUE[4:8])


def test_row_actions_follow_the_status_machine(tw):
    scope = scope_of("rowner01")
    rows = {r.serial: r for r in report.page(scope, report.parse(q(**SINCE_SEPTEMBER)), 1, 50).items}
    actions = {name: rows[tw.t[name].serial].actions(clock.now()) for name in tw.t}
    assert actions == {
        "d2": ["return"], "c1": ["return"],  # unused (escrow expired too: returned without a fee)
        "c2": ["cancel-redemption"],  # used after expiry: cancellable any time
        "a1": [], "a3": [], "b1": [],  # used on an earlier day (and b1 is a gift)
        "a2": [], "d1": [],  # returned on an earlier day: the window closed at 23:59
        "b2": [],  # expired gift
    }
