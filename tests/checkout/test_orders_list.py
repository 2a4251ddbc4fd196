"""信用卡付款紀錄 as a list: filtered by 建立日期, status and order number, each order linked to
its 明細, and its Excel (the same query, every column of app.checkout.columns, the card,
authorisation and ReturnURL notice of each row) read in a fixed number of statements."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from app import clock
from app.checkout.columns import COLUMNS
from app.checkout.models import CardTransaction, NoticeStatus, OrderStatus, PaymentNotice
from app.db import db
from tests.factories import login, make_account, make_checkout_order, make_checkout_store

EMPTY = "查無符合條件的信用卡付款紀錄"


def _paid(store, no: str, *, attempts: int, status: NoticeStatus):  # noqa: ANN001, ANN202
    order = make_checkout_order(store, amount=1500, paid=True)
    order.merchant_trade_no = no
    db.session.add(CardTransaction(store_id=store.id, order_id=order.id, amount=1500,
                                   card_first6="431195", card_last4="2222", brand="VISA",
                                   auth_code="777777", auth_serial=f"{order.id:011d}",
                                   acquirer="sandbox"))
    db.session.add(PaymentNotice(store_id=store.id, order_id=order.id,
                                 url="https://merchant.example/ecpay/return",
                                 payload={"MerchantTradeNo": no}, status=status,
                                 attempts=attempts,
                                 succeeded_at=clock.now() if status is NoticeStatus.SUCCEEDED
                                 else None))
    return order


def _rows() -> dict:
    """Four recent orders (two paid with their card and notice, one waiting, one failed) and a
    45-day-old one, of a store whose main account is shop01; committed."""
    store = make_checkout_store()
    make_account(store, username="shop01")
    paid = _paid(store, "PAID1", attempts=1, status=NoticeStatus.SUCCEEDED)
    unsent = _paid(store, "PAID2", attempts=4, status=NoticeStatus.GAVE_UP)
    pending = make_checkout_order(store)
    pending.merchant_trade_no = "WAIT1"
    failed = make_checkout_order(store)
    failed.merchant_trade_no, failed.status = "FAIL1", OrderStatus.FAILED
    failed.failed_attempts, failed.last_decline = 3, "授權失敗"
    failed.failed_at = clock.now()
    old = make_checkout_order(store)
    old.merchant_trade_no, old.created_at = "OLD1", clock.now() - timedelta(days=45)
    for n, order in enumerate((paid, unsent, pending, failed)):
        order.created_at = clock.now() - timedelta(minutes=10 * (n + 1))
    db.session.commit()
    return {"store": store, "paid": paid, "unsent": unsent, "pending": pending,
            "failed": failed, "old": old}


@pytest.fixture
def rows(ctx):  # noqa: ANN001, ANN201
    return _rows()


def _listed(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200
    return re.findall(r'data-testid="checkout-order-row"[^>]*data-trade-no="(\w+)"',
                      response.get_data(as_text=True))


def _sheet(response) -> list[list]:  # noqa: ANN001
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_the_filters_narrow_the_list(client, rows) -> None:  # noqa: ANN001
    login(client, "shop01")
    url = "/vendor/integration/orders"
    # the last 30 days by default, newest first: the 45-day-old order is left out
    assert _listed(client.get(url)) == ["PAID1", "PAID2", "WAIT1", "FAIL1"]
    assert _listed(client.get(f"{url}?status=paid")) == ["PAID1", "PAID2"]
    assert _listed(client.get(f"{url}?status=pending")) == ["WAIT1"]
    failed = client.get(f"{url}?status=failed")
    assert _listed(failed) == ["FAIL1"] and "付款失敗" in failed.get_data(as_text=True)
    # an order number needs no period (the old one is found); the TradeNo finds it too
    assert _listed(client.get(f"{url}?order_no=OLD1")) == ["OLD1"]
    assert _listed(client.get(f"{url}?order_no={rows['paid'].trade_no}")) == ["PAID1"]
    day = clock.business_day(rows["old"].created_at)
    assert _listed(client.get(f"{url}?start={day}&end={day}")) == ["OLD1"]
    assert _listed(client.get(f"{url}?start={day}&end={day}&status=paid")) == []


def test_each_order_links_to_its_detail(client, rows) -> None:  # noqa: ANN001
    login(client, "shop01")
    page = client.get("/vendor/integration/orders").get_data(as_text=True)
    for key in ("paid", "unsent", "pending", "failed"):
        href = f'/vendor/integration/orders/{rows[key].id}"'
        assert href in page and f'data-order-id="{rows[key].id}"' in page
    assert 'data-testid="excel"' in page and 'data-testid="query"' in page
    detail = client.get(f"/vendor/integration/orders/{rows['paid'].id}")
    assert detail.status_code == 200 and "PAID1" in detail.get_data(as_text=True)


def test_the_excel_has_the_header_row_and_the_rows_of_the_filter(client, rows,  # noqa: ANN001
                                                                  count_queries) -> None:
    login(client, "shop01")
    count_queries.clear()
    values = _sheet(client.get("/vendor/integration/orders?status=paid&format=xlsx"))
    # one statement reads the rows with their card transactions and notices, never one by one
    reads = [q for q in count_queries if "checkout_orders" in q or "card_transactions" in q
             or "checkout_notices" in q]
    assert len(reads) == 1 and "card_transactions" in reads[0] and "checkout_notices" in reads[0]
    header = values[0]
    assert header == [c.header for c in COLUMNS]
    assert [v[header.index("特店訂單編號")] for v in values[1:]] == ["PAID1", "PAID2"]
    paid, unsent = (dict(zip(header, v, strict=True)) for v in values[1:])
    assert paid["狀態"] == "已付款" and paid["票券訂單"] == "否" and paid["金額"] == 1500
    assert paid["信用卡卡號"] == "431195******2222" and paid["授權碼"] == "777777"
    assert paid["商品名稱"] == "咖啡兌換券" and paid["付款時間"] is not None
    assert (paid["付款結果通知"], paid["通知發送次數"]) == ("通知成功", 1)
    assert (unsent["付款結果通知"], unsent["通知發送次數"]) == ("通知失敗", 4)
    assert unsent["通知成功時間"] is None
    failed = _sheet(client.get("/vendor/integration/orders?status=failed&format=xlsx"))
    row = dict(zip(failed[0], failed[1], strict=True))
    assert len(failed) == 2 and row["狀態"] == "付款失敗" and row["信用卡卡號"] is None
    assert (row["付款失敗次數"], row["最後一次失敗原因"]) == (3, "授權失敗")
    assert row["付款結果通知"] is None and row["付款時間"] is None


def test_a_bad_query_is_refused_with_a_message(client, rows) -> None:  # noqa: ANN001
    login(client, "shop01")
    url = "/vendor/integration/orders"
    for query, message in (("start=2026-05-02&end=2026-05-01", "起日不可晚於迄日"),
                           ("start=2026-01-01&end=2026-05-25", "查詢區間不可超過三個月"),
                           ("start=2026-13-40", "日期格式錯誤，請輸入 YYYY/MM/DD")):
        for extra in ("", "&format=xlsx"):
            response = client.get(f"{url}?{query}{extra}")
            body = response.get_data(as_text=True)
            assert response.status_code == 422 and message in body
            assert 'data-testid="query-error"' in body and "PAID1" not in body
    assert client.get(f"{url}?status=nope").status_code == 422


def test_an_empty_result_says_what_the_list_holds(client, rows) -> None:  # noqa: ANN001
    login(client, "shop01")
    response = client.get("/vendor/integration/orders?order_no=NOSUCH")
    assert _listed(response) == [] and EMPTY in response.get_data(as_text=True)
    values = _sheet(client.get("/vendor/integration/orders?order_no=NOSUCH&format=xlsx"))
    assert values == [[c.header for c in COLUMNS]]
