"""POST /Cashier/AioCheckOut/V5 → the payment page → paid; refusals leave nothing behind; the
result page and QueryTradeInfo/V5."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app import clock, history
from app.checkout import rules
from app.checkout.models import (
    CardTransaction,
    CheckoutOrder,
    NoticeStatus,
    OrderStatus,
    PaymentNotice,
    PaymentNoticeAttempt,
)
from app.db import db
from app.ecpay import checkmac
from tests.factories import STAGE_KEYS, aio_form, make_checkout_store

LOCAL_RETURN = "https://127.0.0.1/ecpay/return"  # refused by the SSRF guard at once: no network
CARD = {"card_number": "4311-9522-2222-2222", "expiry": "12/30", "cvv": "222", "plan": "once"}
HOLDER = {"holder_name": "王小明", "holder_mobile": "0912-345-678", "holder_email": "ming@example.com"}


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model).execution_options(unscoped=True))


def _nothing_stored() -> bool:
    return all(_count(m) == 0 for m in (CheckoutOrder, CardTransaction, PaymentNotice))


def _checkout(client, form):  # noqa: ANN001, ANN202
    return client.post("/Cashier/AioCheckOut/V5", data=form, csrf=False)


def _pay_url(response) -> str:  # noqa: ANN001
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def test_a_signed_checkout_opens_the_payment_page(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN)))
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "NT$1,200" in html and "咖啡兌換券 x2" in html and "蛋糕券 x1" in html
    assert 'autocomplete="cc-number"' in html and 'name="viewport"' in html
    order = db.session.scalar(select(CheckoutOrder).execution_options(unscoped=True))
    assert order.status is OrderStatus.PENDING and order.total_amount == 1200
    assert order.fields["CheckMacValue"] and not order.is_ticket_order


def test_the_published_a10_request_is_accepted(ctx, client) -> None:  # noqa: ANN001
    import json
    from pathlib import Path

    v = json.loads((Path(__file__).parents[1] / "ecpay" / "vectors.json").read_text("utf-8"))["A"]["A10"]
    store = make_checkout_store()
    store.merchant_code = "3002607"
    db.session.commit()
    form = dict(v["params"], CheckMacValue=v["expected"])
    assert _checkout(client, form).status_code == 303
    assert _count(CheckoutOrder) == 1


def _refused(client, form, code: str) -> None:  # noqa: ANN001
    response = _checkout(client, form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'data-code="{code}"' in html, html[:2000]


@pytest.mark.parametrize(("change", "code"), [
    ({"TotalAmount": "0"}, "10000100"),
    ({"TotalAmount": "1.5"}, "10000100"),
    ({"MerchantTradeNo": "ORDER-1"}, "10000100"),
    ({"ChoosePayment": "ATM"}, "10000102"),
    ({"EncryptType": "0"}, "10000102"),
    ({"TotalAmount": "1000001"}, "10200050"),
])
def test_bad_fields_are_refused_with_nothing_stored(ctx, client, change, code) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    _refused(client, aio_form(store, **change), code)
    assert _nothing_stored()


def test_a_tampered_mac_is_refused(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    form = aio_form(store)
    form["TotalAmount"] = "1"
    _refused(client, form, "10200073")
    form = aio_form(store)
    form["CheckMacValue"] = form["CheckMacValue"][:-1] + ("0" if form["CheckMacValue"][-1] != "0" else "1")
    _refused(client, form, "10200073")
    assert _nothing_stored()


def test_an_unknown_merchant_or_one_without_keys_is_refused(ctx, client) -> None:  # noqa: ANN001
    from tests.factories import make_store

    keyless = make_store()
    store = make_checkout_store()
    db.session.commit()
    form = aio_form(store)
    form["MerchantID"] = "1234567"
    _refused(client, checkmac.signed(form, *STAGE_KEYS), "10000101")
    _refused(client, aio_form(keyless), "10000101")
    assert _nothing_stored()


def test_a_field_posted_twice_is_refused(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    form = aio_form(store)
    response = client.post("/Cashier/AioCheckOut/V5", csrf=False,
                           data=MultiDict(list(form.items()) + [("TotalAmount", "1")]))
    assert 'data-code="10000100"' in response.get_data(as_text=True)
    assert _nothing_stored()


def test_a_replayed_trade_no_is_refused_once_paid_or_changed(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    form = aio_form(store, ReturnURL=LOCAL_RETURN, trade_no="REPLAY1")
    url = _pay_url(_checkout(client, form))
    assert _pay_url(_checkout(client, form)) == url  # the identical unpaid form re-opens it
    _refused(client, aio_form(store, trade_no="REPLAY1", amount="999"), "10200047")
    client.post(url, data=CARD)
    _refused(client, form, "10200047")
    assert _count(CheckoutOrder) == 1 and _count(CardTransaction) == 1


def test_paying_with_the_test_card(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN, NeedExtraPaidInfo="Y")))
    response = client.post(url, data=CARD)
    assert response.status_code == 303
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert "付款完成" in html and 'data-autosubmit' in html
    assert "form-action 'self' https://merchant.example" in page.headers["Content-Security-Policy"]
    assert "/static/js/autosubmit.js" in html and "<script>" not in html
    db.session.expire_all()
    txn = db.session.scalar(select(CardTransaction).execution_options(unscoped=True))
    assert (txn.card_first6, txn.card_last4, txn.brand, txn.auth_code, txn.status.value) == (
        "431195", "2222", "VISA", "777777", "authorised")
    assert txn.charge_fee == 30
    row = {c.name: getattr(txn, c.name) for c in CardTransaction.__table__.columns}
    assert not any("4311952222222222" in str(v) or v == "222" for v in row.values())
    notice = db.session.scalar(select(PaymentNotice).execution_options(unscoped=True))
    assert checkmac.verify(notice.payload, *STAGE_KEYS)
    assert notice.payload["RtnCode"] == "1" and notice.payload["card4no"] == "2222"
    posted = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))
    assert posted["CheckMacValue"] == notice.payload["CheckMacValue"]
    # the inline job tried once: the SSRF guard refused the loopback address
    attempt = db.session.scalar(select(PaymentNoticeAttempt))
    assert attempt is not None and not attempt.succeeded and "內部網路" in attempt.error
    assert notice.status is NoticeStatus.PENDING and notice.attempts == 1


def test_a_declined_card_leaves_the_order_unpaid(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN)))
    response = client.post(url, data=CARD | {"card_number": "4000 0000 0000 0002", "cvv": "123"})
    assert response.status_code == 422 and "發卡銀行拒絕交易" in response.get_data(as_text=True)
    bad = client.post(url, data=CARD | {"expiry": "01/20"})
    assert bad.status_code == 422 and "此卡已過有效期限" in bad.get_data(as_text=True)
    assert _count(CardTransaction) == 0 and _count(PaymentNotice) == 0
    db.session.expire_all()
    order = db.session.scalar(select(CheckoutOrder).execution_options(unscoped=True))
    assert order.status is OrderStatus.PENDING and order.failed_attempts == 1


def test_consumer_installments_are_offered_from_1000_and_never_for_ticket_orders(ctx, client) -> None:  # noqa: ANN001
    plain, ticket = make_checkout_store(), make_checkout_store(ticket=True)
    db.session.commit()
    small = client.get(_pay_url(_checkout(client, aio_form(plain, amount="999")))).get_data(as_text=True)
    big_url = _pay_url(_checkout(client, aio_form(plain, amount="1000", CreditInstallment="3,6")))
    big = client.get(big_url).get_data(as_text=True)
    ticket_page = client.get(_pay_url(_checkout(client, aio_form(
        ticket, amount="5000", CreditInstallment="3,6")))).get_data(as_text=True)
    assert "自費分期" not in small
    assert all(f"自費分期 {n} 期" in big for n in (6, 12, 24, 30)) and "分期 3 期" in big
    assert "自費分期" not in ticket_page and "分期 3 期" not in ticket_page
    client.post(big_url, data=CARD | {"plan": "c12", "card_number": "4311952222222222"})
    txn = db.session.scalar(select(CardTransaction).execution_options(unscoped=True))
    assert txn.consumer_installment_periods == 12 and txn.installment_periods == 0
    orders = db.session.scalars(select(CheckoutOrder).execution_options(unscoped=True)).all()
    assert {o.is_ticket_order for o in orders if o.store_id == ticket.id} == {True}


def test_a_plan_not_offered_is_refused(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store(ticket=True)
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, amount="5000")))
    response = client.post(url, data=CARD | {"plan": "c12"})
    assert response.status_code == 422 and _count(CardTransaction) == 0


def test_an_unknown_token_is_404(client) -> None:  # noqa: ANN001
    assert client.get("/Cashier/pay/nope").status_code == 404
    assert client.post("/Cashier/pay/nope", data=CARD).status_code == 404


def _query(client, store, trade_no: str, **extra: str):  # noqa: ANN001, ANN202
    fields = {"MerchantID": store.merchant_code, "MerchantTradeNo": trade_no,
              "TimeStamp": str(int(clock.now().timestamp()))} | extra
    response = client.post("/Cashier/QueryTradeInfo/V5", csrf=False,
                           data=checkmac.signed(fields, *STAGE_KEYS))
    assert response.status_code == 200
    return dict(parse_qsl(response.get_data(as_text=True), keep_blank_values=True))


def test_query_trade_info(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="Q1", ReturnURL=LOCAL_RETURN)))
    assert _query(client, store, "Q1")["TradeStatus"] == "0"
    client.post(url, data=CARD)
    answer = _query(client, store, "Q1")
    assert answer["TradeStatus"] == "1" and answer["TradeAmt"] == "1200"
    assert checkmac.verify(answer, *STAGE_KEYS)
    assert _query(client, store, "NOPE")["TradeStatus"] == "10200047"
    assert _query(client, store, "Q1", TimeStamp="1")["TradeStatus"] == "10000100"
    from app.ecpay.models import IntegrationSettings

    db.session.add(IntegrationSettings(store_id=store.id, allowed_ips="203.0.113.10"))
    db.session.commit()
    assert _query(client, store, "Q1")["TradeStatus"] == "10000103"


def _posted(html: str) -> dict[str, str]:
    """The hidden fields of the result page's form to OrderResultURL."""
    return {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', html)
            if k != "csrf_token"}


