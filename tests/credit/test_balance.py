"""The store's card balance (app.credit.balance): a refund above it is refused — on the page with
the balance said, through DoAction as 2005 — and refunds of one store racing on different
transactions (PostgreSQL) never overdraw it. Also DoAction E on a closed transaction takes the
sum of its pending refunds."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.checkout.models import TransactionStatus as S
from app.credit import balance, jobs, refunds
from app.credit.models import CardRefund, RefundStatus
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from tests.concurrency import Ready, run_at_once
from tests.credit import doaction_client as ecpay
from tests.credit.helpers import make_card_transaction
from tests.factories import STAGE_KEYS, login, make_account, make_checkout_store

NOW = clock.taipei_datetime(2026, 11, 21, 14, 0)
URL = "/1.0.0/Credit/DoAction"
K, IV = STAGE_KEYS


@pytest.fixture
def frozen(ctx):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    yield ctx
    clock.unfreeze()


def _refunds(store_id: int) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [(r.amount, r.status.value) for r in db.session.scalars(
        select(CardRefund).where(CardRefund.store_id == store_id).order_by(CardRefund.id))]


def test_the_balance_is_money_closed_and_not_yet_paid_out_less_refunds_not_netted(frozen) -> None:  # noqa: ANN001
    store = make_checkout_store()  # contract: 撥款天期 7 days
    make_card_transaction(store, amount=1000, status=S.CLOSED)  # closed today
    make_card_transaction(store, amount=300, status=S.CLOSE_REQUESTED)
    make_card_transaction(store, amount=5000, status=S.CLOSED,
                          authorised_at=NOW - timedelta(days=7))  # paid out today
    make_card_transaction(store, amount=700, status=S.CLOSED,
                          authorised_at=NOW - timedelta(days=6))  # paid out tomorrow
    make_card_transaction(store, amount=9000)  # authorised: nothing held yet
    make_card_transaction(store, amount=8000, status=S.ABANDONED)
    make_card_transaction(make_checkout_store(), amount=4000, status=S.CLOSED)  # another store
    db.session.flush()
    assert balance.of(store.id) == 1000 + 300 + 700
    assert balance.of(store.id, clock.business_day() + timedelta(days=1)) == 1000 + 300


def test_refunds_lower_the_balance_until_the_payout_of_their_settlement_day(frozen) -> None:  # noqa: ANN001
    store = make_checkout_store()
    txn = make_card_transaction(store, amount=1000, status=S.CLOSED)
    refunds.refund(txn, 400)
    assert balance.of(store.id) == 600
    db.session.commit()
    jobs.daily_close(clock.taipei_datetime(2026, 11, 21, 20, 15).isoformat())
    assert _refunds(store.id) == [(400, "settled")]
    assert balance.of(store.id) == 600
    day = clock.business_day()
    # day 7: the close of the 21st is paid out (1,000) and the refund settled that day is netted
    assert balance.of(store.id, day + timedelta(days=6)) == 600
    assert balance.of(store.id, day + timedelta(days=7)) == 0


def test_a_refund_of_paid_out_money_needs_the_balance(frozen) -> None:  # noqa: ANN001
    store = make_checkout_store()
    old = make_card_transaction(store, amount=1000, status=S.CLOSED,
                                authorised_at=NOW - timedelta(days=10))
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        refunds.refund(old, 100)
    assert refused.value.code == "insufficient_balance"
    assert "帳戶餘額不足" in refused.value.message and "NT$0" in refused.value.message
    db.session.rollback()
    make_card_transaction(store, amount=250, status=S.CLOSED)  # closed today: 250 held
    db.session.commit()
    refunds.refund(old, 250)
    db.session.commit()
    with pytest.raises(DomainError, match="帳戶餘額不足"):
        refunds.refund(old, 1)
    db.session.rollback()
    assert _refunds(store.id) == [(250, "pending")]


def test_the_page_says_the_balance_and_refuses_a_refund_above_it(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    old = make_card_transaction(store, amount=1000, status=S.CLOSED,
                                authorised_at=NOW - timedelta(days=10))
    make_card_transaction(store, amount=300, status=S.CLOSED)
    db.session.commit()
    login(client, main.username)
    detail = client.get(f"/vendor/credit/transactions/{old.id}").get_data(as_text=True)
    assert 'data-testid="card-balance"' in detail and "帳戶可退刷餘額 NT$300" in detail
    before = db.session.scalar(select(func.count(HistoryEntry.id)))
    response = client.post(f"/vendor/credit/transactions/{old.id}/refund", data={"amount": "301"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "帳戶餘額不足，無法退刷（可退刷餘額 NT$300）" in html
    assert _refunds(store.id) == []
    assert db.session.scalar(select(func.count(HistoryEntry.id))) == before
    ok = client.post(f"/vendor/credit/transactions/{old.id}/refund", data={"amount": "300"})
    assert ok.status_code in (302, 303)
    assert _refunds(store.id) == [(300, "pending")]


def _doaction(client, store, txn, action: str, amount: int) -> dict:  # noqa: ANN001
    data = {"MerchantID": store.merchant_code, "MerchantTradeNo": txn.order.merchant_trade_no,
            "TradeNo": txn.order.trade_no, "Action": action, "TotalAmount": amount}
    body = ecpay.request_body(store.merchant_code, data, K, IV,
                              timestamp=int(clock.now().timestamp()))
    response = client.post(URL, data=json.dumps(body), content_type="application/json",
                           csrf=False)
    outer = response.get_json()
    assert outer["TransCode"] == 1
    return ecpay.decrypt(outer["Data"], K, IV)


def test_doaction_refund_above_the_balance_is_2005(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    old = make_card_transaction(store, amount=1000, status=S.CLOSED,
                                authorised_at=NOW - timedelta(days=10))
    make_card_transaction(store, amount=200, status=S.CLOSE_REQUESTED)
    db.session.commit()
    inner = _doaction(client, store, old, "R", 201)
    assert (inner["RtnCode"], inner["RtnMsg"]) == (2005, "Insufficient balance")
    assert _refunds(store.id) == []
    assert _doaction(client, store, old, "R", 200)["RtnCode"] == 1
    assert _refunds(store.id) == [(200, "pending")]


def test_doaction_cancel_on_a_closed_transaction_takes_the_sum_of_its_pending_refunds(frozen, client) -> None:  # noqa: ANN001, E501
    store = make_checkout_store()
    txn = make_card_transaction(store, amount=1000, status=S.CLOSED)
    refunds.refund(txn, 300)
    refunds.refund(txn, 150)
    db.session.commit()
    assert _doaction(client, store, txn, "E", 1000)["RtnCode"] == 2004  # not the full amount
    assert _refunds(store.id) == [(300, "pending"), (150, "pending")]
    assert _doaction(client, store, txn, "E", 450)["RtnCode"] == 1
    assert _refunds(store.id) == [(300, "cancelled"), (150, "cancelled")]
    # nothing pending any more: E is refused for the state, whatever the amount
    assert _doaction(client, store, txn, "E", 1000)["RtnCode"] == 2003


@pytest.mark.postgres
def test_refunds_racing_on_different_transactions_never_overdraw_the_balance(pg_app) -> None:  # noqa: ANN001
    clock.freeze(NOW)
    try:
        with pg_app.app_context():
            store = make_checkout_store()
            make_card_transaction(store, amount=1000, status=S.CLOSED)  # the only money held
            olds = [make_card_transaction(store, amount=1000, status=S.CLOSED,
                                          authorised_at=NOW - timedelta(days=20)).id
                    for _ in range(10)]
            store_id = store.id
            db.session.commit()

        def take(txn_id: int, ready: Ready) -> int:
            txn = db.session.get(refunds.CardTransaction, txn_id,
                                 execution_options={"unscoped": True})
            ready()
            return refunds.refund(txn, 300).amount

        outcomes = run_at_once(pg_app, take, olds)
        taken = [o for o in outcomes if o == 300]
        assert len(taken) == 3, outcomes
        assert all(o.code == "insufficient_balance" for o in outcomes if isinstance(o, DomainError))
        with pg_app.app_context():
            assert balance.of(store_id) == 100
            total = db.session.scalar(select(func.sum(CardRefund.amount)).where(
                CardRefund.status == RefundStatus.PENDING).execution_options(unscoped=True))
            assert total == 900
            entries = db.session.scalar(select(func.count(HistoryEntry.id)).where(
                HistoryEntry.action == "card_refund").execution_options(unscoped=True))
            assert entries == 3
    finally:
        clock.unfreeze()
