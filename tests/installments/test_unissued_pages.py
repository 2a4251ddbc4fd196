"""8-2 未發行訂單 through the client: the list of paid orders not yet issued (by paid date or
merchant order number), 【明細】 with the cardholder's details (the card masked), 【匯出列表】,
the empty state, the three-month rule, the right, and another store's order (404)."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from tests.factories import (
    login,
    make_account,
    make_installment_order,
    make_installment_store,
    make_sub,
    make_unissued_order,
)
from tests.installments.factories import NOW, T


@pytest.fixture
def rows(ctx):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    store, other = make_installment_store(), make_installment_store()
    make_account(store, username="unissued01")
    make_sub(store, "unissuedsub", grants={Function.INSTALLMENT_UNISSUED: Level.VIEW})
    make_sub(store, "unissuednone", grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
    make_account(other, username="unissued02")
    out = {
        "u1": make_unissued_order(store, 3600, merchant_order_no="PAY-1", paid_at=T(2026, 11, 20, 14, 5)),
        "u2": make_unissued_order(store, 1200, merchant_order_no="PAY-2", paid_at=T(2026, 11, 18, 9),
                                  cardholder_name="LIN", card_first6="552211", card_last4="0001",
                                  auth_code="123456"),
        "old": make_unissued_order(store, 900, merchant_order_no="PAY-OLD", paid_at=T(2026, 6, 1, 9)),
        "issued": make_unissued_order(store, 600, merchant_order_no="PAY-3", paid_at=T(2026, 11, 19, 9)),
        "other": make_unissued_order(other, 500, merchant_order_no="PAY-1", paid_at=T(2026, 11, 20, 9)),
    }
    out["issued"].issued_order_id = make_installment_order(store, 600).id
    db.session.commit()
    return out


def text(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def listed(html: str) -> list[str]:
    return re.findall(r'data-testid="unissued-row".*?data-col="merchant_order_no">([^<]*)<', html, re.S)


def test_the_list_of_paid_orders_not_issued(client, rows):
    login(client, "unissued01")
    html = text(client.get("/installments/unissued"))
    assert listed(html) == ["PAY-1", "PAY-2"]  # the last 30 days; not the issued one
    assert "NT$3,600" in html and "2026/11/20 14:05" in html and "匯出列表" in html
    assert "431195" not in html  # the card is in 【明細】, not the list
    assert listed(text(client.get("/installments/unissued?merchant_order_no=PAY-OLD"))) == ["PAY-OLD"]
    assert listed(text(client.get("/installments/unissued?start=2026-11-19&end=2026-11-21"))) == ["PAY-1"]


def test_the_detail_shows_the_cardholder_masked(client, rows):
    login(client, "unissued01")
    html = text(client.get(f"/installments/unissued/{rows['u2'].id}", headers={"HX-Request": "true"}))
    assert 'data-testid="cardholder">LIN' in html and 'data-testid="card">552211******0001' in html
    assert 'data-testid="auth-code">123456' in html and "陳小華" in html and "<html" not in html
    assert "552211******0001" in text(client.get(f"/installments/unissued/{rows['u2'].id}"))


def test_the_export_is_the_query(client, rows):
    login(client, "unissued01")
    response = client.get("/installments/unissued?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    data = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = data[0]
    assert header[:2] == ["廠商訂單編號", "交易編號"] and "持卡人姓名" in header
    lines = [dict(zip(header, r, strict=True)) for r in data[1:]]
    assert [line["廠商訂單編號"] for line in lines] == ["PAY-1", "PAY-2"]
    assert (lines[1]["信用卡卡號"], lines[1]["授權碼"], lines[1]["訂單金額"]) == ("552211******0001", "123456", 1200)


def test_the_empty_state_and_the_three_month_rule(client, rows):
    login(client, "unissued01")
    html = text(client.get("/installments/unissued?start=2026-10-01&end=2026-10-31"))
    assert listed(html) == [] and "消費者完成信用卡付款、但尚未發行的訂單會顯示在這裡" in html
    response = client.get("/installments/unissued?start=2026-06-01&end=2026-11-21")
    assert response.status_code == 422 and "查詢區間不可超過三個月" in text(response)


def test_the_right_and_another_stores_order(client, rows):
    login(client, "unissuedsub")
    assert listed(text(client.get("/installments/unissued"))) == ["PAY-1", "PAY-2"]
    client.post("/logout")
    login(client, "unissuednone")
    assert client.get("/installments/unissued").status_code == 403
    assert client.get(f"/installments/unissued/{rows['u1'].id}").status_code == 403
    client.post("/logout")
    login(client, "unissued02")
    assert client.get(f"/installments/unissued/{rows['u1'].id}").status_code == 404
    assert listed(text(client.get("/installments/unissued?merchant_order_no=PAY-1"))) == ["PAY-1"]
    response = client.get("/installments/unissued?format=xlsx")
    data = list(load_workbook(io.BytesIO(response.data), read_only=True).active.iter_rows(values_only=True))
    assert [r[0] for r in data[1:]] == ["PAY-1"] and data[1][2] == 500