def _history_actions(order: CheckoutOrder) -> list[str]:
    return [e.action for e in history.entries_for(order, unscoped=True)]


def test_the_last_decline_fails_the_order_and_posts_the_failure(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="LOCKME1", ReturnURL=LOCAL_RETURN)))
    declined = CARD | {"card_number": "4000000000000002"}
    assert [client.post(url, data=declined).status_code for _ in range(5)] == [422] * 4 + [303]
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert 'data-testid="failed"' in html and 'data-testid="paid"' not in html
    assert 'action="https://merchant.example/ecpay/result"' in html and "data-autosubmit" in html
    assert "form-action 'self' https://merchant.example" in page.headers["Content-Security-Policy"]
    posted = _posted(html)
    assert checkmac.verify(posted, *STAGE_KEYS)
    assert posted["RtnCode"] == rules.FAILED_CODE != "1"
    assert posted["RtnMsg"] == "發卡銀行拒絕交易（測試拒絕卡）"
    assert (posted["MerchantTradeNo"], posted["TradeAmt"], posted["CustomField1"]) == (
        "LOCKME1", "1200", "order:42")
    # the order takes no more cards, is not paid, and no ReturnURL notice goes out
    assert client.post(url, data=CARD).status_code == 303
    db.session.expire_all()
    order = db.session.scalar(select(CheckoutOrder).execution_options(unscoped=True))
    assert order.status is OrderStatus.FAILED and order.failed_attempts == 5
    assert _count(CardTransaction) == 0 and _count(PaymentNotice) == 0
    assert _history_actions(order).count("checkout_declined") == 5
    assert "checkout_failed" in _history_actions(order)
    assert _query(client, store, "LOCKME1")["TradeStatus"] == "0"
    _refused(client, aio_form(store, trade_no="LOCKME1", ReturnURL=LOCAL_RETURN), "10200047")


