"""POST /1.0.0/Credit/DoAction: the published vectors, a client written from the protocol that
closes, cancels a close and abandons, every envelope and Data refusal answered as the protocol
says with nothing changed, and (PostgreSQL) an API close racing a page's abandon."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder, OrderStatus, TransactionStatus
from app.credit import services
from app.credit.api import MAX_BODY
from app.credit.models import CardRefund
from app.credit.states import Action
from app.db import db
from app.ecpay import keys
from app.ecpay.models import IntegrationSettings
from app.errors import DomainError
from app.history import HistoryEntry
from tests.concurrency import Ready, run_at_once
from tests.credit import doaction_client as ecpay
from tests.factories import STAGE_KEYS, login, make_account, make_checkout_store

VECTORS = json.loads((Path(__file__).parents[1] / "ecpay" / "vectors.json").read_text("utf-8"))
URL = "/1.0.0/Credit/DoAction"
NOW = clock.taipei_datetime(2026, 5, 4, 10, 0)
K, IV = STAGE_KEYS


def make_transaction(store, *, merchant_trade_no: str = "M20260501001",  # noqa: ANN001
                     trade_no: str = "2605011000001234", amount: int = 1200,
                     status: TransactionStatus = TransactionStatus.AUTHORISED,
                     authorised_at=None) -> CardTransaction:  # noqa: ANN001
    at = authorised_at or NOW - timedelta(days=1)
    order = CheckoutOrder(store_id=store.id, merchant_trade_no=merchant_trade_no,
                          trade_no=trade_no, token=f"tok{merchant_trade_no}{trade_no}",
                          total_amount=amount, item_name="咖啡兌換券", trade_desc="d",
                          return_url="https://merchant.example/r",
                          merchant_trade_date="2026/05/01 10:00:00", fields={},
                          status=OrderStatus.PAID, created_at=at, paid_at=at)
    db.session.add(order)
    db.session.flush()
    txn = CardTransaction(store_id=store.id, order_id=order.id, amount=amount,
                          card_first6="431195", card_last4="2222", brand="VISA",
                          auth_code="777777", auth_serial="13955622", acquirer="sandbox",
                          authorised_at=at, status=status)
    db.session.add(txn)
    db.session.flush()
    return txn


def _data(store, txn: CardTransaction, action: str, **extra) -> dict:  # noqa: ANN001, ANN003
    return {"MerchantID": store.merchant_code, "MerchantTradeNo": txn.order.merchant_trade_no,
            "TradeNo": txn.order.trade_no, "Action": action, "TotalAmount": txn.amount} | extra


def _post(client, body) -> dict:  # noqa: ANN001
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = client.post(URL, data=raw, content_type="application/json", csrf=False)
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    return response.get_json()


def _call(client, store, data, *, pair=STAGE_KEYS, ts=None) -> tuple[dict, dict | None]:  # noqa: ANN001
    stamp = int((ts or clock.now()).timestamp())
    outer = _post(client, ecpay.request_body(store.merchant_code, data, *pair, timestamp=stamp))
    inner = ecpay.decrypt(outer["Data"], *pair) if outer["TransCode"] == 1 else None
    return outer, inner


def _history() -> int:
    return db.session.scalar(select(func.count()).select_from(HistoryEntry))


def _status(txn: CardTransaction) -> TransactionStatus:
    db.session.expire_all()
    return db.session.get(CardTransaction, txn.id, execution_options={"unscoped": True}).status


@pytest.fixture
def frozen(ctx):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    yield ctx
    clock.unfreeze()


# The published vectors --------------------------------------------------------------------------

def test_the_spec_client_reproduces_the_b3_vectors() -> None:
    req, resp = VECTORS["B"]["B3req"], VECTORS["B"]["B3resp"]
    assert ecpay.encrypt(req["plaintext_json"], req["hashKey"], req["hashIV"]) == req["expected_base64"]
    assert ecpay.decrypt(resp["expected_base64"], resp["hashKey"], resp["hashIV"]) \
        == json.loads(resp["plaintext_json"])


def test_b3_request_closes_and_is_answered_with_the_b3_response(frozen, client) -> None:  # noqa: ANN001
    req, resp = VECTORS["B"]["B3req"], VECTORS["B"]["B3resp"]
    store = make_checkout_store()
    store.merchant_code = "3002607"
    txn = make_transaction(store, merchant_trade_no="20180914001", trade_no="1809261503338172",
                           amount=100)
    db.session.commit()
    outer = _post(client, {"MerchantID": "3002607", "RqHeader": {"Timestamp": int(NOW.timestamp())},
                           "Data": req["expected_base64"]})
    assert outer == {"MerchantID": "3002607", "RpHeader": {"Timestamp": int(NOW.timestamp())},
                     "TransCode": 1, "TransMsg": "Success", "Data": outer["Data"]}
    # The vector's Data has PlatformID, so ours echoes it; without it the bytes are B3resp's.
    assert ecpay.decrypt(outer["Data"], K, IV) == {"RtnCode": 1, "RtnMsg": "Succeeded",
                                                   "PlatformID": "3002607",
                                                   "MerchantID": "3002607",
                                                   "MerchantTradeNo": "20180914001",
                                                   "TradeNo": "1809261503338172"}
    assert _status(txn) is TransactionStatus.CLOSE_REQUESTED
    services.perform(db.session.get(CardTransaction, txn.id, execution_options={"unscoped": True}),
                     Action.CANCEL_CLOSE)
    db.session.commit()
    data = {k: v for k, v in json.loads(req["plaintext_json"]).items() if k != "PlatformID"}
    outer = _post(client, ecpay.request_body("3002607", data, req["hashKey"], req["hashIV"],
                                             timestamp=int(NOW.timestamp())))
    assert outer["Data"] == resp["expected_base64"]


# The client closes, cancels a close and abandons ---------------------------------------------------

def test_close_cancel_close_then_abandon_through_the_api(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.commit()
    for action, after in (("C", TransactionStatus.CLOSE_REQUESTED),
                          ("E", TransactionStatus.AUTHORISED),
                          ("N", TransactionStatus.ABANDONED)):
        outer, inner = _call(client, store, _data(store, txn, action))
        assert (outer["TransCode"], outer["TransMsg"]) == (1, "Success")
        assert inner == {"RtnCode": 1, "RtnMsg": "Succeeded", "MerchantID": store.merchant_code,
                         "MerchantTradeNo": "M20260501001", "TradeNo": "2605011000001234"}
        assert _status(txn) is after
    row = db.session.get(CardTransaction, txn.id, execution_options={"unscoped": True})
    assert row.auto_close is False and row.abandoned_at is not None
    actions = db.session.scalars(select(HistoryEntry.action).where(
        HistoryEntry.subject_id == txn.id, HistoryEntry.subject_type == "card_transactions")
        .order_by(HistoryEntry.id)).all()
    assert actions == ["card_close", "card_cancel_close", "card_abandon"]


def test_strings_as_php_clients_send_them_are_accepted(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.commit()
    outer, inner = _call(client, store, _data(store, txn, "C", TotalAmount="1200", PlatformID=""))
    assert inner["RtnCode"] == 1 and "PlatformID" not in inner
    assert _status(txn) is TransactionStatus.CLOSE_REQUESTED


def test_the_previous_pair_works_for_24_hours(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    keys.install_pair(store.id, keys.Pair("A" * 16, "B" * 16))
    db.session.commit()
    outer, inner = _call(client, store, _data(store, txn, "C"))
    assert inner["RtnCode"] == 1
    outer, inner = _call(client, store, _data(store, txn, "E"), pair=keys.Pair("A" * 16, "B" * 16))
    assert inner["RtnCode"] == 1
    clock.freeze(NOW + timedelta(hours=24, seconds=1))
    outer, inner = _call(client, store, _data(store, txn, "C"))
    assert (outer["TransCode"], outer["TransMsg"], outer["Data"]) == (10005, "Data decrypt failed", "")
    assert _status(txn) is TransactionStatus.AUTHORISED


# Refusals: each answered as the protocol says, nothing changed -------------------------------------

def _envelope_refused(client, body, code: int, message: str) -> dict:  # noqa: ANN001
    before = _history()
    outer = _post(client, body)
    assert (outer["TransCode"], outer["TransMsg"], outer["Data"]) == (code, message, "")
    assert set(outer) == {"MerchantID", "RpHeader", "TransCode", "TransMsg", "Data"}
    assert _history() == before
    return outer


def test_envelope_refusals(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    other = make_checkout_store()
    db.session.commit()
    stamp = int(NOW.timestamp())
    good = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV, timestamp=stamp)
    _envelope_refused(client, "not json", 10001, "Invalid request format")
    _envelope_refused(client, "[1, 2]", 10001, "Invalid request format")
    _envelope_refused(client, b"\xff\xfe", 10001, "Invalid request format")
    for name, body in (("MerchantID", good | {"MerchantID": ""}),
                       ("MerchantID", good | {"MerchantID": ["x"]}),
                       # a String: its own number as a JSON integer is mistyped, not its digits
                       ("MerchantID", good | {"MerchantID": int(store.merchant_code)}),
                       ("RqHeader.Timestamp", good | {"RqHeader": {}}),
                       ("RqHeader.Timestamp", good | {"RqHeader": {"Timestamp": "soon"}}),
                       ("Data", good | {"Data": 5})):
        _envelope_refused(client, body, 10002, f"Invalid parameter: {name}")
    _envelope_refused(client, good | {"MerchantID": "1234567"}, 10003, "Merchant not authorised")
    for late in (-601, 601):
        _envelope_refused(client, good | {"RqHeader": {"Timestamp": stamp + late}}, 10004,
                          "Timestamp expired")
    assert _post(client, good | {"RqHeader": {"Timestamp": stamp - 600}})["TransCode"] == 1
    db.session.commit()
    txn = make_transaction(store, merchant_trade_no="M2", trade_no="2605011000009999")
    db.session.commit()
    good = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV, timestamp=stamp)
    _envelope_refused(client, good | {"Data": "not base64!"}, 10005, "Data decrypt failed")
    _envelope_refused(client, good | {"Data": good["Data"][:-8]}, 10005, "Data decrypt failed")
    wrong_key = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), "x" * 16, IV,
                                   timestamp=stamp)
    _envelope_refused(client, wrong_key, 10005, "Data decrypt failed")
    for text in ("{not json", "[1]"):
        _envelope_refused(client, good | {"Data": ecpay.encrypt(text, K, IV)}, 10006,
                          "Data is not valid JSON")
    for data in (_data(store, txn, "C", MerchantID=other.merchant_code),
                 _data(store, txn, "C", PlatformID=other.merchant_code)):
        _envelope_refused(client, good | {"Data": ecpay.encrypt(data, K, IV)}, 10008,
                          "MerchantID mismatch")
    assert _status(txn) is TransactionStatus.AUTHORISED


def test_an_address_outside_the_allowed_list_is_not_authorised(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.add(IntegrationSettings(store_id=store.id, allowed_ips="203.0.113.0/24"))
    db.session.commit()
    body = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV,
                              timestamp=int(NOW.timestamp()))
    _envelope_refused(client, body, 10003, "Merchant not authorised")
    db.session.execute(IntegrationSettings.__table__.update().values(allowed_ips="127.0.0.1"))
    db.session.commit()
    assert _post(client, body)["TransCode"] == 1


def _refused(client, store, txn, data, code: int, message: str) -> None:  # noqa: ANN001
    before, status = _history(), _status(txn)
    outer, inner = _call(client, store, data)
    assert outer["TransCode"] == 1
    assert (inner["RtnCode"], inner["RtnMsg"]) == (code, message)
    assert inner["MerchantID"] == store.merchant_code
    assert _history() == before and _status(txn) is status


def test_data_refusals(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    other = make_checkout_store()
    txn = make_transaction(store)
    theirs = make_transaction(other, merchant_trade_no="THEIRS1", trade_no="2605011000005555")
    old = make_transaction(store, merchant_trade_no="OLD1", trade_no="2605011000007777",
                           authorised_at=NOW - timedelta(days=30))
    db.session.commit()
    for name, data in (("MerchantTradeNo", _data(store, txn, "C", MerchantTradeNo="")),
                       ("MerchantTradeNo", _data(store, txn, "C", MerchantTradeNo="X" * 21)),
                       ("TradeNo", _data(store, txn, "C", TradeNo=None)),
                       ("Action", _data(store, txn, "X")),
                       ("Action", _data(store, txn, "c")),
                       ("TotalAmount", _data(store, txn, "C", TotalAmount="")),
                       ("TotalAmount", _data(store, txn, "C", TotalAmount=12.5)),
                       ("TotalAmount", _data(store, txn, "C", TotalAmount="-5"))):
        _refused(client, store, txn, data, 2001, f"Parameter error: {name}")
    _refused(client, store, txn, _data(store, txn, "C", TradeNo="2605011000000000"), 2002,
             "Transaction not found")
    # another store's transaction is not found under this MerchantID
    _refused(client, store, txn, _data(store, theirs, "C", MerchantID=store.merchant_code), 2002,
             "Transaction not found")
    for action in ("C", "N"):
        _refused(client, store, txn, _data(store, txn, action, TotalAmount=1199), 2004,
                 "TotalAmount error")
    _refused(client, store, txn, _data(store, txn, "E"), 2003,
             "Action not allowed in state authorised")
    _refused(client, store, old, _data(store, old, "C"), 2006, "error_overDate")
    _refused(client, store, txn, _data(store, txn, "R", TotalAmount=100), 2003,
             "Action not allowed in state authorised")  # not closed: abandon it instead
    assert _call(client, store, _data(store, txn, "N"))[1]["RtnCode"] == 1
    for action in ("C", "E", "N"):
        _refused(client, store, txn, _data(store, txn, action), 2003,
                 "Action not allowed in state abandoned")


def test_a_system_error_is_10099_and_no_500(frozen, client, monkeypatch) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.commit()

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "perform", broken)
    body = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV,
                              timestamp=int(NOW.timestamp()))
    answer = _envelope_refused(client, body, 10099, "System error")
    assert answer["MerchantID"] == ""  # nothing of the request is echoed after a crash
    assert _status(txn) is TransactionStatus.AUTHORISED


def _post_as(client, raw: bytes | str, content_type: str) -> dict:  # noqa: ANN001
    response = client.post(URL, data=raw, content_type=content_type, csrf=False)
    assert (response.status_code, response.content_type) == (200, "application/json; charset=utf-8")
    return response.get_json()


FORM_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain",
              "multipart/form-data")


def test_a_body_over_the_limit_is_10001_in_the_envelope_never_a_413(frozen, app, client) -> None:  # noqa: ANN001
    """Past DoAction's own limit (64 KiB) and past the app's (MAX_CONTENT_LENGTH, where the
    rest of the app answers 413): HTTP 200 and the envelope's 10001, whatever the Content-Type."""
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.commit()
    good = json.dumps(ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV,
                                         timestamp=int(NOW.timestamp())))
    padded = good + " " * (MAX_BODY - len(good))  # still JSON: accepted at the limit, not past it
    for raw in (padded + " ", b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)):
        for content_type in FORM_TYPES:
            before = _history()
            outer = _post_as(client, raw, content_type)
            assert (outer["TransCode"], outer["TransMsg"], outer["Data"]) == (
                10001, "Invalid request format", ""), (len(raw), content_type)
            assert _history() == before
    assert _status(txn) is TransactionStatus.AUTHORISED
    assert _post_as(client, padded, "application/json")["TransCode"] == 1
    assert _status(txn) is TransactionStatus.CLOSE_REQUESTED


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_the_body_is_json_whatever_the_content_type(frozen, client, content_type) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_transaction(store)
    db.session.commit()
    body = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV,
                              timestamp=int(NOW.timestamp()))
    outer = _post_as(client, json.dumps(body), content_type)
    assert ecpay.decrypt(outer["Data"], K, IV)["RtnCode"] == 1
    assert _status(txn) is TransactionStatus.CLOSE_REQUESTED


