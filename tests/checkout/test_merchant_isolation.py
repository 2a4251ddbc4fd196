"""Two stores with their own key pairs: the cashier checks a request against the pair of the
MerchantID it names and answers only that store's orders; 系統介接設定 and 信用卡付款紀錄
(the pages without an id in their address) show and change only the logged-in store's keys,
IPs, orders and notices."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qsl

from openpyxl import load_workbook
from sqlalchemy import func, select

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder, PaymentNotice, PaymentNoticeAttempt
from app.db import db
from app.ecpay import checkmac, keys
from app.history import HistoryEntry
from tests.factories import aio_form, login, make_account, make_checkout_store

PAIR_A = keys.Pair("AAAAkeyAAAAkey01", "AAAAivAAAAivAA01")
PAIR_B = keys.Pair("BBBBkeyBBBBkey02", "BBBBivBBBBivBB02")
LOCAL_RETURN = "https://127.0.0.1/ecpay/return"  # refused by the SSRF guard at once: no network
CARD = {"card_number": "4311952222222222", "expiry": "12/30", "cvv": "222", "plan": "once"}


def _count(model, **where) -> int:  # noqa: ANN001, ANN003
    query = select(func.count()).select_from(model).filter_by(**where)
    return db.session.scalar(query.execution_options(unscoped=True))


def _two_stores():  # noqa: ANN202
    a = make_checkout_store(pair=PAIR_A)
    b = make_checkout_store(pair=PAIR_B)
    db.session.commit()
    return a, b


def _checkout(client, form):  # noqa: ANN001, ANN202
    return client.post("/Cashier/AioCheckOut/V5", data=form, csrf=False)


def _query(client, merchant_id: str, trade_no: str, pair: keys.Pair) -> dict[str, str]:  # noqa: ANN001
    fields = {"MerchantID": merchant_id, "MerchantTradeNo": trade_no,
              "TimeStamp": str(int(clock.now().timestamp()))}
    response = client.post("/Cashier/QueryTradeInfo/V5", csrf=False,
                           data=checkmac.signed(fields, *pair))
    assert response.status_code == 200
    return dict(parse_qsl(response.get_data(as_text=True), keep_blank_values=True))


def test_another_stores_keys_cannot_sign_for_a_merchant_id(ctx, client) -> None:  # noqa: ANN001
    a, b = _two_stores()
    forged = aio_form(a, pair=PAIR_B, trade_no="FORGED1")  # A's MerchantID, B's keys
    html = _checkout(client, forged).get_data(as_text=True)
    assert 'data-code="10200073"' in html
    assert _count(CheckoutOrder) == 0 and _count(CardTransaction) == 0 and _count(PaymentNotice) == 0
    # each store's own keys are accepted for its own MerchantID
    assert _checkout(client, aio_form(a, pair=PAIR_A)).status_code == 303
    assert _checkout(client, aio_form(b, pair=PAIR_B)).status_code == 303
    assert _count(CheckoutOrder, store_id=a.id) == 1 and _count(CheckoutOrder, store_id=b.id) == 1


def test_query_trade_info_answers_only_the_callers_orders(ctx, client) -> None:  # noqa: ANN001
    a, b = _two_stores()
    url = _checkout(client, aio_form(a, pair=PAIR_A, trade_no="ONLYA1",
                                     ReturnURL=LOCAL_RETURN)).headers["Location"]
    client.post(url, data=CARD)
    mine = _query(client, a.merchant_code, "ONLYA1", PAIR_A)
    assert mine["TradeStatus"] == "1" and checkmac.verify(mine, *PAIR_A)
    assert _query(client, b.merchant_code, "ONLYA1", PAIR_B) == {
        "TradeStatus": "10200047", "RtnMsg": "Cant not find the trade data."}
    assert _query(client, a.merchant_code, "ONLYA1", PAIR_B)["TradeStatus"] == "10200073"


def test_a_merchant_trade_no_is_unique_per_store_not_across_stores(ctx, client) -> None:  # noqa: ANN001
    a, b = _two_stores()
    url_a = _checkout(client, aio_form(a, pair=PAIR_A, trade_no="SAME0001",
                                       ReturnURL=LOCAL_RETURN)).headers["Location"]
    url_b = _checkout(client, aio_form(b, pair=PAIR_B, trade_no="SAME0001", amount="800",
                                       ReturnURL=LOCAL_RETURN)).headers["Location"]
    assert url_a != url_b
    assert client.post(url_a, data=CARD).status_code == 303
    assert client.post(url_b, data=CARD).status_code == 303
    orders = {o.store_id: o for o in db.session.scalars(
        select(CheckoutOrder).execution_options(unscoped=True))}
    assert {(o.merchant_trade_no, o.total_amount) for o in orders.values()} == {
        ("SAME0001", 1200), ("SAME0001", 800)}
    assert set(orders) == {a.id, b.id}
    # each notice is signed with its own store's pair, never the other's
    for store, pair, other in ((a, PAIR_A, PAIR_B), (b, PAIR_B, PAIR_A)):
        notice = db.session.scalar(select(PaymentNotice).where(PaymentNotice.store_id == store.id)
                                   .execution_options(unscoped=True))
        assert checkmac.verify(notice.payload, *pair) and not checkmac.verify(notice.payload, *other)
        assert _query(client, store.merchant_code, "SAME0001", pair)["TradeAmt"] == str(
            orders[store.id].total_amount)
    # the number is now taken at A (paid), still refused there
    again = _checkout(client, aio_form(a, pair=PAIR_A, trade_no="SAME0001"))
    assert 'data-code="10200047"' in again.get_data(as_text=True)


def _store_a_with_an_order(client) -> tuple:  # noqa: ANN001
    a, b = _two_stores()
    db.session.add(keys.settings_of(a.id) or _settings(a.id, "192.0.2.45"))
    main_b = make_account(b)
    db.session.commit()
    url = _checkout(client, aio_form(a, pair=PAIR_A, trade_no="SECRETA1",
                                     ReturnURL=LOCAL_RETURN)).headers["Location"]
    client.post(url, data=CARD)
    order_a = db.session.scalar(select(CheckoutOrder).execution_options(unscoped=True))
    return a, b, main_b, order_a


def _settings(store_id: int, ips: str):  # noqa: ANN202
    from app.ecpay.models import IntegrationSettings

    return IntegrationSettings(store_id=store_id, allowed_ips=ips, updated_at=clock.now())


def test_the_integration_page_and_ips_show_only_the_own_store(ctx, client) -> None:  # noqa: ANN001
    a, b, main_b, _ = _store_a_with_an_order(client)
    login(client, main_b.username)
    page = client.get("/vendor/integration").get_data(as_text=True)
    assert b.merchant_code in page and a.merchant_code not in page
    assert "192.0.2.45" not in page and "不限制" in page
    form = client.get("/vendor/integration/ips").get_data(as_text=True)
    assert "192.0.2.45" not in form
    assert client.post("/vendor/integration/ips",
                       data={"allowed_ips": "198.51.100.7"}).status_code == 303
    assert keys.allowed_ips_of(b.id) == "198.51.100.7"
    assert keys.allowed_ips_of(a.id) == "192.0.2.45"


def test_rotating_keys_changes_only_the_own_store(ctx, client) -> None:  # noqa: ANN001
    a, b, main_b, _ = _store_a_with_an_order(client)
    login(client, main_b.username)
    rotated = client.post("/vendor/integration/keys").get_data(as_text=True)
    new_key = re.search(r'data-testid="new-hash-key">(\w{16})<', rotated).group(1)
    new_iv = re.search(r'data-testid="new-hash-iv">(\w{16})<', rotated).group(1)
    assert keys.current_pair(b.id) == keys.Pair(new_key, new_iv)
    assert keys.pairs_for(a.id) == [PAIR_A]  # A's pair neither retired nor replaced
    assert PAIR_A.hash_key not in rotated and a.merchant_code not in rotated
    assert client.post("/vendor/integration/keys", data={"purpose": "ticket"}).status_code == 200
    assert keys.pairs_for(a.id, keys.TICKET) == []
    rotations = db.session.scalars(select(HistoryEntry.store_id)
                                   .where(HistoryEntry.action == "ecpay_keys_rotated")
                                   .execution_options(unscoped=True)).all()
    assert rotations == [b.id, b.id]


def test_the_orders_list_and_notices_show_only_the_own_store(ctx, client) -> None:  # noqa: ANN001
    a, b, main_b, order_a = _store_a_with_an_order(client)
    mine = _checkout(client, aio_form(b, pair=PAIR_B, trade_no="MINEB1",
                                      ReturnURL=LOCAL_RETURN)).headers["Location"]
    client.post(mine, data=CARD)
    login(client, main_b.username)
    listing = client.get("/vendor/integration/orders").get_data(as_text=True)
    assert "MINEB1" in listing
    assert "SECRETA1" not in listing and order_a.trade_no not in listing
    assert f'data-order-id="{order_a.id}"' not in listing
    # nor in the Excel, nor found by its number (the number's query needs no period)
    for query in ("", "&order_no=SECRETA1", f"&order_no={order_a.trade_no}"):
        excel = client.get(f"/vendor/integration/orders?format=xlsx{query}")
        assert excel.status_code == 200
        cells = [c.value for row in load_workbook(io.BytesIO(excel.data)).active.iter_rows()
                 for c in row]
        assert "SECRETA1" not in cells and order_a.trade_no not in cells
        assert ("MINEB1" in cells) is (query == "")
    searched = client.get("/vendor/integration/orders?order_no=SECRETA1").get_data(as_text=True)
    assert "SECRETA1" not in searched.split('data-testid="checkout-orders"')[1]
    # A's order, its notice and its re-send are not B's to see or touch
    assert client.get(f"/vendor/integration/orders/{order_a.id}").status_code == 404
    attempts = _count(PaymentNoticeAttempt)
    assert client.post(f"/vendor/integration/orders/{order_a.id}/resend").status_code == 404
    assert _count(PaymentNoticeAttempt) == attempts