def test_giving_up_after_a_decline_posts_the_failure_to_order_result_url(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="GIVEUP1", ReturnURL=LOCAL_RETURN,
                                              NeedExtraPaidInfo="Y")))
    assert 'data-testid="give-up"' not in client.get(url).get_data(as_text=True)
    declined = client.post(url, data=CARD | {"cvv": "123"})
    text = declined.get_data(as_text=True)
    assert declined.status_code == 422 and "安全碼錯誤" in text
    assert 'data-testid="give-up"' in text and "放棄付款，返回商店" in text
    assert client.post(url, data=CARD | {"cvv": "124"}).status_code == 422  # may retry
    given_up = client.post(f"{url}/give-up")
    assert given_up.status_code == 303 and given_up.headers["Location"].endswith(url)
    html = client.get(url).get_data(as_text=True)
    posted = _posted(html)
    assert checkmac.verify(posted, *STAGE_KEYS)
    assert (posted["RtnCode"], posted["RtnMsg"]) == (rules.FAILED_CODE, "安全碼錯誤，交易未授權")
    assert (posted["MerchantTradeNo"], posted["TradeAmt"], posted["PaymentTypeChargeFee"]) == (
        "GIVEUP1", "1200", "0")
    assert posted["auth_code"] == "" and posted["card4no"] == ""
    # the same field set as a paid order's result (NeedExtraPaidInfo=Y)
    paid_url = _pay_url(_checkout(client, aio_form(store, trade_no="PAIDOK1", ReturnURL=LOCAL_RETURN,
                                                   NeedExtraPaidInfo="Y")))
    client.post(paid_url, data=CARD)
    assert set(_posted(client.get(paid_url).get_data(as_text=True))) == set(posted)
    db.session.expire_all()
    order = db.session.scalar(select(CheckoutOrder).where(CheckoutOrder.merchant_trade_no == "GIVEUP1")
                              .execution_options(unscoped=True))
    assert order.status is OrderStatus.FAILED and order.failed_at is not None
    assert _count(CardTransaction) == 1 and _count(PaymentNotice) == 1  # the paid order's only
    assert client.post(url, data=CARD).status_code == 303
    assert _count(CardTransaction) == 1


