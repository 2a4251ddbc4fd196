"""7-2 未發行訂單管理 through the client: the list (states, search, three months), 【明細】 with
the cardholder and history, 【輸出票券發行檔】 of the ticked issuable orders, 【放棄授權】, the
rights, and another store's order (404)."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from app import clock
from app.auth.permissions import Function, Level
from app.checkout.models import TransactionStatus
from app.db import db
from app.issuance.template import ISSUANCE_SHEET, read_issuance_rows
from app.unissued.models import TicketOrder, TicketOrderState
from tests.factories import login, make_account, make_store, make_sub, make_ticket_order
from tests.unissued.helpers import pay_ticket_order, taipei, ticket_store

MAY_1 = date(2026, 5, 1)


@pytest.fixture
def rows(ctx):  # noqa: ANN001, ANN201
    store, owner, pickup, _ = ticket_store("tickets01")
    make_sub(store, "ticketsview", grants={Function.UNISSUED_ORDERS: Level.VIEW})
    make_sub(store, "ticketsnone", grants={Function.ISSUANCE: Level.VIEW})
    other = make_store()
    make_account(other, username="tickets02")
    out = {
        "old": pay_ticket_order(store, "OLD1", at=taipei(MAY_1)),
        "fresh": pay_ticket_order(store, "NEW1", at=taipei(date(2026, 5, 15))),
        "issued": pay_ticket_order(store, "DONE1", at=taipei(date(2026, 5, 15))),
        "other": make_ticket_order(other),
    }
    out["issued"].state = TicketOrderState.ISSUED
    db.session.commit()
    clock.freeze(taipei(date(2026, 5, 25)))  # OLD1 is past T+20, NEW1 is not
    out["store"] = store
    return out


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def _listed(response) -> list[str]:  # noqa: ANN001
    return re.findall(r'data-order-no="([^"]+)"', text(response))


def test_the_list_shows_unissued_orders_with_their_state(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    page = client.get("/unissued-orders/")
    assert page.status_code == 200
    assert _listed(page) == ["NEW1", "OLD1"]
    body = text(page)
    assert "可發行" in body and "逾期未發行" in body and "王小明" in body
    # only the issuable order can be ticked
    assert body.count('name="order_id"') == 1 and f'value="{rows["fresh"].id}"' in body
    assert _listed(client.get("/unissued-orders/?state=issuable")) == ["NEW1"]
    assert _listed(client.get("/unissued-orders/?state=overdue")) == ["OLD1"]
    assert _listed(client.get("/unissued-orders/?state=issued")) == ["DONE1"]
    assert _listed(client.get("/unissued-orders/?state=all")) == ["DONE1", "NEW1", "OLD1"]
    assert _listed(client.get("/unissued-orders/?order_no=OLD1")) == ["OLD1"]
    assert _listed(client.get("/unissued-orders/?holder=0912345678")) == ["NEW1", "OLD1"]
    assert _listed(client.get("/unissued-orders/?holder=陳")) == []


def test_bad_queries_are_refused_with_a_message(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    too_long = client.get("/unissued-orders/?start=2026-01-01&end=2026-05-25")
    assert too_long.status_code == 422 and "三個月" in text(too_long)
    assert client.get("/unissued-orders/?state=nope").status_code == 422


def test_the_list_as_excel(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    response = client.get("/unissued-orders/?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["訂單編號", "交易編號", "狀態"]
    assert [v[0] for v in values[1:]] == ["NEW1", "OLD1"]
    assert "431195******2222" in values[1]


def test_export_the_ticked_orders_as_an_issuance_file(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    response = client.post("/unissued-orders/export", data={"order_id": [rows["fresh"].id]})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    db.session.expire_all()
    assert load_workbook(io.BytesIO(response.data)).sheetnames[0] == ISSUANCE_SHEET
    (row,) = read_issuance_rows(response.data)
    assert (row["廠商訂單編號"], row["購買人姓名"], row["手機"], row["數量"]) == (
        "NEW1", "王小明", "0912345678", 2)
    assert db.session.get(TicketOrder, rows["fresh"].id).exported_at is not None


def test_export_refuses_what_is_not_issuable_and_changes_nothing(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    late = client.post("/unissued-orders/export", data={"order_id": [rows["old"].id]},
                       follow_redirects=True)
    assert "只能輸出狀態為「可發行」的訂單：OLD1" in text(late)
    none = client.post("/unissued-orders/export", data={}, follow_redirects=True)
    assert "請勾選要輸出的訂單" in text(none)
    forged = client.post("/unissued-orders/export", data={"order_id": ["1x"]}, follow_redirects=True)
    assert "勾選的訂單有誤" in text(forged)
    theirs = client.post("/unissued-orders/export", data={"order_id": [rows["other"].id]},
                         follow_redirects=True)
    assert "請勾選要輸出的訂單" in text(theirs)
    assert db.session.get(TicketOrder, rows["old"].id).exported_at is None


def test_the_detail_shows_the_cardholder_and_the_deadlines(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    page = text(client.get(f"/unissued-orders/{rows['fresh'].id}"))
    assert "王小明" in page and "431195******2222" in page and "0912345678" in page
    assert "2026/06/04" in page  # 5/15 + 20
    assert "票券訂單付款完成" in page
    assert "→ 未發行" in page and "→ unissued" not in page  # statuses in words
    assert 'data-testid="abandon"' in page


def test_abandon_an_order(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets01")
    response = client.post(f"/unissued-orders/{rows['old'].id}/abandon", follow_redirects=True)
    assert "訂單 OLD1 已放棄授權" in text(response)
    db.session.expire_all()
    row = db.session.get(TicketOrder, rows["old"].id)
    assert row.state is TicketOrderState.ABANDONED
    assert row.transaction.status is TransactionStatus.ABANDONED
    again = client.post(f"/unissued-orders/{rows['old'].id}/abandon", follow_redirects=True)
    assert "此訂單已放棄授權，無法放棄授權" in text(again)
    assert 'data-testid="abandon"' not in text(again)


def test_rights(client, rows) -> None:  # noqa: ANN001
    login(client, "ticketsview")
    assert client.get("/unissued-orders/").status_code == 200
    page = text(client.get(f"/unissued-orders/{rows['fresh'].id}"))
    assert 'data-testid="abandon"' not in page
    assert client.post(f"/unissued-orders/{rows['fresh'].id}/abandon").status_code == 403
    assert client.post("/unissued-orders/export", data={"order_id": [rows["fresh"].id]}).status_code == 403


def test_no_right_no_page(app, rows) -> None:  # noqa: ANN001
    other = app.test_client()
    login(other, "ticketsnone")
    assert other.get("/unissued-orders/").status_code == 403
    assert other.get(f"/unissued-orders/{rows['fresh'].id}").status_code == 403


def test_another_stores_order_is_404(client, rows) -> None:  # noqa: ANN001
    login(client, "tickets02")
    assert client.get(f"/unissued-orders/{rows['fresh'].id}").status_code == 404
    assert client.post(f"/unissued-orders/{rows['fresh'].id}/abandon").status_code == 404
    assert _listed(client.get("/unissued-orders/?state=all")) == [rows["other"].merchant_order_no]
    assert db.session.get(TicketOrder, rows["fresh"].id).state is TicketOrderState.UNISSUED


def test_the_empty_state(client, ctx) -> None:  # noqa: ANN001
    ticket_store("tickets03")
    login(client, "tickets03")
    assert "查無未發行訂單" in text(client.get("/unissued-orders/"))
