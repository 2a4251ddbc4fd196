"""六 帳單報表, the merchant's pages: 6-1 應繳費用, 6-2 帳單報表 and a bill's detail (month selector,
items by redemption mode, the rows behind each item, Excel), 6-3 退貨作業費報表 and the 撥款對帳報表;
rights, a parent store's read-only view of its children, and another store's bills (404)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from app import clock
from app.auth.permissions import Function, Level
from app.billing.models import Charge, FeeKind, FeeRate
from app.billing.services import record_charge
from app.bills.models import Bill, BillAdjustment, BillLine, Payment, ReturnFeeLine
from app.bills.monthly import bill_month
from app.db import db
from app.escrow.models import LedgerEntry, LedgerKind
from app.issuance.models import Batch
from app.notifications.models import Channel, Message, MessageStatus
from app.stores.models import RedemptionMode
from tests.factories import (
    login,
    make_account,
    make_installment_order,
    make_order,
    make_product,
    make_store,
    make_sub,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=clock.TAIPEI)


def _html(response) -> str:
    return response.get_data(as_text=True)


def _rows(response) -> list[list]:
    assert response.status_code == 200 and response.mimetype == XLSX
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    return rows


def _testids(html: str, testid: str, attr: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*?{attr}="([^"]*)"', html)


def _bill(store, month: date, amount: int, lines: list[dict] | None = None) -> Bill:
    from app.bills.rules import bill_day

    bill = Bill(store_id=store.id, month=month, bill_day=bill_day(month), amount=amount)
    db.session.add(bill)
    db.session.flush()
    for line in lines or [{"kind": FeeKind.SERIAL, "quantity": amount, "unit_amount": 1,
                           "amount": amount, "label": FeeKind.SERIAL.label}]:
        db.session.add(BillLine(bill_id=bill.id, **line))
    db.session.flush()
    return bill


def _rate(store, kind: FeeKind, day: date, amount: int = 0, percent_bp: int | None = None) -> FeeRate:
    rate = FeeRate(store_id=store.id, kind=kind, effective_from=day, amount=amount,
                   percent_bp=percent_bp)
    db.session.add(rate)
    db.session.flush()
    return rate


def _returned(store, day: date, ticket, fee_e4: int, rate: FeeRate | None, total: int) -> ReturnFeeLine:
    charge = Charge(store_id=store.id, kind=FeeKind.RETURN, day=day, quantity=1, unit_amount=0,
                    amount=total, reference=f"return:{day}", rate_id=rate.id if rate else None)
    db.session.add(charge)
    db.session.flush()
    line = ReturnFeeLine(store_id=store.id, charge_id=charge.id, day=day, ticket_id=ticket.id,
                         base_amount=ticket.face_value, rate_id=rate.id if rate else None, fee_e4=fee_e4)
    db.session.add(line)
    db.session.flush()
    return line


@pytest.fixture
def shop(ctx):
    store = make_store("帳單商店")
    make_account(store, username="billing01")
    db.session.commit()
    return store


@pytest.fixture
def september(shop):
    """September 2026 of a store in 使用後核銷: serials at two rates (the rate changed on the
    15th), a platform print, two billable SMS and a percentage return fee; billed on 10/1."""
    store = shop
    clock.freeze(at(2026, 9, 10))
    _rate(store, FeeKind.SERIAL, date(2026, 1, 1), amount=1)
    _rate(store, FeeKind.SERIAL, date(2026, 9, 15), amount=2)
    _rate(store, FeeKind.PAPER_PRINT, date(2026, 1, 1), amount=3)
    _rate(store, FeeKind.SMS, date(2026, 1, 1), amount=1)
    return_rate = _rate(store, FeeKind.RETURN, date(2026, 1, 1), percent_bp=150)  # 1.5%
    order = make_order(store, product=make_product(store, face_value=333), quantity=3)
    record_charge(store.id, FeeKind.SERIAL, 3, day=date(2026, 9, 10), reference=f"batch:{order.batch_id}")
    record_charge(store.id, FeeKind.SERIAL, 4, day=date(2026, 9, 20), reference=f"batch:{order.batch_id}")
    record_charge(store.id, FeeKind.PAPER_PRINT, 2, day=date(2026, 9, 11), reference="print_run:77")
    for hour in (9, 10):
        db.session.add(Message(store_id=store.id, channel=Channel.SMS, kind="issuance_notice",
                               to_address="0912345678", body="票券通知", order_id=order.id,
                               status=MessageStatus.SENT, billable=True, sent_at=at(2026, 9, 12, hour)))
    db.session.add(Message(store_id=store.id, channel=Channel.SMS, kind="issuance_notice",
                           to_address="0900000000", body="失敗", status=MessageStatus.FAILED,
                           billable=False, sent_at=at(2026, 9, 12, 11)))
    record_charge(store.id, FeeKind.SMS, 2, day=date(2026, 9, 12), reference="sms:2026-09-12")
    ticket = order.tickets[0]
    _returned(store, date(2026, 9, 13), ticket, 333 * 150, return_rate, 5)  # 4.995 → 5
    clock.freeze(at(2026, 10, 1, 4))
    bill_month(date(2026, 9, 1), {store.id})
    db.session.commit()
    return store, order, ticket


# 6-1 應繳費用 -----------------------------------------------------------------------------------

def test_amount_due_before_the_first_bill_says_so(shop, client):
    login(client, "billing01")
    html = _html(client.get("/billing/"))
    assert 'data-testid="no-bill"' in html and 'data-testid="remittance"' not in html


def test_amount_due_adds_earlier_unpaid_bills_and_shows_the_remittance_account(shop, client, app):
    _bill(shop, date(2026, 8, 1), 120)
    latest = _bill(shop, date(2026, 9, 1), 80)
    db.session.commit()
    login(client, "billing01")
    html = _html(client.get("/billing/"))
    assert 'data-testid="status-unpaid"' in html
    assert re.search(r'data-col="bill_day">2026/10/01<', html)
    assert re.search(r'data-col="earlier">NT\$120<', html)
    assert 'data-testid="due-amount">NT$200<' in html
    assert "/billing/bills/2026-09" in html and f"{latest.amount}" in html
    account = app.config["BILLING_REMITTANCE_ACCOUNT"]
    assert account["number"] in html and account["bank"] in html

    db.session.add(Payment(store_id=shop.id, amount=150, paid_on=date(2026, 10, 2)))  # partial
    db.session.commit()
    html = _html(client.get("/billing/"))
    assert 'data-testid="due-amount">NT$50<' in html and 'data-testid="status-unpaid"' in html

    db.session.add(Payment(store_id=shop.id, amount=50, paid_on=date(2026, 10, 3)))
    db.session.commit()
    html = _html(client.get("/billing/"))
    assert 'data-testid="status-paid"' in html and 'data-testid="remittance"' not in html
    assert 'data-testid="due-amount">NT$0<' in html


def test_remittance_account_comes_from_the_environment(monkeypatch):
    from app.config import from_environment

    monkeypatch.setenv("ECTIX_REMITTANCE_NUMBER", "123-456")
    assert from_environment()["BILLING_REMITTANCE_ACCOUNT"]["number"] == "123-456"


# 6-2 帳單報表 -----------------------------------------------------------------------------------

def test_an_empty_query_lists_every_month_without_a_three_month_limit(shop, client):
    for month, amount in ((1, 10), (2, 20), (3, 30), (4, 40), (5, 50), (6, 60)):
        _bill(shop, date(2026, month, 1), amount)
    db.session.add(Payment(store_id=shop.id, amount=30, paid_on=date(2026, 3, 5)))
    db.session.commit()
    login(client, "billing01")
    html = _html(client.get("/billing/bills"))
    months = _testids(html, "bill-row", "data-month")
    assert months == ["2026-06", "2026-05", "2026-04", "2026-03", "2026-02", "2026-01"]
    statuses = dict(zip(months, _testids(html, "bill-row", "data-status"), strict=True))
    assert statuses["2026-02"] == "paid" and statuses["2026-03"] == "unpaid"

    html = _html(client.get("/billing/bills?start=2026-02&end=2026-04"))
    assert _testids(html, "bill-row", "data-month") == ["2026-04", "2026-03", "2026-02"]

    rows = _rows(client.get("/billing/bills?format=xlsx"))
    assert rows[0] == ["帳單月份", "出帳日", "帳單金額", "累計應繳費用", "繳費狀態"]
    # 累計應繳費用: every bill so far minus the payments made before its bill day (3/5 paid 30)
    assert [r[0] for r in rows[1:]] == ["2026-06", "2026-05", "2026-04", "2026-03", "2026-02", "2026-01"]
    by_month = {r[0]: r for r in rows[1:]}
    assert by_month["2026-01"][1:] == [datetime(2026, 2, 1), 10, 10, "已繳費"]
    assert by_month["2026-03"][3:] == [30, "未繳費"]  # 60 billed by 4/1, 30 paid on 3/5
    assert by_month["2026-04"][3] == 70
    assert by_month["2026-06"][3] == 180


def test_a_bad_month_range_is_refused(shop, client):
    login(client, "billing01")
    response = client.get("/billing/bills?start=2026-05&end=2026-02")
    assert response.status_code == 422 and "起始月份不可晚於結束月份" in _html(response)
    assert client.get("/billing/bills?start=nope").status_code == 422


def test_no_bills_yet_is_an_empty_list(shop, client):
    login(client, "billing01")
    html = _html(client.get("/billing/bills"))
    assert "尚無帳單" in html
    assert _rows(client.get("/billing/bills?format=xlsx"))[1:] == []


def test_the_bill_detail_shows_the_items_of_the_mode_and_the_rows_behind_them(september, client):
    store, order, ticket = september
    login(client, "billing01")
    html = _html(client.get("/billing/bills/2026-09"))
    assert 'data-testid="bill-amount">NT$' in html
    kinds = _testids(html, "bill-line", "data-kind")
    # 使用後核銷: 退貨作業費, 簡訊, 紙本印製, 序號 (serial twice: the rate changed on the 15th)
    assert kinds == ["return", "sms", "paper_print", "serial", "serial"]
    bill = db.session.query(Bill).filter_by(store_id=store.id).one()
    assert bill.amount == 5 + 2 + 6 + 3 * 1 + 4 * 2
    assert f'data-testid="bill-total">NT${bill.amount}<' in html
    # the rows behind: the returned ticket (exact fee), the batch, the print run, the SMS
    assert ticket.serial in html and "4.995" in html and "1.5%" in html
    assert db.session.get(Batch, order.batch_id).import_no in html and f"/issuance/batches/{order.batch_id}" in html
    assert "/printing/runs/77" in html
    assert html.count('data-testid="behind-row"') == 1 + 1 + 2 + 2  # return, print, 2 serial, 2 SMS
    assert 'data-testid="sms-log-link"' in html and "0900000000" not in html

    rows = _rows(client.get("/billing/bills/2026-09?format=xlsx"))
    assert rows[0] == ["費用項目", "計費期間", "天數", "數量", "費率", "金額", "說明"]
    serial = [r for r in rows[1:] if r[0] == "序號處理費"]
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in serial] == [
        ("2026/09/10–2026/09/10", 1, 3, "NT$1", 3), ("2026/09/20–2026/09/20", 1, 4, "NT$2", 8)]
    assert [r[0] for r in rows[1:]] == ["退貨作業費", "票券-簡訊服務費", "票券-紙本票券印製費",
                                        "序號處理費", "序號處理費"]


def test_items_without_lines_show_zero_and_adjustments_show_their_reason(shop, client):
    clock.freeze(at(2026, 10, 15))
    db.session.add(BillAdjustment(store_id=shop.id, amount=-30, reason="九月簡訊重複計費"))
    record_charge(shop.id, FeeKind.SERIAL, 5, day=date(2026, 10, 3))
    db.session.commit()
    clock.freeze(at(2026, 11, 1, 4))
    bill_month(date(2026, 10, 1), {shop.id})
    db.session.commit()
    login(client, "billing01")
    html = _html(client.get("/billing/bills/2026-10"))
    # no return, SMS or print this month: 0 each; the serials were charged at no rate (0)
    assert _testids(html, "bill-line", "data-empty") == ["1", "1", "1"]
    assert _testids(html, "bill-line", "data-kind") == ["return", "sms", "paper_print", "serial"]
    assert 'data-testid="adjustment-line"' in html and "九月簡訊重複計費" in html
    rows = _rows(client.get("/billing/bills/2026-10?format=xlsx"))
    assert [r[0] for r in rows[1:]] == ["退貨作業費", "票券-簡訊服務費", "票券-紙本票券印製費",
                                        "序號處理費", "調整"]
    assert [r[5] for r in rows[1:4]] == [0, 0, 0] and rows[4][3:6] == [5, "NT$0", 0]
    assert rows[-1][5] == -30 and "九月簡訊重複計費" in rows[-1][6]


def test_an_installment_store_bill_has_return_and_serial_items(ctx, client):
    store = make_store("分期商店", mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="instbill1")
    _bill(store, date(2026, 9, 1), 12)
    db.session.commit()
    login(client, "instbill1")
    html = _html(client.get("/billing/bills/2026-09"))
    assert _testids(html, "bill-line", "data-kind") == ["return", "serial"]
    assert "使用後核銷" not in html.split('data-testid="bill-summary"')[1].split("</dl>")[0]


def test_the_month_selector_lists_the_billed_months_and_opens_one(shop, client):
    for month in (7, 8, 9):
        _bill(shop, date(2026, month, 1), month)
    db.session.commit()
    login(client, "billing01")
    html = _html(client.get("/billing/bills/2026-08"))
    options = re.findall(r'<option value="(\d{4}-\d{2})"( selected)?', html)
    assert options == [("2026-09", ""), ("2026-08", " selected"), ("2026-07", "")]
    response = client.get("/billing/bills/go?month=2026-07")
    assert response.status_code == 303 and response.headers["Location"].endswith("/billing/bills/2026-07")
    assert client.get("/billing/bills/go?month=2026-01").status_code == 404
    assert client.get("/billing/bills/2026-01").status_code == 404
    assert client.get("/billing/bills/2026-13").status_code == 404
    assert client.get("/billing/bills/nonsense").status_code == 404


# 6-3 退貨作業費報表 -------------------------------------------------------------------------------

def test_return_fee_report_lists_each_ticket_with_its_exact_fee_and_the_day_total(september, client):
    store, order, ticket = september
    clock.freeze(at(2026, 10, 5))
    login(client, "billing01")
    html = _html(client.get("/billing/return-fees?start=2026-09-01&end=2026-09-30"))
    assert html.count('data-testid="return-fee-row"') == 1
    assert f"/tickets/{ticket.serial}" in html and "4.995" in html and "1.5%" in html
    assert 'data-testid="return-fee-totals"' in html and "NT$5" in html
    rows = _rows(client.get("/billing/return-fees?start=2026-09-01&end=2026-09-30&format=xlsx"))
    assert rows[0] == ["退貨日期", "票券序號", "票券面額", "費率", "退貨作業費（未四捨五入）",
                       "當日退貨作業費（四捨五入）"]
    assert rows[1][1:] == [ticket.serial, 333, "1.5%", "4.995", 5]
    assert rows[1][4] == "4.995"  # exact, as text: never a float
    # the default period (the last 30 days) holds nothing; more than three months is refused
    assert 'data-testid="return-fee-row"' not in _html(client.get("/billing/return-fees?start=2026-09-20"))
    response = client.get("/billing/return-fees?start=2026-01-01&end=2026-09-30")
    assert response.status_code == 422 and "三個月" in _html(response)


def test_installment_return_fees_are_listed_per_order(ctx, client):
    store = make_store("分期退貨", mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="instfee01")
    clock.freeze(at(2026, 9, 10))
    order = make_installment_order(store, 3000, merchant_order_no="INSTRET1")
    rate = _rate(store, FeeKind.RETURN, date(2026, 1, 1), amount=20)
    charge = Charge(store_id=store.id, kind=FeeKind.RETURN, day=date(2026, 9, 10), quantity=1,
                    unit_amount=20, amount=20, rate_id=rate.id)
    db.session.add(charge)
    db.session.flush()
    db.session.add(ReturnFeeLine(store_id=store.id, charge_id=charge.id, day=date(2026, 9, 10),
                                 installment_order_id=order.id, base_amount=2000, rate_id=rate.id,
                                 fee_e4=20 * 10_000))
    db.session.commit()
    login(client, "instfee01")
    html = _html(client.get("/billing/return-fees"))
    assert "廠商訂單編號" in html and "/installments/reports?merchant_order_no=INSTRET1" in html
    rows = _rows(client.get("/billing/return-fees?format=xlsx"))
    assert rows[0][1:3] == ["廠商訂單編號", "訂單已退貨金額"]
    assert rows[1][1:] == ["INSTRET1", 2000, "NT$20", "20.00", 20]


# 撥款對帳報表 ------------------------------------------------------------------------------------

def test_payout_report_sums_the_ledger_per_day(shop, client):
    clock.freeze(at(2026, 9, 30))
    order = make_order(shop, product=make_product(shop, face_value=500), quantity=3)
    t1, t2, t3 = order.tickets
    entries = [(t1, LedgerKind.DEPOSIT, 500, 1), (t1, LedgerKind.RELEASE, 500, 3),
               (t2, LedgerKind.REFUND, 450, 3), (t2, LedgerKind.HANDLING_FEE, 50, 3),
               (t3, LedgerKind.ESCROW_EXPIRED, 500, 4)]
    for ticket, kind, amount, day in entries:
        db.session.add(LedgerEntry(ticket_id=ticket.id, store_id=shop.id, kind=kind, amount=amount,
                                   day=date(2026, 9, day)))
    other = make_store()
    db.session.add(LedgerEntry(ticket_id=make_order(other).tickets[0].id, store_id=other.id,
                               kind=LedgerKind.RELEASE, amount=999, day=date(2026, 9, 3)))
    db.session.commit()
    login(client, "billing01")
    html = _html(client.get("/billing/payouts?start=2026-09-01&end=2026-09-30"))
    assert _testids(html, "payout-day", "data-day") == ["2026-09-04", "2026-09-03"]
    assert 'data-testid="to-merchant-total">NT$1,050<' in html
    assert html.count('data-testid="payout-row"') == 4  # deposits are not the merchant's money
    assert "999" not in html
    rows = _rows(client.get("/billing/payouts?start=2026-09-01&end=2026-09-30&format=xlsx"))
    assert rows[0] == ["日期", "類別", "序號", "訂單", "項目", "撥付廠商", "退款消費者", "撥款入帳"]
    assert [(r[2], r[4], r[5], r[6]) for r in rows[1:]] == [
        (t1.serial, "核銷撥付", 500, None), (t2.serial, "退款", None, 450),
        (t2.serial, "退貨手續費", 50, None), (t3.serial, "價金保管逾期", 500, None)]
    days = _rows(client.get("/billing/payouts?start=2026-09-01&end=2026-09-30&format=xlsx&sheet=days"))
    assert days[0] == ["日期", "核銷撥付", "價金保管逾期", "退貨手續費", "撥付廠商合計", "退款消費者", "撥款入帳"]
    assert [r[1:] for r in days[1:]] == [[0, 500, 0, 500, 0, 0], [500, 0, 50, 550, 450, 0]]
    response = client.get("/billing/payouts?start=2026-01-01&end=2026-09-30")
    assert response.status_code == 422


def test_payout_report_of_one_installment_order(ctx, client):
    store = make_store("分期撥款", mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="instpay01")
    clock.freeze(at(2026, 9, 20))
    order = make_installment_order(store, 3000, merchant_order_no="PAYOUT1")
    other = make_installment_order(store, 900, merchant_order_no="PAYOUT2")
    for period in (order.periods[0], other.periods[0]):
        db.session.add(LedgerEntry(period_id=period.id, store_id=store.id, kind=LedgerKind.RELEASE,
                                   amount=period.face_value, day=date(2026, 9, 15)))
    db.session.commit()
    login(client, "instpay01")
    html = _html(client.get("/billing/payouts?merchant_order_no=PAYOUT1&start=2026-09-01"))
    assert html.count('data-testid="payout-row"') == 1 and "PAYOUT1 第1期" in html


def test_the_menu_lists_the_payout_report(shop, client):
    login(client, "billing01")
    html = _html(client.get("/billing/"))
    for path in ("/billing/bills", "/billing/return-fees", "/billing/payouts"):
        assert f'href="{path}"' in html


# Rights and tenancy ------------------------------------------------------------------------------

def test_a_sub_account_needs_the_billing_function(shop, client):
    make_sub(shop, "nobill01", grants={Function.PRODUCTS: Level.VIEW})
    make_sub(shop, "yesbill1", grants={Function.BILLING: Level.VIEW})
    _bill(shop, date(2026, 9, 1), 10)
    db.session.commit()
    login(client, "nobill01")
    for path in ("/billing/", "/billing/bills", "/billing/bills/2026-09", "/billing/return-fees",
                 "/billing/payouts", "/billing/bills/2026-09?format=xlsx"):
        assert client.get(path).status_code == 403, path
    client.post("/logout")
    login(client, "yesbill1")
    assert client.get("/billing/bills/2026-09").status_code == 200


def test_another_stores_bills_are_not_shown(shop, client):
    stranger = make_store()
    make_account(stranger, username="stranger2")
    _bill(shop, date(2026, 9, 1), 10)
    db.session.add(Payment(store_id=shop.id, amount=10, paid_on=date(2026, 10, 2)))
    db.session.commit()
    login(client, "stranger2")
    assert client.get("/billing/bills/2026-09").status_code == 404
    assert client.get(f"/billing/bills/2026-09?store={shop.id}").status_code == 404
    assert client.get(f"/billing/?store={shop.id}").status_code == 404
    assert client.get(f"/billing/payouts?store={shop.id}").status_code == 404
    assert 'data-testid="bill-row"' not in _html(client.get("/billing/bills"))
    assert 'data-testid="no-bill"' in _html(client.get("/billing/"))


def test_a_parent_store_reads_its_childs_bills_read_only(ctx, client):
    parent = make_store("母商店")
    make_account(parent, username="parent02")
    child = make_store("子商店", parent=parent)
    make_account(child, username="child002")
    _bill(child, date(2026, 9, 1), 77)
    _bill(parent, date(2026, 8, 1), 5)
    db.session.commit()
    login(client, "parent02")
    html = _html(client.get("/billing/"))
    assert 'data-testid="store-picker"' in html and child.name in html
    html = _html(client.get(f"/billing/?store={child.id}"))
    assert 'data-testid="due-amount">NT$77<' in html and 'data-testid="parent-readonly"' in html
    assert f"/billing/bills/2026-09?store={child.id}" in html
    html = _html(client.get(f"/billing/bills?store={child.id}"))
    assert _testids(html, "bill-row", "data-month") == ["2026-09"]
    html = _html(client.get(f"/billing/bills/2026-09?store={child.id}"))
    assert 'data-testid="parent-readonly"' in html and 'data-testid="bill-amount">NT$77<' in html
    assert client.get("/billing/bills/2026-09").status_code == 404  # the parent's own: none
    rows = _rows(client.get(f"/billing/bills?store={child.id}&format=xlsx"))
    assert [r[0] for r in rows[1:]] == ["2026-09"]

    client.post("/logout")
    login(client, "child002")
    assert client.get(f"/billing/bills/2026-08?store={parent.id}").status_code == 404
    assert 'data-testid="store-picker"' not in _html(client.get("/billing/"))
