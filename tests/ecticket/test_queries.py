"""The ECTicket read-only calls through the spec-only client: QueryOrderInfo (totals in one
aggregate, pages of 100 tickets), QueryRefundInfo, BatchQueryItemInfo, QueryPrintData (records
the print like the merchant's page), EscrowDay and OrderDetail (the CSV itself, one a minute).
Another store's order number is 3003 for every order call."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.ecpay import keys
from app.ecticket import catalog
from app.ecticket.ticket_info import ticket_item
from app.history import HistoryEntry
from app.printing.models import PrintedTicket, PrintKind, PrintRun
from app.products.models import ProductKind
from app.settings.models import StoreSettings
from app.stores.models import DeliveryMethod
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus
from app.unissued.models import TicketOrderState
from tests.ecticket.client import Client, flask_poster
from tests.factories import make_order, make_product, make_store, make_ticket_order

PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
OTHER = keys.Pair("b15bd8514fed472c", "9c8458263def47cd")
NOW = clock.taipei_datetime(2026, 11, 21, 10, 30, 15)


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    with clock.frozen(NOW):
        store = make_store("咖啡商店")
        keys.install_pair(store.id, PAIR)
        db.session.commit()
        yield store


def _client(client, store, pair: keys.Pair = PAIR) -> Client:  # noqa: ANN001
    return Client(store.merchant_code, pair.hash_key, pair.hash_iv, flask_poster(client),
                  clock=lambda: clock.now().timestamp())


def _tickets(order: Order) -> list[Ticket]:
    return list(db.session.scalars(select(Ticket).where(Ticket.order_id == order.id)
                                   .order_by(Ticket.id)))


def _redeem(ticket: Ticket) -> None:
    ticket.status, ticket.redeemed_at = TicketStatus.USED, clock.now()


def _return(ticket: Ticket, fee: int) -> None:
    ticket.status, ticket.returned_at, ticket.return_fee = TicketStatus.RETURNED, clock.now(), fee


# QueryOrderInfo --------------------------------------------------------------------------------

def test_order_info_answers_the_order_its_totals_and_its_tickets(shop, client) -> None:  # noqa: ANN001
    product = make_product(shop, "咖啡兌換券", face_value=150)
    order = make_order(shop, product=product, method=DeliveryMethod.MERCHANT_PRINT, quantity=4)
    one, two, *_ = _tickets(order)
    _redeem(one)
    _return(two, 30)
    db.session.commit()
    answer = _client(client, shop).call("QueryOrderInfo", {"MerchantTradeNo": order.merchant_order_no})
    tickets = answer.pop("TicketList")
    assert answer == {
        "RtnCode": 1, "RtnMsg": "Success", "MerchantID": shop.merchant_code,
        "MerchantTradeNo": order.merchant_order_no, "TicketTradeNo": order.order_no,
        "PaymentProvider": "2", "PaymentType": "", "CreditTradeID": 0, "Status": 1, "Remark": "",
        "IssueDate": "2026/11/21 10:30:15", "IssueType": "2", "PrintType": "2",
        "CustomerName": "王小明", "CustomerPhone": "0912345678", "CustomerEmail": "old@example.com",
        "EscrowExpiredDate": f"{product.escrow_end:%Y%m%d}", "TotalCount": 4, "TradeAmount": 600,
        "RedeemCount": 1, "RedeemAmount": 150, "RefundCount": 1, "RefundAmount": 120,
        "TotalRefundFee": 30, "UnUsedCount": 2, "UnUsedAmount": 300, "ExpiredCount": 0,
        "PageNum": 1}
    assert [t["UseStatus"] for t in tickets] == [2, 3, 1, 1]
    assert tickets[0] == {
        "TicketNo": one.serial, "UseStatus": 2, "ItemNo": str(product.id), "ItemName": "咖啡兌換券",
        "TicketType": "1", "TicketAmount": 150, "StartDate": "20261121", "WriteOffDate": "20261121",
        "RefundDate": "", "ExpiredDate": f"{product.escrow_end:%Y%m%d}", "WriteOffNo": one.code}
    assert tickets[1]["RefundDate"] == "20261121" and tickets[1]["WriteOffDate"] == ""


def test_a_gift_order_is_named_by_free_trade_no_and_counts_expiry_as_of_today(shop, client) -> None:  # noqa: ANN001
    gift = make_product(shop, "贈品", kind=ProductKind.GIFT, face_value=100,
                        end=NOW.date() + timedelta(days=3))
    order = make_order(shop, product=gift, method=DeliveryMethod.IMMEDIATE, quantity=2)
    db.session.commit()
    api = _client(client, shop)
    named = api.call("QueryOrderInfo", {"FreeTradeNo": order.merchant_order_no})
    assert (named["RtnCode"], named["FreeTradeNo"], named["EscrowExpiredDate"]) == (
        1, order.merchant_order_no, "")
    assert (named["IssueType"], named["PrintType"], named["UnUsedCount"]) == ("3", "", 2)
    assert "MerchantTradeNo" not in named
    wrong_kind = api.call("QueryOrderInfo", {"MerchantTradeNo": order.merchant_order_no})
    assert (wrong_kind["RtnCode"], wrong_kind["RtnMsg"]) == (
        3003, f"Order not found: {order.merchant_order_no}")
    with clock.frozen(NOW + timedelta(days=4)):  # past the validity end: expired before the job
        later = api.call("QueryOrderInfo", {"FreeTradeNo": order.merchant_order_no})
    assert (later["ExpiredCount"], later["UnUsedCount"]) == (2, 0)
    assert [t["UseStatus"] for t in later["TicketList"]] == [4, 4]


def test_order_info_pages_hold_100_tickets(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop, quantity=101)
    db.session.commit()
    api = _client(client, shop)
    number = {"MerchantTradeNo": order.merchant_order_no}
    first, second = api.call("QueryOrderInfo", number), api.call("QueryOrderInfo", number | {"PageNum": "2"})
    past = api.call("QueryOrderInfo", number | {"PageNum": 3})
    serials = [t.serial for t in _tickets(order)]
    assert [t["TicketNo"] for t in first["TicketList"]] == serials[:100]
    assert [t["TicketNo"] for t in second["TicketList"]] == serials[100:]
    assert (past["RtnCode"], past["TicketList"], past["TotalCount"]) == (1, [], 101)
    assert api.call("QueryOrderInfo", number | {"PageNum": 0})["RtnCode"] == 3001


def test_order_info_reads_totals_without_a_query_per_ticket(shop, client, count_queries) -> None:  # noqa: ANN001
    order = make_order(shop, quantity=60)
    db.session.commit()
    count_queries.clear()
    answer = _client(client, shop).call("QueryOrderInfo", {"MerchantTradeNo": order.merchant_order_no})
    assert answer["TotalCount"] == 60 and len(answer["TicketList"]) == 60
    assert len(count_queries) < 15


def test_order_numbers_are_checked(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop)
    db.session.commit()
    api = _client(client, shop)
    for data in ({}, {"MerchantTradeNo": order.merchant_order_no, "FreeTradeNo": "X1"},
                 {"MerchantTradeNo": "ORDER-2026-0001"}, {"MerchantTradeNo": "A" * 26}):
        answer = api.call("QueryOrderInfo", data)
        assert answer["RtnCode"] == 3001, data
    assert api.call("QueryOrderInfo", {"MerchantTradeNo": "NOSUCHORDER"})["RtnCode"] == 3003


def test_a_card_paid_order_names_its_payment(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop)
    paid = make_ticket_order(shop, state=TicketOrderState.ISSUED)
    paid.issued_order_id = order.id
    db.session.commit()
    answer = _client(client, shop).call("QueryOrderInfo", {"MerchantTradeNo": order.merchant_order_no})
    assert (answer["PaymentProvider"], answer["PaymentType"], answer["CreditTradeID"]) == (
        "1", "1", int(paid.transaction.auth_serial))


@pytest.mark.parametrize("call", ["QueryOrderInfo", "QueryRefundInfo", "QueryPrintData"])
def test_another_stores_order_is_not_found(shop, client, call) -> None:  # noqa: ANN001
    other = make_store()
    keys.install_pair(other.id, OTHER)
    theirs = make_order(other, method=DeliveryMethod.MERCHANT_PRINT)
    db.session.commit()
    ours = _client(client, shop).call(call, {"MerchantTradeNo": theirs.merchant_order_no})
    assert (ours["RtnCode"], ours["RtnMsg"]) == (3003, f"Order not found: {theirs.merchant_order_no}")
    assert _client(client, other, OTHER).call(call, {"MerchantTradeNo": theirs.merchant_order_no})[
        "RtnCode"] in (1, 3004)
    assert db.session.scalar(select(func.count()).select_from(PrintRun)
                             .where(PrintRun.store_id == other.id)) == (
        1 if call == "QueryPrintData" else 0)


# QueryRefundInfo -------------------------------------------------------------------------------

def test_refund_info_lists_the_returned_tickets(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop, product=make_product(shop, face_value=500), quantity=3)
    one, two, three = _tickets(order)
    _return(one, 50)
    _return(three, 0)
    _redeem(two)
    db.session.commit()
    answer = _client(client, shop).call("QueryRefundInfo", {"MerchantTradeNo": order.merchant_order_no})
    assert answer == {
        "RtnCode": 1, "RtnMsg": "Success", "MerchantTradeNo": order.merchant_order_no,
        "TicketTradeNo": order.order_no, "RefundList": [
            {"TicketNo": one.serial, "RefundAmount": 450, "RefundFee": 50,
             "RefundDate": "20261121", "UseStatus": 3},
            {"TicketNo": three.serial, "RefundAmount": 500, "RefundFee": 0,
             "RefundDate": "20261121", "UseStatus": 3}]}
    none = make_order(shop)
    db.session.commit()
    empty = _client(client, shop).call("QueryRefundInfo", {"MerchantTradeNo": none.merchant_order_no})
    assert (empty["RtnCode"], empty["RefundList"]) == (1, [])


# BatchQueryItemInfo ----------------------------------------------------------------------------

def test_batch_item_info_filters_by_status_and_pages(shop, client, monkeypatch) -> None:  # noqa: ANN001
    listed = [make_product(shop, f"商品{i}") for i in range(3)]
    delisted = make_product(shop, "下架商品", kind=ProductKind.GIFT, listed=False)
    make_product(make_store(), "別家商品")
    db.session.commit()
    api = _client(client, shop)
    everything = api.call("BatchQueryItemInfo", {})
    assert (everything["TotalCount"], everything["PageNum"]) == (4, 1)
    assert [i["ItemNo"] for i in everything["ItemList"]] == [str(p.id) for p in [*listed, delisted]]
    assert everything["ItemList"][3] == {
        "ItemNo": str(delisted.id), "ItemName": "下架商品", "TicketType": "2", "TicketPrice": 500,
        "ItemStatus": "2", "ExpireDate": f"{delisted.valid_until:%Y%m%d}"}
    only_delisted = api.call("BatchQueryItemInfo", {"ItemStatus": "2"})
    assert [i["ItemNo"] for i in only_delisted["ItemList"]] == [str(delisted.id)]
    monkeypatch.setattr(catalog, "PAGE_SIZE", 2)
    second = api.call("BatchQueryItemInfo", {"ItemStatus": 1, "PageNum": "2"})
    assert (second["TotalCount"], second["PageNum"]) == (3, 2)
    assert [i["ItemNo"] for i in second["ItemList"]] == [str(listed[2].id)]
    assert api.call("BatchQueryItemInfo", {"ItemStatus": "3"})["RtnCode"] == 3001
    assert api.call("BatchQueryItemInfo", {"PageNum": "x"})["RtnCode"] == 3001


# QueryPrintData --------------------------------------------------------------------------------

def test_print_data_lists_unused_tickets_and_records_one_print_each(shop, client) -> None:  # noqa: ANN001
    db.session.add(StoreSettings(store_id=shop.id, cs_phone="02-1234-5678",
                                 cs_email="cs@example.com", rights_statement="價金已信託"))
    product = make_product(shop, "蛋糕券", face_value=300)
    order = make_order(shop, product=product, method=DeliveryMethod.MERCHANT_PRINT, quantity=3)
    one, two, three = _tickets(order)
    _redeem(two)
    db.session.commit()
    api = _client(client, shop)
    answer = api.call("QueryPrintData", {"MerchantTradeNo": order.merchant_order_no,
                                         "Operator": "POS01"})
    prints = answer.pop("PrintList")
    assert answer == {
        "RtnCode": 1, "RtnMsg": "Success", "MerchantTradeNo": order.merchant_order_no,
        "TicketTradeNo": order.order_no, "IssuerName": "咖啡商店", "ServicePhone": "02-1234-5678",
        "ServiceEmail": "cs@example.com", "LineURL": "", "FacebookURL": "", "InstagramURL": ""}
    assert [p["TicketNo"] for p in prints] == [one.serial, three.serial]
    assert prints[0] == {
        "TicketNo": one.serial, "WriteOffNo": one.code, "ItemNo": str(product.id),
        "ItemName": "蛋糕券", "TicketPrice": 300, "StartDate": "20261121",
        "EscrowExpiredDate": f"{product.escrow_end:%Y%m%d}", "Description": "",
        "UsageInstructions": "", "RightsStatement": "價金已信託"}
    run = db.session.scalar(select(PrintRun).where(PrintRun.store_id == shop.id))
    assert (run.kind, run.ticket_count, run.account_id, run.actor_label) == (
        PrintKind.MERCHANT, 2, None, "API:POS01")
    api.call("QueryPrintData", {"MerchantTradeNo": order.merchant_order_no})
    db.session.expire_all()
    assert [t.print_count for t in _tickets(order)] == [2, 0, 2]
    assert db.session.scalar(select(func.count()).select_from(PrintedTicket)) == 4
    entries = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id == one.id,
        HistoryEntry.action == "printed").order_by(HistoryEntry.id)).all()
    assert [e.actor_label for e in entries] == ["API:POS01", "API"]


def test_print_data_is_for_merchant_print_orders_with_unused_tickets(shop, client) -> None:  # noqa: ANN001
    electronic = make_order(shop, method=DeliveryMethod.IMMEDIATE)
    used = make_order(shop, method=DeliveryMethod.MERCHANT_PRINT)
    _redeem(_tickets(used)[0])
    db.session.commit()
    api = _client(client, shop)
    assert api.call("QueryPrintData", {"MerchantTradeNo": electronic.merchant_order_no})[
        "RtnCode"] == 3008
    assert api.call("QueryPrintData", {"MerchantTradeNo": used.merchant_order_no})["RtnCode"] == 3004
    assert api.call("QueryPrintData", {"MerchantTradeNo": used.merchant_order_no,
                                       "Operator": "X" * 11})["RtnCode"] == 3001
    assert db.session.scalar(select(func.count()).select_from(PrintRun)) == 0


# EscrowDay -------------------------------------------------------------------------------------

def test_escrow_day_counts_the_days_left(shop, client) -> None:  # noqa: ANN001
    pickup = make_product(shop, end=NOW.date() + timedelta(days=180))
    gift = make_product(shop, kind=ProductKind.GIFT)
    db.session.commit()
    api = _client(client, shop)
    assert api.call("EscrowDay", {"ItemNo": str(pickup.id)}) == {
        "RtnCode": 1, "RtnMsg": "Success", "EscrowDay": 180}
    assert api.call("EscrowDay", {"ItemNo": str(gift.id)})["EscrowDay"] == 0
    contract_end = shop.current_contract.end_date
    assert api.call("EscrowDay", {})["EscrowDay"] == (contract_end - NOW.date()).days
    assert api.call("EscrowDay", {"ItemNo": "99999999"})["RtnCode"] == 3003
    with clock.frozen(NOW + timedelta(days=200)):
        assert api.call("EscrowDay", {"ItemNo": str(pickup.id)})["EscrowDay"] == 0


# OrderDetail -----------------------------------------------------------------------------------

def _detail(client, store, data, pair: keys.Pair = PAIR):  # noqa: ANN001, ANN202
    body = _client(client, store, pair).envelope(data)
    return client.post("/api/Ticket/OrderDetail", data=json.dumps(body),
                       content_type="application/json", csrf=False)


def _rows(response) -> list[list[str]]:  # noqa: ANN001
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_order_detail_returns_the_ticket_report_as_csv(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop, product=make_product(shop, "=HYPERLINK()", face_value=200), quantity=2)
    make_order(make_store())  # another store's tickets are not in the file
    db.session.commit()
    response = _detail(client, shop, {"ReportType": "2", "BeginDate": "20261101",
                                      "EndDate": "20261121"})
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = _rows(response)
    assert header[:6] == ["票券序號", "商品名稱", "面額", "票券狀態", "詳細狀態", "發行日期"]
    assert "ECT訂單編號" in header and "持票人姓名" in header
    assert "價金保管餘額" not in header  # the file keeps the shape it was published with
    assert sorted(r[0] for r in rows) == sorted(t.serial for t in _tickets(order))
    assert rows[0][1:6] == ["'=HYPERLINK()", "200", "未使用", "未使用", "2026/11/21 10:30:15"]
    assert rows[0][header.index("廠商訂單編號")] == order.merchant_order_no


def test_order_detail_returns_the_orders_and_allows_one_file_a_minute(shop, client) -> None:  # noqa: ANN001
    order = make_order(shop, quantity=3)
    db.session.commit()
    data = {"ReportType": 1, "BeginDate": "20261121", "EndDate": "20261121"}
    header, *rows = _rows(_detail(client, shop, data))
    assert header[0] == "ECT訂單編號" and "購買人 Email" in header
    assert [r[0] for r in rows] == [order.order_no]
    assert rows[0][header.index("張數")] == "3"
    again = _client(client, shop).call("OrderDetail", data)
    assert (again["RtnCode"], again["RtnMsg"]) == (3009, "One file per minute")
    with clock.frozen(NOW + timedelta(minutes=1)):
        assert _detail(client, shop, data).content_type == "text/csv; charset=utf-8"


def test_order_detail_refusals_are_envelopes_and_do_not_use_the_minute(shop, client) -> None:  # noqa: ANN001
    api = _client(client, shop)
    for data in ({"BeginDate": "20261101", "EndDate": "20261121"},
                 {"ReportType": "3", "BeginDate": "20261101", "EndDate": "20261121"},
                 {"ReportType": "1", "BeginDate": "20261301", "EndDate": "20261121"},
                 {"ReportType": "1", "BeginDate": "2026-11-01", "EndDate": "20261121"},
                 {"ReportType": "1", "BeginDate": "20261121", "EndDate": "20261101"},
                 {"ReportType": "1", "BeginDate": "20260801", "EndDate": "20261121"}):
        assert api.call("OrderDetail", data)["RtnCode"] == 3001, data
    ok = _detail(client, shop, {"ReportType": "1", "BeginDate": "20260821", "EndDate": "20261121"})
    assert _rows(ok)[0][0] == "ECT訂單編號"


def test_ticket_item_is_pure(shop) -> None:  # noqa: ANN001
    order = make_order(shop, method=DeliveryMethod.DEFERRED)
    ticket = _tickets(order)[0]
    ticket.valid_from = NOW.date() + timedelta(days=5)
    item = ticket_item(ticket, shop)
    assert (item["StartDate"], item["UseStatus"], item["TicketType"]) == (
        f"{NOW.date() + timedelta(days=5):%Y%m%d}", 1, "1")