# A race on PostgreSQL ------------------------------------------------------------------------------

@pytest.mark.postgres
def test_an_api_close_and_a_page_abandon_race_with_one_winner(pg_app) -> None:  # noqa: ANN001
    clock.freeze(NOW)
    try:
        with pg_app.app_context():
            store = make_checkout_store()
            txn = make_transaction(store)
            body = ecpay.request_body(store.merchant_code, _data(store, txn, "C"), K, IV,
                                      timestamp=int(NOW.timestamp()))
            txn_id = txn.id
            db.session.commit()

        def work(who: str, ready: Ready):  # noqa: ANN202
            if who == "api":
                client = pg_app.test_client()
                ready()
                response = client.post(URL, data=json.dumps(body),
                                       content_type="application/json", csrf=False)
                inner = ecpay.decrypt(response.get_json()["Data"], K, IV)
                return inner["RtnCode"]
            row = db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True})
            ready()
            services.perform(row, Action.ABANDON)
            return 1

        outcomes = run_at_once(pg_app, work, ["api", "page"])
        with pg_app.app_context():
            final = db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True})
            api_won = outcomes[0] == 1
            page_won = outcomes[1] == 1
            assert api_won != page_won, outcomes
            if api_won:
                assert isinstance(outcomes[1], DomainError)
                assert final.status is TransactionStatus.CLOSE_REQUESTED
            else:
                assert outcomes[0] == 2003
                assert final.status is TransactionStatus.ABANDONED
    finally:
        clock.unfreeze()


