"""7-3 I 流通報表 against the hand-built world (tests/reports/world.py): the tickets issued in the
period by their status today, per branch that issued them, the three-month rule, the bound
clerk's branch forced on the server, other stores' tickets never counted, the parent's read-only
view, the Excel file."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.products.models import ProductKind
from app.reports import circulation
from app.tickets.status import StatusGroup as G
from app.tickets.status import TicketStatus as S
from tests.factories import login
from tests.reports.helpers import XLSX, attr, cell, query_error, rows_with, scope_of, text, xlsx_rows
from tests.reports.world import OCT

# Issued by 甲 in October (15 tickets), by status on 11/21: see the table in world.py.
OCTOBER = {
    S.UNUSED: (4, 460),  # H3, B1d 150 each; B2b, L1 80 each
    S.UNUSED_ESCROW_EXPIRED: (1, 200),  # S1: escrow ended 11/15, not yet written by the job
    S.USED: (1, 50),  # E2
    S.REDEEMED: (4, 530),  # H1, B1a, B1b 150 each (bank), B2a 80 (gift, finalised)
    S.USED_AFTER_EXPIRY: (1, 200),  # S2
    S.RETURNED: (2, 300),  # H2, B1c
    S.RETURNED_ESCROW_EXPIRED: (1, 200),  # S3
    S.EXPIRED: (1, 50),  # E1: validity ended 11/15, not yet written by the job
}
A1_OCTOBER = {S.UNUSED: (1, 150), S.UNUSED_ESCROW_EXPIRED: (1, 200), S.REDEEMED: (2, 300),
              S.USED_AFTER_EXPIRY: (1, 200), S.RETURNED: (1, 150), S.RETURNED_ESCROW_EXPIRED: (1, 200)}
A2_OCTOBER = {S.UNUSED: (1, 80), S.USED: (1, 50), S.REDEEMED: (1, 80), S.EXPIRED: (1, 50)}


def figures(tally) -> dict:  # noqa: ANN001
    return {s: (f.count, f.amount) for s, f in tally.by_status.items() if f.count}


def run(username: str, **params: object) -> circulation.Circulation:
    params = {**OCT, **params}
    return circulation.report(scope_of(username, **params), circulation.parse(params))


# The figures -------------------------------------------------------------------------------------

def test_october_for_the_whole_store(world):
    result = run("aowner01")
    t = result.total
    assert figures(t) == OCTOBER
    assert (t.issued.count, t.issued.amount) == (15, 1990)
    assert (t.outstanding.count, t.outstanding.amount) == (5, 660)  # 流通在外: the unused group
    assert [(g, (t.group(g).count, t.group(g).amount)) for g in G] == [
        (G.UNUSED, (5, 660)), (G.REDEEMED, (6, 780)), (G.RETURNED, (3, 500)), (G.EXPIRED, (1, 50))]
    assert [s.store_id for s in result.stores] == [world.a.id]
    assert result.branch is None


def test_one_branch_counts_the_tickets_it_issued(world):
    a1 = run("aowner01", branch=world.a1.id)
    assert figures(a1.total) == A1_OCTOBER and a1.branch.id == world.a1.id
    assert (a1.total.issued.count, a1.total.issued.amount) == (7, 1200)
    assert (a1.total.outstanding.count, a1.total.outstanding.amount) == (2, 350)
    a2 = run("aowner01", branch=world.a2.id)
    assert figures(a2.total) == A2_OCTOBER
    assert (a2.total.outstanding.count, a2.total.outstanding.amount) == (1, 80)


def test_the_kind_filter(world):
    gift = run("aowner01", kind="gift")
    assert gift.query.kind is ProductKind.GIFT
    assert figures(gift.total) == {S.UNUSED: (2, 160), S.USED: (1, 50), S.REDEEMED: (1, 80),
                                   S.EXPIRED: (1, 50)}
    pickup = run("aowner01", kind="pickup")
    assert pickup.total.issued.count + gift.total.issued.count == 15
    with pytest.raises(InvalidInput, match="票券類型錯誤"):
        circulation.parse({"kind": "voucher"})


def test_the_period_is_taipei_days_inclusive(world):
    assert figures(run("aowner01", start="2026-09-30", end="2026-09-30").total) == {S.UNUSED: (1, 150)}
    assert figures(run("aowner01", start="2026-11-01", end="2026-11-01").total) == {S.UNUSED: (1, 150)}
    # 10/31 23:50 Taipei is 15:50 UTC: still the 31st
    assert figures(run("aowner01", start="2026-10-31", end="2026-10-31").total) == {S.UNUSED: (1, 80)}
    assert run("aowner01", start="2026-06-01", end="2026-06-30").total.issued.count == 0


def test_another_store_counts_only_its_own_tickets(world):
    x = run("xowner01")
    assert figures(x.total) == {S.UNUSED: (1, 300), S.USED: (1, 300), S.REDEEMED: (3, 900)}
    assert [s.store_id for s in x.stores] == [world.x.id]


# The three-month rule ----------------------------------------------------------------------------

def test_at_most_three_months(world, client):
    assert run("aowner01", start="2026-08-01", end="2026-11-01").total.issued.count == 17
    with pytest.raises(InvalidInput, match="查詢區間不可超過三個月"):
        circulation.parse({"start": "2026-08-01", "end": "2026-11-02"})
    login(client, "aowner01")
    for path in ("/reports/circulation", "/reports/circulation/export"):
        response = client.get(path, query_string={"start": "2026-08-01", "end": "2026-11-02"})
        assert response.status_code == 422
        assert query_error(text(response)) == "查詢區間不可超過三個月"
        assert 'data-testid="circulation"' not in text(response)
    backwards = client.get("/reports/circulation", query_string={"start": "2026-10-31", "end": "2026-10-01"})
    assert backwards.status_code == 422 and query_error(text(backwards)) == "起日不可晚於迄日"


# The page ----------------------------------------------------------------------------------------

def _page_figures(body: str) -> dict[str, tuple[str, str]]:
    out = {attr(r, "data-status"): (cell(r, "count"), cell(r, "amount")) for r in rows_with(body, "status-row")}
    out |= {"group " + attr(r, "data-group"): (cell(r, "count"), cell(r, "amount"))
            for r in rows_with(body, "group-row")}
    for key in ("total-row", "outstanding-row"):
        [row] = rows_with(body, key)
        out[key] = (cell(row, "count"), cell(row, "amount"))
    return out


def test_the_page_shows_every_status_with_totals(world, client):
    login(client, "aviewer01")
    response = client.get("/reports/circulation", query_string=OCT)
    body = text(response)
    assert response.status_code == 200
    page = _page_figures(body)
    assert page["unused"] == ("4", "NT$460") and page["unused_escrow_expired"] == ("1", "NT$200")
    assert page["redeeming"] == ("0", "NT$0") and page["returning"] == ("0", "NT$0")
    assert page["redeemed"] == ("4", "NT$530") and page["group redeemed"] == ("6", "NT$780")
    assert page["total-row"] == ("15", "NT$1,990") and page["outstanding-row"] == ("5", "NT$660")
    groups = {attr(r, "data-group"): cell(r, "count") for r in rows_with(body, "group-row")}
    assert groups == {"unused": "5", "redeemed": "6", "returned": "3", "expired": "1"}
    assert "未使用且價金保管逾期" in body and "流通在外" in body
    assert 'value="2026-10-01"' in body and 'value="2026-10-31"' in body
    assert 'data-testid="read-only"' not in body and 'data-testid="store-picker"' not in body
    # the branch picker offers every branch of the store to an unbound account
    assert f'value="{world.a1.id}"' in body and f'value="{world.a2.id}"' in body


def test_an_empty_period_says_so(world, client):
    login(client, "aowner01")
    body = text(client.get("/reports/circulation", query_string={"start": "2026-06-01", "end": "2026-06-30"}))
    assert 'data-testid="empty"' in body and "查詢期間內沒有發行的票券" in body


def test_an_empty_query_shows_the_last_30_days(world, client):
    login(client, "aowner01")
    body = text(client.get("/reports/circulation"))
    assert 'value="2026-10-23"' in body and 'value="2026-11-21"' in body
    assert _page_figures(body)["total-row"] == ("2", "NT$230")  # L1 (10/31) and post (11/01)


# The branch restriction ---------------------------------------------------------------------------

def test_a_bound_clerk_sees_only_its_branch_whatever_it_asks(world, client):
    assert scope_of("aclerk01", branch=world.a2.id).branch_id == world.a1.id
    login(client, "aclerk01")
    response = client.get("/reports/circulation", query_string={**OCT, "branch": world.a2.id})
    body = text(response)
    assert response.status_code == 200
    assert _page_figures(body)["total-row"] == ("7", "NT$1,200")  # A1's tickets, not A2's
    picker = body.split('data-testid="branch-picker"')[0].rsplit("<select", 1)[1] + \
        body.split('data-testid="branch-picker"')[1].split("</select>")[0]
    assert "disabled" in picker and str(world.a2.id) not in picker and "A001 台北門市" in picker
    assert "僅能查詢所屬分店，不可選擇其他分店" in body
    export = client.get("/reports/circulation/export", query_string={**OCT, "branch": world.a2.id})
    rows = xlsx_rows(export.data)
    assert {r[3] for r in rows[1:]} == {"A001 台北門市"}
    assert [r[7:] for r in rows if r[5] == "合計"] == [[7, 1200]]


def test_a_branch_or_store_of_another_store_is_refused(world, client):
    login(client, "xowner01")
    for params, message in (({"branch": world.a1.id}, "查無此分店"), ({"store": world.a.id}, "查無此商店"),
                            ({"branch": "abc"}, "查無此分店")):
        response = client.get("/reports/circulation", query_string={**OCT, **params})
        assert response.status_code == 422 and query_error(text(response)) == message
        assert client.get("/reports/circulation/export",
                          query_string={**OCT, **params}).status_code == 422


def test_without_the_right_the_report_is_forbidden(world, client):
    login(client, "anoperm01")
    assert client.get("/reports/circulation").status_code == 403
    assert client.get("/reports/circulation/export").status_code == 403


# A parent store -------------------------------------------------------------------------------------

def test_a_parent_sees_its_child_read_only(world, client):
    login(client, "parent01")
    body = text(client.get("/reports/circulation", query_string=OCT))
    assert 'data-testid="read-only"' in body and 'data-testid="store-picker"' in body
    stores = {attr(r, "data-store-id") for r in rows_with(body, "store-row")}
    assert stores == {str(world.parent.id), str(world.a.id)}
    assert _page_figures(body)["total-row"] == ("15", "NT$1,990")
    child = text(client.get("/reports/circulation", query_string={**OCT, "store": world.a.id}))
    assert _page_figures(child)["outstanding-row"] == ("5", "NT$660")
    assert 'data-testid="read-only"' in child
    refused = client.get("/reports/circulation", query_string={**OCT, "store": world.x.id})
    assert refused.status_code == 422 and query_error(text(refused)) == "查無此商店"


# Excel ------------------------------------------------------------------------------------------------

def test_the_excel_has_the_page_figures(world, client):
    login(client, "aowner01")
    response = client.get("/reports/circulation/export", query_string=OCT)
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    rows = xlsx_rows(response.data)
    assert rows[0] == ["發行期間", "商店代號", "商店名稱", "分店", "票券類型", "票券狀態", "詳細狀態", "張數", "金額"]
    assert len(rows) == 1 + circulation.rows_per_store()
    assert {tuple(r[:5]) for r in rows[1:]} == {
        ("2026/10/01～2026/10/31", world.a.merchant_code, "報表商店甲", "全部", "全部")}
    by_status = {r[6]: (r[7], r[8]) for r in rows[1:] if r[6] not in ("小計", "")}
    assert by_status["未使用"] == (4, 460) and by_status["已核銷"] == (4, 530)
    assert by_status["已失效"] == (1, 50) and by_status["核銷中"] == (0, 0)
    assert [r[7:] for r in rows if r[5] == "流通在外"] == [[5, 660]]
    assert [r[7:] for r in rows if r[5] == "合計"] == [[15, 1990]]
    assert [r[7:] for r in rows if (r[5], r[6]) == ("退貨", "小計")] == [[3, 500]]


def test_the_parents_excel_has_each_store_and_all(world, client):
    login(client, "parent01")
    rows = xlsx_rows(client.get("/reports/circulation/export", query_string=OCT).data)
    assert len(rows) == 1 + 3 * circulation.rows_per_store()
    totals = {r[2]: r[7:] for r in rows if r[5] == "合計"}
    assert totals == {"母商店": [0, 0], "報表商店甲": [15, 1990], "全部商店": [15, 1990]}
