"""7-3 M 跨店核銷報表 against the hand-built world (tests/reports/world.py): other issuers' tickets
甲 redeemed, a cancelled redemption gone, another store's redemptions never shown, the bound
clerk's branch forced on the server (in the page, the Excel and a background export), the
three-month rule, the parent's read-only view."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import InvalidInput
from app.reports import cross_store, export
from app.reports.models import ExportJob, ExportStatus
from app.tickets.status import TicketStatus as S
from tests.factories import login
from tests.reports.helpers import XLSX, attr, query_error, rows_with, scope_of, text, xlsx_rows
from tests.reports.world import NOV, OCT

OCT_NOV = {"start": "2026-10-01", "end": "2026-11-30"}


def lines(username: str, **params: object) -> list[cross_store.Line]:
    scope = scope_of(username, **params)
    query = cross_store.parse(scope, {k: str(v) for k, v in params.items()})
    return [cross_store.to_line(r) for r in db.session.execute(cross_store.lines(scope, query))]


def totals(username: str, **params: object) -> tuple[int, int]:
    scope = scope_of(username, **params)
    figure = cross_store.totals(scope, cross_store.parse(scope, {k: str(v) for k, v in params.items()}))
    return figure.count, figure.amount


def test_other_issuers_tickets_this_store_redeemed(world):
    got = lines("aowner01", **OCT)
    # X3 was redeemed by A2 and cancelled; X4 was redeemed by 丙; H1, B1a… are 甲's own
    assert [line.serial for line in got] == [world.serial("X2"), world.serial("X1")]  # newest first
    assert totals("aowner01", **OCT) == (2, 600)
    x2, x1 = got
    assert (x1.branch, x1.clerk, x1.redeemer) == ("台北門市", "aclerk01", "報表商店甲")
    assert (x2.branch, x2.clerk) == ("", "aowner01")  # the head office
    assert x2.cells()[2] == "總店"
    assert (x1.issuer_code, x1.issuer_name, x1.product) == (world.x.merchant_code, "發行商店乙", "乙提貨券")
    assert (x1.face_value, x1.status, x1.kind.value) == (300, S.REDEEMED, "pickup")
    assert x1.redeemed_at == world.tickets["X1"].redeemed_at


def test_the_period_is_the_redemption_day(world):
    assert [line.serial for line in lines("aowner01", **NOV)] == [world.serial("X5")]
    assert totals("aowner01", **OCT_NOV) == (3, 900)
    assert lines("aowner01", **NOV)[0].status is S.USED  # not yet sent to the bank
    assert lines("aowner01", start="2026-10-12", end="2026-10-12") == []  # X3's day: cancelled


def test_a_cancelled_cross_store_redemption_disappears(world):
    assert lines("aclerk02", **OCT_NOV) == []  # A2 only ever redeemed X3, then cancelled it
    assert world.serial("X3") not in {line.serial for line in lines("aowner01", **OCT_NOV)}


def test_another_store_sees_only_its_own_redemptions(world):
    assert [line.serial for line in lines("zowner01", **OCT)] == [world.serial("X4")]
    assert lines("xowner01", **OCT_NOV) == []  # the issuer redeemed nobody else's tickets


def test_the_issuer_filter(world):
    assert totals("aowner01", issuer=world.x.id, **OCT_NOV) == (3, 900)
    scope = scope_of("aowner01")
    assert cross_store.issuer_choices(scope) == [(world.x.id, f"{world.x.merchant_code} 發行商店乙")]
    with pytest.raises(InvalidInput, match="查無此發行商店"):
        cross_store.parse(scope, {**OCT, "issuer": str(world.z.id)})


def test_at_most_three_months(world, client):
    with pytest.raises(InvalidInput, match="查詢區間不可超過三個月"):
        cross_store.parse(scope_of("aowner01"), {"start": "2026-08-31", "end": "2026-12-01"})
    assert totals("aowner01", start="2026-08-31", end="2026-11-30") == (3, 900)
    login(client, "aowner01")
    for path in ("/reports/cross-store", "/reports/cross-store/export"):
        response = client.get(path, query_string={"start": "2026-08-31", "end": "2026-12-01"})
        assert response.status_code == 422 and query_error(text(response)) == "查詢區間不可超過三個月"


def test_the_page_lists_with_totals_and_pages(world, client, app):
    app.config["PAGE_SIZE"] = 2
    login(client, "aviewer01")
    response = client.get("/reports/cross-store", query_string=OCT_NOV)
    body = text(response)
    assert response.status_code == 200
    assert [attr(r, "data-serial") for r in rows_with(body, "line")] == world.serials_in_order("X5", "X2")
    assert 'data-testid="total-count">3<' in body and 'data-testid="total-amount">NT$900<' in body
    assert "第 1 / 2 頁（共 3 筆）" in body and "發行商店乙" in body and "台北門市" in body
    second = text(client.get("/reports/cross-store", query_string={**OCT_NOV, "page": 2}))
    assert [attr(r, "data-serial") for r in rows_with(second, "line")] == [world.serial("X1")]
    assert "<th>核銷商店</th>" not in body  # one store: no redeemer column
    empty = text(client.get("/reports/cross-store", query_string={"start": "2026-06-01", "end": "2026-06-30"}))
    assert "查詢期間內沒有跨店核銷的票券" in empty


def test_a_bound_clerk_sees_only_its_branch_whatever_it_asks(world, client):
    assert scope_of("aclerk01", branch=world.a2.id).branch_id == world.a1.id
    assert [line.serial for line in lines("aclerk01", branch=world.a2.id, **OCT_NOV)] == \
        world.serials_in_order("X5", "X1")
    login(client, "aclerk01")
    body = text(client.get("/reports/cross-store", query_string={**OCT_NOV, "branch": world.a2.id}))
    assert [attr(r, "data-serial") for r in rows_with(body, "line")] == world.serials_in_order("X5", "X1")
    rows = xlsx_rows(client.get("/reports/cross-store/export",
                                query_string={**OCT_NOV, "branch": world.a2.id}).data)
    assert [r[7] for r in rows[1:]] == world.serials_in_order("X5", "X1")
    assert {r[2] for r in rows[1:]} == {"台北門市"}


def test_a_large_export_runs_in_the_background_with_the_branch_still_forced(world, client, app,
                                                                            monkeypatch, tmp_path):
    monkeypatch.setattr(export, "INLINE_MAX_ROWS", 1)
    app.config["EXPORT_FOLDER"] = str(tmp_path / "exports")
    login(client, "aclerk01")
    response = client.get("/reports/cross-store/export", query_string={**OCT_NOV, "branch": world.a2.id})
    assert response.status_code == 303
    job = db.session.scalar(select(ExportJob).execution_options(unscoped=True))
    assert response.headers["Location"].endswith(f"/reports/exports/{job.id}")
    assert (job.status, job.report, job.total_rows, job.rows_written) == (ExportStatus.DONE, "cross_store", 2, 2)
    progress = text(client.get(f"/reports/exports/{job.id}"))
    assert 'data-testid="export-download"' in progress
    download = client.get(f"/reports/exports/{job.id}/download")
    rows = xlsx_rows(download.data)
    download.close()
    assert rows[0] == cross_store.HEADERS
    assert [r[7] for r in rows[1:]] == world.serials_in_order("X5", "X1")


def test_a_parent_sees_its_childs_redemptions_read_only(world, client):
    login(client, "parent01")
    body = text(client.get("/reports/cross-store", query_string=OCT_NOV))
    assert 'data-testid="read-only"' in body and "<th>核銷商店</th>" in body
    assert [attr(r, "data-serial") for r in rows_with(body, "line")] == world.serials_in_order("X5", "X2", "X1")
    assert "/tickets/" not in body.split('data-testid="cross-store"')[1]  # nothing to act on


def test_the_excel_has_the_listed_rows(world, client):
    login(client, "aowner01")
    response = client.get("/reports/cross-store/export", query_string=OCT_NOV)
    assert response.status_code == 200 and response.mimetype == XLSX
    rows = xlsx_rows(response.data)
    assert rows[0] == ["核銷時間", "核銷商店", "核銷分店", "核銷人員", "發行商店代號", "發行商店名稱", "商品名稱",
                       "票券序號", "票券類型", "面額", "票券狀態"]
    x5 = rows[1]
    assert x5[1:] == ["報表商店甲", "台北門市", "aclerk01", world.x.merchant_code, "發行商店乙", "乙提貨券",
                      world.serial("X5"), "提貨券", 300, "已使用"]
    assert x5[0].strftime("%Y/%m/%d %H:%M") == "2026/11/18 10:00"  # Taipei wall time
    assert [r[2] for r in rows[1:]] == ["台北門市", "總店", "台北門市"]
    assert sum(r[9] for r in rows[1:]) == 900


def test_without_the_right_the_report_is_forbidden(world, client):
    login(client, "anoperm01")
    assert client.get("/reports/cross-store").status_code == 403
    assert client.get("/reports/cross-store/export").status_code == 403