@pytest.mark.postgres
def test_an_api_refund_and_a_page_cancel_close_leave_no_refund_on_an_open_authorisation(pg_app) -> None:  # noqa: ANN001, E501
    """Whichever wins, the end agrees: a refund taken first is cancelled with the close; a
    cancel-close first leaves an authorised transaction the refund is refused on."""
    clock.freeze(NOW)
    try:
        seen = set()
        for round_ in range(4):
            with pg_app.app_context():
                store = make_checkout_store()
                txn = make_transaction(store, status=TransactionStatus.CLOSE_REQUESTED,
                                       merchant_trade_no=f"R{round_}",
                                       trade_no=f"26050110000099{round_:02d}")
                body = ecpay.request_body(store.merchant_code,
                                          _data(store, txn, "R", TotalAmount=300), K, IV,
                                          timestamp=int(NOW.timestamp()))
                txn_id = txn.id
                db.session.commit()

            def work(who: str, ready: Ready, body: dict = body, txn_id: int = txn_id):  # noqa: ANN202
                if who == "api":
                    client = pg_app.test_client()
                    ready()
                    response = client.post(URL, data=json.dumps(body),
                                           content_type="application/json", csrf=False)
                    return ecpay.decrypt(response.get_json()["Data"], K, IV)["RtnCode"]
                row = db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True})
                ready()
                services.perform(row, Action.CANCEL_CLOSE)
                return 1

            outcomes = run_at_once(pg_app, work, ["api", "page"])
            with pg_app.app_context():
                final = db.session.get(CardTransaction, txn_id,
                                       execution_options={"unscoped": True})
                pending = db.session.scalars(select(CardRefund.status).where(
                    CardRefund.transaction_id == txn_id)).all()
                assert outcomes[1] == 1 and final.status is TransactionStatus.AUTHORISED
                assert all(status.value == "cancelled" for status in pending), pending
                assert (outcomes[0] == 1) == (len(pending) == 1), (outcomes, pending)
                seen.add(outcomes[0])
        assert seen <= {1, 2003}
    finally:
        clock.unfreeze()


