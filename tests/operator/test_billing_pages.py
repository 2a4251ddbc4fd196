"""The operator's bills and payments (帳單與繳費): the cross-store list, its filters and Excel, a
store's billing page recording payments (statuses flip, partial ones reduce what is due) and
adjustments (carried on the next bill); merchants are refused; bad input changes nothing."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.billing.services import record_charge
from app.bills import services as bill_services
from app.bills.models import Bill, BillAdjustment, BillLine, Payment
from app.bills.monthly import bill_month
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Store
from tests.factories import login, make_account, make_store
from tests.operator.helpers import operator_logged_in

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def _freeze(y: int, m: int, d: int) -> None:
    clock.freeze(clock.taipei_datetime(y, m, d, 10, 0))


def _charge(store, kind: FeeKind, unit: int, quantity: int, day: date) -> None:  # noqa: ANN001
    if db.session.scalar(select(FeeRate.id).where(FeeRate.store_id == store.id,
                                                  FeeRate.kind == kind)) is None:
        db.session.add(FeeRate(store_id=store.id, kind=kind, effective_from=date(2026, 1, 1),
                               amount=unit))
        db.session.flush()
    record_charge(store.id, kind, quantity, day=day)


@pytest.fixture
def billed(app):
    """Two stores billed for October 2026 (甲 NT$300, 乙 NT$45) and November (甲 NT$100);
    the clock on 2026/12/02."""
    with app.app_context():
        _freeze(2026, 10, 10)
        a, b = make_store("甲商店"), make_store("乙商店")
        make_account(a, username="owner01")
        _charge(a, FeeKind.SERIAL, 3, 100, date(2026, 10, 5))
        _charge(b, FeeKind.SMS, 3, 15, date(2026, 10, 6))
        _charge(a, FeeKind.SERIAL, 3, 0, date(2026, 11, 3))
        db.session.add(FeeRate(store_id=a.id, kind=FeeKind.PAPER_PRINT,
                               effective_from=date(2026, 1, 1), amount=5))
        db.session.flush()
        record_charge(a.id, FeeKind.PAPER_PRINT, 20, day=date(2026, 11, 4))
        _freeze(2026, 12, 2)
        bill_month(OCT, {a.id, b.id})
        bill_month(NOV, {a.id})
        db.session.commit()
        ids = {"a": a.id, "b": b.id, "a_code": a.merchant_code, "b_code": b.merchant_code}
    return ids


def _op(app, client):  # noqa: ANN001, ANN202
    with app.app_context():
        operator_logged_in(client)


def _rows(html: str) -> int:
    return html.count('<td class="font-monospace text-nowrap" data-col="merchant_code"')


def test_list_shows_who_owes_what(app, client, billed):
    _op(app, client)
    html = client.get("/operator/bills").get_data(as_text=True)
    assert _rows(html) == 2
    assert "甲商店" in html and "乙商店" in html
    assert "2026/11" in html and "NT$400" in html and "NT$45" in html
    assert "未繳費" in html and "合計應繳 NT$445" in html
    assert f'/operator/stores/{billed["a"]}/billing' in html


def test_filters_month_status_code(app, client, billed):
    _op(app, client)
    with app.app_context():
        store = db.session.get(Store, billed["b"])
        bill_services.record_payment(_operator(), store, amount=45, paid_on=date(2026, 12, 1),
                                     reference="12345")
        db.session.commit()
    html = client.get("/operator/bills?month=2026-10").get_data(as_text=True)
    assert _rows(html) == 2 and "2026/10" in html and "2026/11" not in html.split("store-bills")[1]
    html = client.get("/operator/bills?month=2026-11").get_data(as_text=True)
    assert _rows(html) == 1 and "甲商店" in html
    html = client.get("/operator/bills?status=paid").get_data(as_text=True)
    assert _rows(html) == 1 and "乙商店" in html and "甲商店" not in html
    html = client.get("/operator/bills?status=unpaid").get_data(as_text=True)
    assert _rows(html) == 1 and "甲商店" in html
    html = client.get(f"/operator/bills?code={billed['b_code']}").get_data(as_text=True)
    assert _rows(html) == 1 and "乙商店" in html
    html = client.get("/operator/bills?month=2026-09").get_data(as_text=True)
    assert _rows(html) == 0 and "查無帳單資料" in html
    bad = client.get("/operator/bills?month=2026-13")
    assert bad.status_code == 422 and "帳單月份格式不正確（YYYY-MM）" in bad.get_data(as_text=True)


def _operator():  # noqa: ANN202
    from app.auth.models import Account, AccountKind

    return db.session.scalar(select(Account).where(Account.kind == AccountKind.OPERATOR))


def test_excel_of_the_current_query(app, client, billed):
    _op(app, client)
    response = client.get("/operator/bills?month=2026-10&format=xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "202610" in response.headers["Content-Disposition"]
    rows = list(load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0] == ("商店代號", "商店名稱", "帳單月份", "帳單金額", "繳費狀態", "累計帳單金額",
                       "累計繳費金額", "應繳金額")
    assert rows[1:] == [
        (billed["a_code"], "甲商店", "2026/10", 300, "未繳費", 400, 0, 400),
        (billed["b_code"], "乙商店", "2026/10", 45, "未繳費", 45, 0, 45),
    ]
    only_b = client.get(f"/operator/bills?code={billed['b_code']}&format=xlsx")
    assert len(list(load_workbook(BytesIO(only_b.data)).active.iter_rows())) == 2


def _billing(client, store_id: int) -> str:  # noqa: ANN001
    response = client.get(f"/operator/stores/{store_id}/billing")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _statuses(html: str) -> list[str]:
    """The bills' statuses, newest first."""
    part = html.split('data-testid="bills"')[1]
    return [chunk.split("</span>")[0].rsplit(">", 1)[1]
            for chunk in part.split('data-col="status"')[1:]]


