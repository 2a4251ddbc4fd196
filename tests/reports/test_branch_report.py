"""7-3 N 分店報表 against the hand-built world (tests/reports/world.py): what each branch issued,
redeemed and returned, a cancelled return or redemption no longer the branch's, the head office
left out, the bound clerk's branch forced on the server, the three-month rule, the parent's
read-only view, the Excel file."""

from __future__ import annotations

import pytest

from app.db import db
from app.errors import InvalidInput
from app.reports import branch as branch_report
from app.reports.branch import Operation as Op
from app.tickets.status import TicketStatus as S
from tests.factories import login
from tests.reports.helpers import XLSX, attr, cell, query_error, rows_with, scope_of, text, xlsx_rows
from tests.reports.world import NOV, OCT

ISS, R, X = Op.ISSUED, Op.REDEEMED, Op.RETURNED


def summary(username: str, **params: object) -> dict[str, dict[Op, tuple[int, int]]]:
    scope = scope_of(username, **params)
    result = branch_report.summarise(scope, branch_report.parse({k: str(v) for k, v in params.items()}))
    return {b.branch.code: {op: (b.of(op).count, b.of(op).amount) for op in Op} for b in result.branches}


def lines(username: str, first: int | None = None, **params: object) -> list[branch_report.Line]:
    scope = scope_of(username, **params)
    query = branch_report.parse({k: str(v) for k, v in params.items()})
    return [branch_report.to_line(r)
            for r in db.session.execute(branch_report.lines(scope, query, first=first))]


def ops(world, found: list[branch_report.Line]) -> set[tuple[str, str, str]]:  # noqa: ANN001
    names = {t.serial: n for n, t in world.tickets.items()}
    return {(line.operation.value, line.branch_code, names[line.serial]) for line in found}


# October: A1 issued B1a–d (150) and S1–S3 (200); redeemed B1a and 乙's X1 (300); returned H2.
# A2 issued B2a, B2b (80), E1, E2 (50); redeemed B1b, B2a, E2 (X3 cancelled); returned nothing
# (B1d was returned by A1 and the return cancelled). The head office's H1–H3, L1, the returns
# of B1c and the redemption of X2 are nobody's branch.
A1_OCT = {ISS: (7, 1200), R: (2, 450), X: (1, 150)}
A2_OCT = {ISS: (4, 260), R: (3, 280), X: (0, 0)}


def test_october_per_branch(world):
    assert summary("aowner01", **OCT) == {"A001": A1_OCT, "A002": A2_OCT}


def test_the_detail_has_one_line_per_operation(world):
    found = lines("aowner01", **OCT)
    assert ops(world, found) == {
        *{("issued", "A001", n) for n in ("B1a", "B1b", "B1c", "B1d", "S1", "S2", "S3")},
        *{("issued", "A002", n) for n in ("B2a", "B2b", "E1", "E2")},
        ("redeemed", "A001", "B1a"), ("redeemed", "A001", "X1"),
        ("redeemed", "A002", "B1b"), ("redeemed", "A002", "B2a"), ("redeemed", "A002", "E2"),
        ("returned", "A001", "H2"),
    }
    assert len(found) == 17
    assert [line.at for line in found] == sorted((line.at for line in found), reverse=True)
    x1 = next(line for line in found if line.serial == world.serial("X1"))
    assert (x1.issuer, x1.product, x1.operator, x1.face_value, x1.status) == (
        "發行商店乙", "乙提貨券", "aclerk01", 300, S.REDEEMED)
    s1 = next(line for line in found if line.serial == world.serial("S1"))
    assert (s1.store_name, s1.branch_name, s1.operator, s1.status) == (
        "報表商店甲", "台北門市", "aclerk01", S.UNUSED_ESCROW_EXPIRED)


@pytest.mark.parametrize("first", [1, 3, 8, 16, 17, 40])
def test_the_newest_lines_read_from_each_part_are_the_newest_of_all(world, first):
    whole = lines("aowner01", **OCT)
    assert lines("aowner01", first=first, **OCT)[:first] == whole[:first]
    returned = lines("aowner01", operation="returned", **OCT)
    assert lines("aowner01", first=first, operation="returned", **OCT) == returned[:first]


def test_the_operation_filter(world):
    assert ops(world, lines("aowner01", operation="returned", **OCT)) == {("returned", "A001", "H2")}
    assert summary("aowner01", operation="redeemed", **OCT) == {
        "A001": {ISS: (0, 0), R: (2, 450), X: (0, 0)}, "A002": {ISS: (0, 0), R: (3, 280), X: (0, 0)}}
    with pytest.raises(InvalidInput, match="操作類型錯誤"):
        branch_report.parse({"operation": "printed"})


def test_november(world):
    # A1 redeemed S2 (after its escrow end) and X5; the head office returned S3
    assert summary("aowner01", **NOV) == {"A001": {ISS: (0, 0), R: (2, 500), X: (0, 0)},
                                          "A002": {ISS: (0, 0), R: (0, 0), X: (0, 0)}}


def test_one_branch_picked_by_an_unbound_account(world):
    assert summary("aviewer01", branch=world.a2.id, **OCT) == {"A002": A2_OCT}
    assert {c for _, c, _ in ops(world, lines("aviewer01", branch=world.a2.id, **OCT))} == {"A002"}