@pytest.mark.postgres
def test_a_page_close_and_an_api_refund_race_to_one_consistent_outcome(pg_app) -> None:  # noqa: ANN001
    """A merchant presses 關帳 on the page while its server sends R for the same authorised
    transaction: the close always lands; the refund lands only if the close came first (then
    it is a partial refund of a close-requested transaction), else 2003; the history has one
    entry per change, the close before the refund."""
    clock.freeze(NOW)
    try:
        seen = set()
        for round_ in range(4):
            with pg_app.app_context():
                store = make_checkout_store()
                main = make_account(store)
                txn = make_transaction(store, merchant_trade_no=f"P{round_}",
                                       trade_no=f"26050110000088{round_:02d}")
                body = ecpay.request_body(store.merchant_code,
                                          _data(store, txn, "R", TotalAmount=300), K, IV,
                                          timestamp=int(NOW.timestamp()))
                txn_id = txn.id
                db.session.commit()
                page_client = pg_app.test_client()
                login(page_client, main.username)

            def work(who: str, ready: Ready, body: dict = body, txn_id: int = txn_id,  # noqa: ANN202
                     page_client=page_client):  # noqa: ANN001
                if who == "api":
                    client = pg_app.test_client()
                    ready()
                    response = client.post(URL, data=json.dumps(body),
                                           content_type="application/json", csrf=False)
                    return ecpay.decrypt(response.get_json()["Data"], K, IV)["RtnCode"]
                ready()
                response = page_client.post(f"/vendor/credit/transactions/{txn_id}/act",
                                            data={"action": "C"})
                return response.status_code

            outcomes = run_at_once(pg_app, work, ["api", "page"])
            with pg_app.app_context():
                final = db.session.get(CardTransaction, txn_id,
                                       execution_options={"unscoped": True})
                rows = db.session.scalars(select(CardRefund).where(
                    CardRefund.transaction_id == txn_id)
                    .execution_options(unscoped=True)).all()
                entries = db.session.scalars(select(HistoryEntry).where(
                    HistoryEntry.subject_type == "card_transactions",
                    HistoryEntry.subject_id == txn_id).order_by(HistoryEntry.id)
                    .execution_options(unscoped=True)).all()
                assert outcomes[1] in (302, 303), outcomes
                assert final.status is TransactionStatus.CLOSE_REQUESTED
                assert outcomes[0] in (1, 2003), outcomes
                if outcomes[0] == 1:
                    assert [(r.amount, r.status.value) for r in rows] == [(300, "pending")]
                    assert [e.action for e in entries] == ["card_close", "card_refund"]
                else:
                    assert rows == []
                    assert [e.action for e in entries] == ["card_close"]
                assert entries[0].actor_label == main.username
                seen.add(outcomes[0])
        assert seen <= {1, 2003}
    finally:
        clock.unfreeze()