def test_store_page_and_payments_settle_the_oldest_bill_first(app, client, billed):
    _op(app, client)
    store_id = billed["a"]
    html = _billing(client, store_id)
    assert _statuses(html) == ["未繳費", "未繳費"]  # November NT$100, October NT$300
    assert "序號處理費" in html and "票券-紙本票券印製費" in html and "NT$400" in html

    partial = client.post(f"/operator/stores/{store_id}/billing/payments", data={
        "payment-amount": "250", "payment-paid_on": "2026-12-01", "payment-reference": "00123",
        "payment-note": "部分繳費"})
    assert partial.status_code == 303
    assert partial.headers["Location"].endswith(f"/operator/stores/{store_id}/billing#payments")
    html = _billing(client, store_id)
    assert _statuses(html) == ["未繳費", "未繳費"]
    assert 'data-testid="due">NT$150' in html and "00123" in html and "部分繳費" in html

    client.post(f"/operator/stores/{store_id}/billing/payments", data={
        "payment-amount": "50", "payment-paid_on": "2026-12-02"})
    html = _billing(client, store_id)
    assert _statuses(html) == ["未繳費", "已繳費"]  # October covered, November not yet
    assert 'data-testid="due">NT$100' in html

    client.post(f"/operator/stores/{store_id}/billing/payments", data={
        "payment-amount": "100", "payment-paid_on": "2026-12-02"})
    html = _billing(client, store_id)
    assert _statuses(html) == ["已繳費", "已繳費"]
    assert 'data-testid="due">NT$0' in html
    with app.app_context():
        assert bill_services.standing_of(store_id).due == 0
        assert db.session.scalar(select(func.count(HistoryEntry.id)).where(
            HistoryEntry.action == "payment_recorded", HistoryEntry.store_id == store_id)) == 3
    listing = client.get("/operator/bills?status=paid").get_data(as_text=True)
    assert "甲商店" in listing


