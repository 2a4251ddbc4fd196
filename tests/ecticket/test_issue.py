"""Issue and QueryIssueResult through the client written from the spec (PHP and JS styles): an
electronic pickup order of several products, a gift order (FreeTradeNo), paper, convenience
store; every refusal leaves nothing behind; the same call replays its answer, other Data is
3002; a card-paid ticket order issued through the API is captured; a failed batch is reported
and may be sent again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import clock, jobs
from app.checkout.models import TransactionStatus
from app.db import db
from app.ecpay import keys
from app.ecticket.models import IssueCall
from app.installments.models import AllowedDomain
from app.issuance.models import Batch, BatchStatus
from app.products.models import Product, ProductKind
from app.stores.models import DeliveryMethod, Store
from app.tickets.models import Order, Ticket
from app.unissued.models import TicketOrder, TicketOrderState
from tests.ecticket.client import Client, flask_poster
from tests.factories import make_branch, make_product
from tests.unissued.helpers import pay_ticket_order, taipei, ticket_store

MAY_1 = date(2026, 5, 1)


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    store, owner, pickup, gift = ticket_store()
    cake = make_product(store, "蛋糕券", kind=ProductKind.PICKUP, face_value=200)
    db.session.add(AllowedDomain(store_id=store.id, host="merchant.example"))
    db.session.commit()
    return store, pickup, cake, gift


def _client(client, store, style: str = "php") -> Client:  # noqa: ANN001
    pair = keys.Pair("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")
    return Client(store.merchant_code, pair.hash_key, pair.hash_iv, flask_poster(client),
                  style=style, clock=lambda: clock.now().timestamp())


def _electronic(number: str, *lines: tuple[Product, int], **extra) -> dict:  # noqa: ANN003
    return {"MerchantTradeNo": number, "IssueType": "3", "IsImmediate": "1", "Operator": "cashier01",
            "CustomerName": "王小明", "CustomerPhone": "0912345678", "CustomerEmail": "a@b.com",
            "TicketInfo": [{"ItemNo": str(p.id), "TicketAmount": n} for p, n in lines], **extra}


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("style", "prefix"), [("php", "Ticket"), ("js", "issuance")])
def test_an_electronic_pickup_order_of_several_products(shop, client, style, prefix) -> None:  # noqa: ANN001
    store, pickup, cake, _ = shop
    api = _client(client, store, style)
    data = _electronic("M001", (pickup, 2), (cake, 1),
                       RefundNotifyURL="https://merchant.example/ecticket/refund",
                       UseStatusNotifyURL="https://merchant.example/ecticket/use")
    path_name = "Issue" if prefix == "Ticket" else "issue"
    answer = api.call(path_name, data, prefix=prefix)
    number = answer["TicketTradeNo"]
    assert answer == {"RtnCode": 1, "RtnMsg": "Issue request received", "MerchantTradeNo": "M001",
                      "TicketTradeNo": number, "TicketData": [
                          {"ItemNo": str(pickup.id), "ItemName": "咖啡券", "TicketPrice": 150,
                           "TicketAmount": 2},
                          {"ItemNo": str(cake.id), "ItemName": "蛋糕券", "TicketPrice": 200,
                           "TicketAmount": 1}]}
    assert number.startswith("ECT") and len(number) == 19
    result = api.call("QueryIssueResult", {"MerchantTradeNo": "M001"})
    assert result == {"RtnCode": 1, "RtnMsg": "Success", "MerchantTradeNo": "M001",
                      "TicketTradeNo": number, "Status": 1, "Remark": ""}
    order = db.session.scalar(select(Order).where(Order.merchant_order_no == "M001"))
    assert (order.order_no, order.ticket_count, order.amount) == (number, 3, 500)
    assert order.delivery_method is DeliveryMethod.IMMEDIATE
    assert _count(Ticket) == 3
    call = db.session.scalar(select(IssueCall))
    assert (call.kind, call.payment_provider, call.operator, call.refund_notify_url,
            call.use_status_notify_url) == ("pickup", "2", "cashier01",
                                            "https://merchant.example/ecticket/refund",
                                            "https://merchant.example/ecticket/use")
    batch = db.session.get(Batch, call.batch_id)
    assert (batch.import_no, batch.source, batch.status) == ("ECT-M001", "api", BatchStatus.SUCCEEDED)
    # the notices of its tickets go to the URLs asked for, and the store now looks for them
    assert (batch.refund_notify_url, batch.use_status_notify_url) == (
        "https://merchant.example/ecticket/refund", "https://merchant.example/ecticket/use")
    db.session.expire_all()
    assert db.session.get(Store, batch.store_id).ticket_notices is True


def test_a_gift_order_by_free_trade_no_deferred(shop, client) -> None:  # noqa: ANN001
    store, _, _, gift = shop
    api = _client(client, store, "js")
    start = clock.business_day() + timedelta(days=3)
    answer = api.call("Issue", {
        "FreeTradeNo": "G01", "IssueType": 3, "IsImmediate": 2, "StartDate": f"{start:%Y%m%d}",
        "Operator": "op", "CustomerName": "林小美", "CustomerEmail": "m@example.com",
        "TicketInfo": [{"ItemNo": str(gift.id), "TicketPrice": 80, "TicketAmount": 2}]})
    assert answer["RtnCode"] == 1 and answer["FreeTradeNo"] == "G01"
    result = api.call("QueryIssueResult", {"FreeTradeNo": "G01"})
    assert (result["Status"], result["FreeTradeNo"]) == (1, "G01")
    tickets = db.session.scalars(select(Ticket)).all()
    assert {(t.kind, t.valid_from, t.delivery_method) for t in tickets} == {
        (ProductKind.GIFT, start, DeliveryMethod.DEFERRED)}
    # the pickup field does not find a gift order
    assert api.call("QueryIssueResult", {"MerchantTradeNo": "G01"})["RtnCode"] == 3003


@pytest.mark.parametrize(("fields", "method"), [
    ({"IssueType": "2", "PrintType": "1"}, DeliveryMethod.PLATFORM_PRINT),
    ({"IssueType": "2", "PrintType": "2"}, DeliveryMethod.MERCHANT_PRINT),
    ({"IssueType": "1"}, DeliveryMethod.IBON),
])
def test_paper_and_convenience_store(shop, client, fields, method) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    data = _electronic("P1", (pickup, 1)) | fields
    del data["IsImmediate"]
    answer = _client(client, store).call("Issue", data)
    assert answer["RtnCode"] == 1
    order = db.session.scalar(select(Order))
    assert (order.delivery_method, order.order_no) == (method, answer["TicketTradeNo"])


def _refused(shop, client, data: dict) -> tuple[int, str]:  # noqa: ANN001
    store = shop[0]
    answer = _client(client, store).call("Issue", data)
    assert _count(Batch) == 0 and _count(IssueCall) == 0 and _count(Order) == 0
    return answer["RtnCode"], answer["RtnMsg"]


def test_parameter_errors_3001(shop, client) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    good = _electronic("M1", (pickup, 1))
    cases = [
        ({k: v for k, v in good.items() if k != "Operator"}, "Parameter error: Operator (required)"),
        (good | {"FreeTradeNo": "G1"}, "Parameter error: MerchantTradeNo/FreeTradeNo (exactly one)"),
        (good | {"MerchantTradeNo": "ORDER-1"}, "Parameter error: MerchantTradeNo"),
        ({k: v for k, v in good.items() if k != "IssueType"}, "Parameter error: IssueType (required)"),
        ({k: v for k, v in good.items() if k != "IsImmediate"},
         "Parameter error: IsImmediate (required)"),
        (good | {"IssueType": "2", "IsImmediate": ""}, "Parameter error: PrintType (required)"),
        (good | {"TicketInfo": []}, "Parameter error: TicketInfo (required)"),
        (good | {"TicketInfo": [{"ItemNo": str(pickup.id), "TicketAmount": 0}]},
         "Parameter error: TicketAmount"),
        (good | {"TicketInfo": [{"ItemNo": str(pickup.id), "TicketAmount": 1, "TicketPrice": 99}]},
         f"Parameter error: TicketPrice (ItemNo {pickup.id} 面額為 150)"),
        (good | {"CustomerEmail": "not-mail"}, "Parameter error: CustomerEmail (Email 格式錯誤)"),
        (good | {"CustomerName": ""}, "Parameter error: CustomerName (請填寫購買人姓名)"),
        (good | {"IssueType": "1", "CustomerPhone": ""}, "Parameter error: CustomerPhone"),
        (good | {"RefundNotifyURL": "http://merchant.example/r"},
         "Parameter error: RefundNotifyURL (網址須為 https:// 開頭)"),
        (good | {"UseStatusNotifyURL": "https://evil.example/r"},
         "Parameter error: UseStatusNotifyURL (此網址的網域尚未開通"),
        (good | {"RefundNotifyURL": "https://merchant.example/" + "a" * 180},
         "Parameter error: RefundNotifyURL"),
        (good | {"StoreID": "NOPE"}, "Parameter error: StoreID (no such branch)"),
        (good | {"IsImmediate": "2"}, "Parameter error: StartDate"),
        (good | {"StartDate": "20261340", "IsImmediate": "2"}, "Parameter error: StartDate"),
    ]
    for data, message in cases:
        code, got = _refused(shop, client, data)
        assert (code, got[:len(message)]) == (3001, message), data


def test_more_than_1000_tickets_are_refused(shop, client) -> None:  # noqa: ANN001
    store, pickup, cake, _ = shop
    code, message = _refused(shop, client, _electronic("BIG", (pickup, 600), (cake, 401)))
    assert (code, message) == (3001, "Parameter error: TicketAmount (每次發行上限為 1000 張（此次共 1001 張）)")
    assert _client(client, store).call("Issue", _electronic("OK", (pickup, 600), (cake, 400)))[
        "RtnCode"] == 1


def test_the_same_call_replays_and_other_data_is_a_duplicate(shop, client) -> None:  # noqa: ANN001
    store, pickup, cake, _ = shop
    php, js = _client(client, store, "php"), _client(client, store, "js")
    data = _electronic("M7", (pickup, 2))
    first = php.call("Issue", data | {"TicketInfo": [{"ItemNo": str(pickup.id), "TicketAmount": "2"}],
                                      "PaymentProvider": ""})
    again = js.call("Issue", data | {"Operator": "someone"})  # numbers as JSON, another cashier
    assert again == first and first["RtnCode"] == 1
    assert _count(Batch) == 1 and _count(Ticket) == 2
    other = php.call("Issue", _electronic("M7", (pickup, 3)))
    assert (other["RtnCode"], other["RtnMsg"]) == (3002, "Duplicate order number: M7")
    gift_same_no = php.call("Issue", {**_electronic("M7", (pickup, 2)), "MerchantTradeNo": "",
                                      "FreeTradeNo": "M7"})
    assert gift_same_no["RtnCode"] == 3002
    assert _count(Batch) == 1 and _count(Ticket) == 2


def test_an_order_number_an_upload_took_is_a_duplicate(shop, client) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    _client(client, store).call("Issue", _electronic("UP1", (pickup, 1)))
    db.session.execute(db.delete(IssueCall))  # as if the order came from an uploaded file
    db.session.commit()
    answer = _client(client, store).call("Issue", _electronic("UP1", (pickup, 1)))
    assert answer["RtnCode"] == 3002 and "UP1" in answer["RtnMsg"]
    found = _client(client, store).call("QueryIssueResult", {"MerchantTradeNo": "UP1"})
    assert (found["Status"], found["TicketTradeNo"]) == (1, db.session.scalar(select(Order.order_no)))


def test_not_enabled_3005(shop, client) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    code, message = _refused(shop, client, _electronic("M1", (pickup, 1)) | {"IssueType": "4"})
    assert (code, message) == (3005, "IssueType not enabled: 4 (serial-only tickets)")
    store.current_contract.enabled_methods = [DeliveryMethod.IBON.value]
    db.session.commit()
    code, message = _refused(shop, client, _electronic("M1", (pickup, 1)))
    assert code == 3005 and "電子票券" in message


def test_products_not_issuable_3006(shop, client) -> None:  # noqa: ANN001
    store, pickup, cake, gift = shop
    cake.listed = False
    db.session.commit()
    cases = [
        (_electronic("M1", (pickup, 1), (cake, 1)), f"Item not issuable: {cake.id} (商品已下架，無法發行)"),
        (_electronic("M1", (gift, 1)), f"Item not issuable: {gift.id} (此商品不是提貨券"),
        ({**_electronic("M1"), "TicketInfo": [{"ItemNo": "CHF80957", "TicketAmount": 1}]},
         "Item not issuable: CHF80957 (查無此商品編號)"),
        ({**_electronic("M1"), "TicketInfo": [{"ItemNo": "99999", "TicketAmount": 1}]},
         "Item not issuable: 99999 (查無此商品編號)"),
    ]
    for data, message in cases:
        code, got = _refused(shop, client, data)
        assert (code, got[:len(message)]) == (3006, message)


def test_a_disabled_branch_is_not_permitted(shop, client) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    make_branch(store, "B01", enabled=False)
    make_branch(store, "B02")
    db.session.commit()
    code, message = _refused(shop, client, _electronic("M1", (pickup, 1), StoreID="B01"))
    assert (code, message) == (3008, "Not permitted: branch B01 is disabled")
    assert _client(client, store).call("Issue", _electronic("M1", (pickup, 1), StoreID="B02"))[
        "RtnCode"] == 1
    assert db.session.scalar(select(IssueCall.branch_id)) is not None


def test_a_card_paid_ticket_order_is_issued_and_captured(shop, client) -> None:  # noqa: ANN001
    store, pickup, cake, _ = shop
    paid = pay_ticket_order(store, "CARD1", item_name="咖啡券 x 2#蛋糕券 x 1", amount=500,
                            at=taipei(MAY_1))
    api = _client(client, store)
    wrong = api.call("Issue", _electronic("CARD1", (pickup, 1), (cake, 1)))
    assert (wrong["RtnCode"], wrong["RtnMsg"]) == (
        3010, "Payment amount mismatch: CARD1 (TradeAmt 500, tickets 350)")
    other = api.call("Issue", _electronic("CARD1", (pickup, 2), (cake, 1), PaymentProvider="2"))
    assert other["RtnCode"] == 3010
    clock.freeze(taipei(date(2026, 5, 21), 22))  # T+20: still issuable
    answer = api.call("Issue", _electronic("CARD1", (pickup, 2), (cake, 1)))  # provider absent → 1
    assert answer["RtnCode"] == 1
    assert db.session.scalar(select(IssueCall.payment_provider)) == "1"
    db.session.expire_all()
    paid = db.session.get(TicketOrder, paid.id)
    assert paid.state is TicketOrderState.ISSUED
    assert paid.transaction.status is TransactionStatus.CLOSE_REQUESTED
    assert db.session.get(Order, paid.issued_order_id).order_no == answer["TicketTradeNo"]


def test_card_orders_missing_or_too_late_3010(shop, client) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    pay_ticket_order(store, "CARD2", item_name="咖啡券 x 1", amount=150, at=taipei(MAY_1))
    missing = _refused(shop, client, _electronic("NOCARD", (pickup, 1), PaymentProvider="1"))
    assert missing == (3010, "Payment order not found: NOCARD")
    clock.freeze(taipei(date(2026, 5, 22), 0))  # T+21
    late = _refused(shop, client, _electronic("CARD2", (pickup, 1), PaymentProvider="1"))
    assert late == (3010, "Payment order not issuable: CARD2 (訂單 CARD2 已超過發行期限"
                          "（2026/05/21 前須完成發行），無法發行)")


def test_a_failed_batch_is_reported_and_may_be_sent_again(shop, client, monkeypatch) -> None:  # noqa: ANN001
    store, pickup, _, _ = shop
    held: list = []
    monkeypatch.setattr(jobs, "dispatch", held.append)  # the issuing job waits
    api = _client(client, store)
    data = _electronic("F1", (pickup, 1))
    number = api.call("Issue", data)["TicketTradeNo"]
    assert api.call("QueryIssueResult", {"MerchantTradeNo": "F1"})["Status"] == 3
    db.session.get(Product, pickup.id).listed = False  # delisted before the job runs
    db.session.commit()
    jobs.run_job(held[0].path, *held[0].args)
    result = api.call("QueryIssueResult", {"MerchantTradeNo": "F1"})
    assert (result["Status"], result["Remark"], result["TicketTradeNo"]) == (
        2, "第 1 列的商品已下架或不存在，發行未完成", number)
    db.session.get(Product, pickup.id).listed = True
    db.session.commit()
    retry = api.call("Issue", data)
    assert (retry["RtnCode"], retry["TicketTradeNo"]) == (1, number)
    jobs.run_job(held[1].path, *held[1].args)
    assert api.call("QueryIssueResult", {"MerchantTradeNo": "F1"})["Status"] == 1
    db.session.expire_all()
    assert db.session.scalar(select(Order.order_no)) == number
    assert sorted(db.session.scalars(select(Batch.import_no))) == ["ECT-F1", "ECT2-F1"]


def test_query_of_an_unknown_order_is_3003(shop, client) -> None:  # noqa: ANN001
    store = shop[0]
    answer = _client(client, store).call("QueryIssueResult", {"MerchantTradeNo": "NONE1"})
    assert (answer["RtnCode"], answer["RtnMsg"]) == (3003, "Order not found: NONE1")
    bad = _client(client, store).call("QueryIssueResult", {})
    assert bad["RtnCode"] == 3001