def test_refunds_through_the_api(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    closed = make_transaction(store, status=TransactionStatus.CLOSED)
    requested = make_transaction(store, merchant_trade_no="M20260501002",
                                 trade_no="2605011000001235",
                                 status=TransactionStatus.CLOSE_REQUESTED)
    db.session.commit()
    outer, inner = _call(client, store, _data(store, closed, "R", TotalAmount=300))
    assert (outer["TransCode"], inner["RtnCode"]) == (1, 1)
    _refused(client, store, closed, _data(store, closed, "R", TotalAmount=901), 2004,
             "TotalAmount error: 退刷金額須為正整數，且不可超過可退金額")
    assert _call(client, store, _data(store, closed, "R", TotalAmount="900"))[1]["RtnCode"] == 1
    _refused(client, store, closed, _data(store, closed, "R", TotalAmount=1), 2004,
             "TotalAmount error: 退刷金額須為正整數，且不可超過可退金額")
    # close requested: a partial refund is R, a full one is E then N
    assert _call(client, store, _data(store, requested, "R", TotalAmount=200))[1]["RtnCode"] == 1
    _refused(client, store, requested, _data(store, requested, "R", TotalAmount=1000), 2003,
             "Action not allowed in state close_requested")
    refunds = db.session.scalars(select(CardRefund.amount).where(
        CardRefund.transaction_id.in_([closed.id, requested.id])).order_by(CardRefund.id)).all()
    assert refunds == [300, 900, 200]


def test_the_api_is_busy_during_the_evening_close(ctx, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    quiet = make_checkout_store()
    txn = make_transaction(store)
    other = make_transaction(quiet, merchant_trade_no="M20260501003", trade_no="2605011000001236")
    db.session.add(IntegrationSettings(store_id=quiet.id, auto_close=False))
    db.session.commit()
    try:
        clock.freeze(clock.taipei_datetime(2026, 5, 4, 20, 15))
        _refused(client, store, txn, _data(store, txn, "C"), 2007, "Auto-close in progress")
        clock.freeze(clock.taipei_datetime(2026, 5, 4, 20, 29, 59))
        _refused(client, store, txn, _data(store, txn, "C"), 2007, "Auto-close in progress")
        # a store with auto-close off is not being closed: its calls are answered
        assert _call(client, quiet, _data(quiet, other, "C"))[1]["RtnCode"] == 1
        clock.freeze(clock.taipei_datetime(2026, 5, 4, 20, 30))
        assert _call(client, store, _data(store, txn, "C"))[1]["RtnCode"] == 1
    finally:
        clock.unfreeze()