def test_adjustment_is_carried_on_the_next_bill(app, client, billed):
    _op(app, client)
    store_id = billed["a"]
    response = client.post(f"/operator/stores/{store_id}/billing/adjustments", data={
        "adjustment-amount": "-30", "adjustment-reason": "十月簡訊重複計費"})
    assert response.status_code == 303
    html = _billing(client, store_id)
    assert "十月簡訊重複計費" in html and "待列入下期帳單" in html and "-NT$30" in html
    with app.app_context():
        _freeze(2027, 1, 1)
        [bill_id] = bill_month(date(2026, 12, 1), {store_id})
        db.session.commit()
        bill = db.session.get(Bill, bill_id)
        assert bill.amount == -30
        [line] = db.session.scalars(select(BillLine).where(BillLine.bill_id == bill_id)).all()
        assert (line.kind, line.amount, line.label) == (None, -30, "調整：十月簡訊重複計費")
        adj = db.session.scalar(select(BillAdjustment))
        assert adj.bill_id == bill_id
    html = _billing(client, store_id)
    assert "2026/12 帳單" in html and "調整：十月簡訊重複計費" in html
    assert 'data-testid="due">NT$370' in html


@pytest.mark.parametrize(("path", "data", "message"), [
    ("payments", {"payment-amount": "0", "payment-paid_on": "2026-12-01"}, "繳費金額須大於 0"),
    ("payments", {"payment-amount": "-5", "payment-paid_on": "2026-12-01"}, "繳費金額須大於 0"),
    ("payments", {"payment-amount": "abc", "payment-paid_on": "2026-12-01"}, "請輸入整數"),
    ("payments", {"payment-amount": "1.5", "payment-paid_on": "2026-12-01"}, "請輸入整數"),
    ("payments", {"payment-amount": "", "payment-paid_on": "2026-12-01"}, "請輸入繳費金額"),
    ("payments", {"payment-amount": "10", "payment-paid_on": "2026-12-03"}, "繳費日期不可晚於今天"),
    ("payments", {"payment-amount": "10", "payment-paid_on": "12/01"},
     "日期格式不正確（YYYY-MM-DD）"),
    ("adjustments", {"adjustment-amount": "0", "adjustment-reason": "x"}, "調整金額不可為 0"),
    ("adjustments", {"adjustment-amount": "10", "adjustment-reason": " "}, "請輸入調整原因"),
    ("adjustments", {"adjustment-amount": "ten", "adjustment-reason": "x"}, "請輸入整數"),
    ("adjustments", {"adjustment-amount": "10", "adjustment-reason": "長" * 201},
     "調整原因至多 200 字"),
])
def test_bad_input_is_refused_and_changes_nothing(app, client, billed, path, data, message):
    _op(app, client)
    response = client.post(f"/operator/stores/{billed['a']}/billing/{path}", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 0
        assert db.session.scalar(select(func.count(BillAdjustment.id))) == 0


def test_unknown_store_is_404(app, client, billed):
    _op(app, client)
    assert client.get("/operator/stores/999999/billing").status_code == 404
    assert client.post("/operator/stores/999999/billing/payments", data={
        "payment-amount": "10", "payment-paid_on": "2026-12-01"}).status_code == 404


def test_merchants_are_refused(app, client, billed):
    login(client, "owner01")
    for url in ("/operator/bills", "/operator/bills?format=xlsx",
                f"/operator/stores/{billed['a']}/billing"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/operator/stores/{billed['a']}/billing/payments", data={
        "payment-amount": "400", "payment-paid_on": "2026-12-01"}).status_code == 403
    assert client.post(f"/operator/stores/{billed['a']}/billing/adjustments", data={
        "adjustment-amount": "-400", "adjustment-reason": "x"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 0
        assert db.session.scalar(select(func.count(BillAdjustment.id))) == 0


def test_menu_entry(app, client, billed):
    _op(app, client)
    html = client.get("/operator/stores").get_data(as_text=True)
    assert "帳單與繳費" in html and 'href="/operator/bills"' in html