def test_at_most_three_months(world, client):
    with pytest.raises(InvalidInput, match="查詢區間不可超過三個月"):
        branch_report.parse({"start": "2026-09-01", "end": "2026-12-02"})
    assert summary("aowner01", start="2026-09-01", end="2026-12-01")["A001"][R] == (4, 950)
    login(client, "aowner01")
    for path in ("/reports/branch", "/reports/branch/export"):
        response = client.get(path, query_string={"start": "2026-09-01", "end": "2026-12-02"})
        assert response.status_code == 422 and query_error(text(response)) == "查詢區間不可超過三個月"


def test_the_page(world, client, app):
    app.config["PAGE_SIZE"] = 10
    login(client, "aowner01")
    response = client.get("/reports/branch", query_string=OCT)
    body = text(response)
    assert response.status_code == 200
    rows = {attr(r, "data-branch-id"): r for r in rows_with(body, "branch-row")}
    a1 = rows[str(world.a1.id)]
    assert (cell(a1, "issued-count"), cell(a1, "issued-amount")) == ("7", "NT$1,200")
    assert (cell(a1, "redeemed-count"), cell(a1, "returned-amount")) == ("2", "NT$150")
    [total] = rows_with(body, "total-row")
    assert (cell(total, "issued-count"), cell(total, "redeemed-amount"), cell(total, "returned-count")) == (
        "11", "NT$730", "1")
    assert len(rows_with(body, "line")) == 10 and "第 1 / 2 頁（共 17 筆）" in body
    second = text(client.get("/reports/branch", query_string={**OCT, "page": 2}))
    serials = [line.serial for line in lines("aowner01", **OCT)]
    assert [attr(r, "data-serial") for r in rows_with(second, "line")] == serials[10:]
    assert "第 2 / 2 頁（共 17 筆）" in second
    empty = text(client.get("/reports/branch", query_string={"start": "2026-06-01", "end": "2026-06-30"}))
    assert "查詢期間內沒有分店操作的票券" in empty
    assert cell(rows_with(empty, "branch-row")[0], "issued-count") == "0"  # every branch, even idle


def test_a_bound_clerk_sees_only_its_branch_whatever_it_asks(world, client):
    assert summary("aclerk02", branch=world.a1.id, **OCT) == {"A002": A2_OCT}
    login(client, "aclerk02")
    body = text(client.get("/reports/branch", query_string={**OCT, "branch": world.a1.id}))
    assert [attr(r, "data-branch-id") for r in rows_with(body, "branch-row")] == [str(world.a2.id)]
    assert {attr(r, "data-serial") for r in rows_with(body, "line")} == {
        world.serial(n) for n in ("B2a", "B2b", "E1", "E2", "B1b")}
    assert "僅能查詢所屬分店" in body
    rows = xlsx_rows(client.get("/reports/branch/export", query_string={**OCT, "branch": world.a1.id}).data)
    assert len(rows) == 1 + 7 and {r[3] for r in rows[1:]} == {"A002"}


def test_another_stores_branch_is_refused(world, client):
    login(client, "xowner01")
    response = client.get("/reports/branch", query_string={**OCT, "branch": world.a1.id})
    assert response.status_code == 422 and query_error(text(response)) == "查無此分店"
    body = text(client.get("/reports/branch", query_string=OCT))
    assert "尚未建立分店" in body and 'data-testid="line"' not in body


def test_a_parent_sees_its_childs_branches_read_only(world, client):
    login(client, "parent01")
    body = text(client.get("/reports/branch", query_string=OCT))
    assert 'data-testid="read-only"' in body
    assert {attr(r, "data-branch-id") for r in rows_with(body, "branch-row")} == {
        str(world.a1.id), str(world.a2.id)}
    assert "報表商店甲" in body.split('data-testid="branch-summary"')[1]
    assert summary("parent01", **OCT) == {"A001": A1_OCT, "A002": A2_OCT}


def test_the_excel_has_every_line(world, client):
    login(client, "aowner01")
    response = client.get("/reports/branch/export", query_string={**OCT, "operation": "redeemed"})
    assert response.status_code == 200 and response.mimetype == XLSX
    rows = xlsx_rows(response.data)
    assert rows[0] == ["操作類型", "操作時間", "商店名稱", "分店代號", "分店名稱", "操作人員", "發行商店", "商品名稱",
                       "票券序號", "票券類型", "面額", "目前票券狀態"]
    assert [(r[0], r[3], r[8], r[10], r[11]) for r in rows[1:]] == [
        ("核銷", "A002", world.serial("E2"), 50, "已使用"),
        ("核銷", "A001", world.serial("X1"), 300, "已核銷"),
        ("核銷", "A002", world.serial("B2a"), 80, "已核銷"),
        ("核銷", "A002", world.serial("B1b"), 150, "已核銷"),
        ("核銷", "A001", world.serial("B1a"), 150, "已核銷"),
    ]
    assert rows[1][1].strftime("%Y/%m/%d %H:%M") == "2026/10/20 09:00"
    assert rows[2][6:8] == ["發行商店乙", "乙提貨券"] and rows[3][9] == "贈品券"


def test_without_the_right_the_report_is_forbidden(world, client):
    login(client, "anoperm01")
    assert client.get("/reports/branch").status_code == 403
    assert client.get("/reports/branch/export").status_code == 403
