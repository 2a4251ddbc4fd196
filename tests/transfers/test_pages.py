"""電子票券轉贈紀錄 pages: the query (filters, three-month rule, masking, Excel), a transfer's
detail and history, 取消轉贈 with its rights; tenancy and the parent store's read-only view."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.tickets import services as tickets
from app.tickets.models import Ticket
from app.transfers import services
from app.transfers.models import Transfer, TransferStatus
from tests.factories import login, make_account, make_store, make_sub
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order, tickets_of
from tests.transfers.helpers import FRIEND, give, history

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _html(response) -> str:
    return response.get_data(as_text=True)


def _rows(response) -> list[list]:
    assert response.status_code == 200 and response.mimetype == XLSX
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    return rows


def relogin(client, username: str) -> None:
    client.post("/logout")
    login(client, username)


def _row_ids(html: str) -> list[str]:
    import re

    return re.findall(r'data-testid="transfer-row" data-transfer-id="(\d+)"', html)


@pytest.fixture
def shop(ctx, client):
    store, owner, pickup, _ = ready_store()
    order = issue_order(owner, store, pickup, quantity=3)
    transfer = give(order, tickets_of(order)[:2])
    login(client, "issuer01")
    return store, owner, pickup, order, transfer


# 查詢 ---------------------------------------------------------------------------------------

def test_the_list_shows_each_transfer_with_masked_mobiles_and_its_serials(shop, client):
    store, owner, pickup, order, transfer = shop
    html = _html(client.get("/transfers/"))
    assert _row_ids(html) == [str(transfer.id)]
    for text in (transfer.transfer_no, order.order_no, "王小明", "0912***678", "陳小華",
                 "0922***444", "2 張", "轉贈中", *[t.serial for t in tickets_of(order)[:2]]):
        assert text in html, text
    assert "0912345678" not in html and "0922333444" not in html
    assert tickets_of(order)[2].serial not in html
    home = _html(client.get("/home"))
    assert "電子票券轉贈紀錄" in home and 'href="/transfers/"' in home


def test_filters_narrow_the_list(shop, client):
    store, owner, pickup, order, transfer = shop
    other_order = issue_order(owner, store, pickup, name="林小美", mobile="0955666777",
                              email="lin@example.com")
    other = give(other_order, tickets_of(other_order)[:1], name="張三", mobile="0977888999",
                 email="zhang@example.com")
    services.cancel(owner, store, other.id, reason="消費者要求")
    db.session.commit()

    assert _row_ids(_html(client.get("/transfers/"))) == [str(other.id), str(transfer.id)]
    cases = {
        f"transfer_no={transfer.transfer_no}": [transfer.id],
        f"transfer_no={transfer.transfer_no.lower()}": [transfer.id],
        f"order_no={other_order.order_no}": [other.id],
        "person=張三": [other.id],
        "person=0912345": [transfer.id],  # the giver's mobile
        "person=0977": [other.id],  # the recipient's mobile
        "person=陳小": [transfer.id],
        "status=active": [transfer.id],
        "status=cancelled": [other.id],
        "person=沒有這個人": [],
    }
    for query, expected in cases.items():
        response = client.get(f"/transfers/?{query}")
        assert response.status_code == 200, query
        assert _row_ids(_html(response)) == [str(i) for i in expected], query


def test_dates_default_to_30_days_and_may_not_exceed_three_months(shop, client):
    store, owner, pickup, order, transfer = shop
    today = clock.business_day()
    clock.freeze(clock.now() - timedelta(days=40))
    old_order = issue_order(owner, store, pickup)
    old = give(old_order, tickets_of(old_order)[:1])
    clock.unfreeze()

    assert _row_ids(_html(client.get("/transfers/"))) == [str(transfer.id)]
    start = (today - timedelta(days=45)).isoformat()
    ids = _row_ids(_html(client.get(f"/transfers/?start={start}&end={today.isoformat()}")))
    assert ids == [str(transfer.id), str(old.id)]
    # an exact transfer number without dates is not limited to 30 days
    assert _row_ids(_html(client.get(f"/transfers/?transfer_no={old.transfer_no}"))) == [str(old.id)]

    too_long = client.get(f"/transfers/?start={(today - timedelta(days=120)).isoformat()}"
                          f"&end={today.isoformat()}")
    assert too_long.status_code == 422 and "查詢區間不可超過三個月" in _html(too_long)
    backwards = client.get(f"/transfers/?start={today.isoformat()}"
                           f"&end={(today - timedelta(days=1)).isoformat()}")
    assert backwards.status_code == 422 and "起日不可晚於迄日" in _html(backwards)
    bad = client.get("/transfers/?start=2026-13-01")
    assert bad.status_code == 422 and "日期格式錯誤" in _html(bad)
    excel = client.get(f"/transfers/?format=xlsx&start={(today - timedelta(days=120)).isoformat()}")
    assert excel.status_code == 422  # the download follows the same rule


def test_excel_has_the_query_with_full_contacts_and_no_formulas(shop, client):
    store, owner, pickup, order, transfer = shop
    risky_order = issue_order(owner, store, pickup, name="=HYPERLINK(1)", mobile="0955666777",
                              email="risky@example.com")
    give(risky_order, tickets_of(risky_order)[:1], name="+SUM(A1)", mobile="0977888999",
         email="risky2@example.com")
    rows = _rows(client.get(f"/transfers/?format=xlsx&order_no={order.order_no}"))
    assert rows[0][:4] == ["商店代號", "轉贈編號", "轉贈時間", "ECT訂單編號"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    serials = [t.serial for t in tickets_of(order)[:2]]
    assert row["轉贈編號"] == transfer.transfer_no and row["ECT訂單編號"] == order.order_no
    assert row["商店代號"] == store.merchant_code
    assert (row["轉贈人姓名"], row["轉贈人手機"], row["轉贈人 Email"]) == (
        "王小明", "0912345678", "old@example.com")
    assert (row["受贈人姓名"], row["受贈人手機"], row["受贈人 Email"]) == (
        FRIEND["name"], FRIEND["mobile"], FRIEND["email"])
    assert row["張數"] == 2 and row["票券序號"] == "、".join(serials) and row["狀態"] == "轉贈中"
    assert clock.taipei(transfer.created_at).replace(tzinfo=None, microsecond=0) == \
        row["轉贈時間"].replace(microsecond=0)

    all_rows = _rows(client.get("/transfers/?format=xlsx"))
    assert len(all_rows) == 3
    names = {r[4] for r in all_rows[1:]} | {r[7] for r in all_rows[1:]}
    assert "'=HYPERLINK(1)" in names and "'+SUM(A1)" in names


def test_the_list_is_paginated(shop, client):
    store, owner, pickup, order, transfer = shop
    give(order, tickets_of(order)[2:], name="第二位", mobile="0933000111", email="b@example.com")
    client.application.config["PAGE_SIZE"] = 1
    html = _html(client.get("/transfers/"))
    assert len(_row_ids(html)) == 1 and "第 1 / 2 頁（共 2 筆）" in html
    assert len(_row_ids(_html(client.get("/transfers/?page=2")))) == 1


# 明細與取消轉贈 -----------------------------------------------------------------------------------

def test_detail_shows_the_tickets_and_history_and_cancel_works(shop, client):
    store, owner, pickup, order, transfer = shop
    first, second, _ = tickets_of(order)
    tickets.redeem(owner, store, first)  # the recipient used one
    db.session.commit()

    html = _html(client.get(f"/transfers/{transfer.id}"))
    for text in (transfer.transfer_no, order.order_no, "0912345678", "old@example.com",
                 FRIEND["mobile"], FRIEND["email"], first.serial, second.serial, "已使用",
                 "未使用", "已轉贈", 'data-testid="cancel-form"', 'data-action="transfer_created"',
                 "data-confirm="):
        assert text in html, text

    refused = client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "  "})
    assert refused.status_code == 422 and services.REASON_REQUIRED in _html(refused)
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.ACTIVE

    done = client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "消費者來電取消"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/transfers/{transfer.id}")
    db.session.expire_all()
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.CANCELLED
    back = db.session.get(Ticket, second.id)
    assert back.transfer_id is None and back.holder_name == "王小明"
    [entry] = history("transfers", transfer.id, "transfer_cancelled")
    assert entry.actor_id == owner.id and entry.ip  # the request's actor and IP

    html = _html(client.get(f"/transfers/{transfer.id}"))
    assert "1 張未使用的票券已返還原購買人" in html  # the flash
    assert 'data-testid="cancel-form"' not in html
    for text in ("已取消", "消費者來電取消", "issuer01", "已取消轉贈", "已使用（未取回）",
                 'data-action="transfer_cancelled"'):
        assert text in html, text

    again = client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "再取消"})
    assert again.status_code == 409 and services.ALREADY_CANCELLED in _html(again)


def test_a_view_only_sub_account_sees_but_cannot_cancel(shop, client):
    store, owner, pickup, order, transfer = shop
    make_sub(store, username="viewer01", grants={Function.TRANSFER_RECORDS: Level.VIEW})
    make_sub(store, username="nothing1", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    relogin(client, "viewer01")
    assert transfer.transfer_no in _html(client.get("/transfers/"))
    html = _html(client.get(f"/transfers/{transfer.id}"))
    assert 'data-testid="cancel-form"' not in html and 'data-testid="view-only"' in html
    assert 'data-testid="cancel-link"' not in _html(client.get("/transfers/"))
    assert client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "偷取消"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Transfer, transfer.id).status is TransferStatus.ACTIVE

    relogin(client, "nothing1")
    assert client.get("/transfers/").status_code == 403
    assert client.get(f"/transfers/{transfer.id}").status_code == 403
    assert "電子票券轉贈紀錄" not in _html(client.get("/home"))


def test_another_stores_transfer_is_404(shop, client):
    store, owner, pickup, order, transfer = shop
    make_account(make_store(), username="stranger1")
    db.session.commit()
    relogin(client, "stranger1")
    assert client.get(f"/transfers/{transfer.id}").status_code == 404
    assert client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "x"}).status_code == 404
    assert _row_ids(_html(client.get("/transfers/"))) == []
    assert _rows(client.get("/transfers/?format=xlsx"))[1:] == []


def test_a_parent_store_reads_its_childs_transfers_but_cannot_cancel_them(ctx, client):
    parent = make_store("母商店")
    make_account(parent, username="parent01")
    child, child_owner, pickup, _ = ready_store("child01", parent=parent)
    order = issue_order(child_owner, child, pickup)
    transfer = give(order, tickets_of(order)[:1])
    login(client, "parent01")

    html = _html(client.get("/transfers/"))
    assert _row_ids(html) == [str(transfer.id)] and 'data-testid="parent-notice"' in html
    assert child.name in html and 'data-testid="cancel-link"' not in html
    detail = _html(client.get(f"/transfers/{transfer.id}"))
    assert transfer.transfer_no in detail and 'data-testid="parent-readonly"' in detail
    assert 'data-testid="cancel-form"' not in detail
    assert client.post(f"/transfers/{transfer.id}/cancel", data={"reason": "母商店"}).status_code == 404
    rows = _rows(client.get("/transfers/?format=xlsx"))
    assert [r[0] for r in rows[1:]] == [child.merchant_code]

    client.post("/switch-store", data={"store_id": str(child.id)})
    assert client.post(f"/transfers/{transfer.id}/cancel",
                       data={"reason": "切換後取消"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(Transfer.status)) is TransferStatus.CANCELLED


def test_the_ticket_detail_links_its_transfers_and_pending_return_application(shop, client):
    from tests.return_applications.helpers import apply, offer_returns

    store, owner, pickup, order, transfer = shop
    given, _, own = tickets_of(order)
    html = _html(client.get(f"/tickets/{given.serial}"))
    assert f'href="/transfers/{transfer.id}"' in html and transfer.transfer_no in html
    assert "已轉贈" in html and 'data-testid="return-application"' not in html
    offer_returns(store)
    [application] = apply(store, order, [own], reason="不需要了")
    html = _html(client.get(f"/tickets/{own.serial}"))
    assert f'href="/return-applications/{application.id}"' in html and "不需要了" in html
    assert transfer.transfer_no not in html