def test_giving_up_before_any_decline_changes_nothing(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN)))
    assert client.post(f"{url}/give-up").status_code == 303
    db.session.expire_all()
    order = db.session.scalar(select(CheckoutOrder).execution_options(unscoped=True))
    assert order.status is OrderStatus.PENDING
    assert client.post(url, data=CARD).status_code == 303
    db.session.expire_all()
    assert order.status is OrderStatus.PAID
    assert client.post("/Cashier/pay/nope/give-up").status_code == 404


def test_a_failed_order_without_order_result_url_links_to_client_back_url(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN, OrderResultURL="",
                                              ClientBackURL="https://merchant.example/shop")))
    page = client.post(url, data=CARD | {"card_number": "4000000000000002"}).get_data(as_text=True)
    # after a decline the give-up button stands in for the plain link
    assert 'data-testid="give-up"' in page and 'href="https://merchant.example/shop"' not in page
    client.post(f"{url}/give-up")
    html = client.get(url).get_data(as_text=True)
    assert 'data-testid="failed"' in html and "發卡銀行拒絕交易" in html
    assert 'data-testid="result-form"' not in html
    assert _client_back(html) == "https://merchant.example/shop"
    assert _count(PaymentNotice) == 0


def _client_back(html: str) -> str | None:
    found = re.search(r'<a [^>]*href="([^"]*)"[^>]*data-testid="client-back"', html)
    return unescape(found.group(1)) if found else None


def _paid_result(client, store, **extra: str) -> str:  # noqa: ANN001
    url = _pay_url(_checkout(client, aio_form(store, ReturnURL=LOCAL_RETURN, **extra)))
    assert client.post(url, data=CARD).status_code == 303
    return client.get(url).get_data(as_text=True)


def test_the_result_page_links_back_to_client_back_url(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    back = "https://merchant.example/shop?from=ectix&order=42"
    html = _paid_result(client, store, OrderResultURL="", ClientBackURL=back)
    assert 'data-testid="paid"' in html and 'data-testid="result-form"' not in html
    assert _client_back(html) == back and ">返回商店</a>" in html
    # neither URL: no link to nowhere, the page says it may be closed
    html = _paid_result(client, store, OrderResultURL="")
    assert _client_back(html) is None and 'data-testid="no-back"' in html
    # OrderResultURL wins over ClientBackURL (the result is posted there instead)
    html = _paid_result(client, store, ClientBackURL=back)
    assert _client_back(html) is None and 'data-testid="result-form"' in html


def test_paid_reactions_run_in_the_payment_transaction(ctx, client, monkeypatch) -> None:  # noqa: ANN001
    from app.checkout import services

    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(services, "PAID_REACTIONS",
                        [lambda order, txn: seen.append((order.merchant_trade_no, txn.card_last4))])
    store = make_checkout_store(ticket=True)
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="TICKET1", ReturnURL=LOCAL_RETURN)))
    client.post(url, data=CARD | HOLDER)
    assert seen == [("TICKET1", "2222")]


def test_a_ticket_order_asks_for_the_cardholder(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store(ticket=True)
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="TICKET2", ReturnURL=LOCAL_RETURN)))
    page = client.get(url).get_data(as_text=True)
    assert 'name="holder_name"' in page and 'name="holder_mobile"' in page
    missing = client.post(url, data=CARD | {"holder_mobile": "12345"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert "請輸入持卡人姓名" in text and "請輸入正確的手機號碼" in text
    assert _count(CardTransaction) == 0
    client.post(url, data=CARD | HOLDER)
    txn = db.session.scalar(select(CardTransaction))
    assert (txn.holder_name, txn.holder_mobile, txn.holder_email) == (
        "王小明", "0912345678", "ming@example.com")


def test_other_orders_do_not_ask_for_the_cardholder(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    db.session.commit()
    url = _pay_url(_checkout(client, aio_form(store, trade_no="PLAIN1", ReturnURL=LOCAL_RETURN)))
    assert 'name="holder_name"' not in client.get(url).get_data(as_text=True)
