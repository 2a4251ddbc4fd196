"""系統介接設定 › 每日自動關帳: the store turns its daily auto-close off (with 修改 of 系統介接設定,
history kept); off, the 20:15 close leaves its authorised transactions alone and its DoAction
calls are answered during the quiet window."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit import jobs
from app.db import db
from app.ecpay.models import IntegrationSettings
from app.history import HistoryEntry
from tests.credit import doaction_client as ecpay
from tests.credit.helpers import make_card_transaction
from tests.factories import STAGE_KEYS, login, make_account, make_checkout_store, make_sub

NOW = clock.taipei_datetime(2026, 11, 21, 14, 0)
SLOT = clock.taipei_datetime(2026, 11, 21, 20, 15)
URL = "/vendor/integration/auto-close"


@pytest.fixture
def shop(ctx, client):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    store = make_checkout_store()
    main = make_account(store)
    db.session.commit()
    login(client, main.username)
    yield store
    clock.unfreeze()


def _status(txn_id: int) -> S:
    db.session.expire_all()
    return db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True}).status


def _setting_entries(store_id: int) -> list[HistoryEntry]:
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.store_id == store_id, HistoryEntry.action == "ecpay_auto_close_updated")
        .order_by(HistoryEntry.id).execution_options(unscoped=True)))


def _doaction(client, store, txn) -> int:  # noqa: ANN001
    data = {"MerchantID": store.merchant_code, "MerchantTradeNo": txn.order.merchant_trade_no,
            "TradeNo": txn.order.trade_no, "Action": "C", "TotalAmount": txn.amount}
    body = ecpay.request_body(store.merchant_code, data, *STAGE_KEYS,
                              timestamp=int(clock.now().timestamp()))
    outer = client.post("/1.0.0/Credit/DoAction", data=json.dumps(body),
                        content_type="application/json", csrf=False).get_json()
    return ecpay.decrypt(outer["Data"], *STAGE_KEYS)["RtnCode"]


def test_turning_auto_close_off_stops_the_evening_close_and_the_busy_answer(shop, client) -> None:  # noqa: ANN001
    page = client.get("/vendor/integration").get_data(as_text=True)
    assert 'data-testid="auto-close-state">開啟' in page  # on by default
    assert 'data-testid="edit-auto-close"' in page
    form = client.get(URL).get_data(as_text=True)
    assert 'value="on" selected' in form or 'selected value="on"' in form
    mine = make_card_transaction(shop)
    other_store = make_checkout_store()
    theirs = make_card_transaction(other_store)
    db.session.commit()
    done = client.post(URL, data={"auto_close": "off"}, follow_redirects=True)
    assert "每日自動關帳設定已更新" in done.get_data(as_text=True)
    assert 'data-testid="auto-close-state">關閉' in done.get_data(as_text=True)
    entries = _setting_entries(shop.id)
    assert len(entries) == 1 and entries[0].changes == {"auto_close": [True, False]}
    again = client.post(URL, data={"auto_close": "off"}, follow_redirects=True)
    assert "未變更" in again.get_data(as_text=True) and len(_setting_entries(shop.id)) == 1
    # the quiet window: this store is answered, a store with auto-close on is busy
    clock.freeze(clock.taipei_datetime(2026, 11, 21, 20, 20))
    assert _doaction(client, other_store, theirs) == 2007
    assert _doaction(client, shop, mine) == 1
    assert _status(mine.id) is S.CLOSE_REQUESTED
    clock.freeze(NOW)
    # the evening close leaves this store's authorised transactions alone
    left = make_card_transaction(shop)
    db.session.commit()
    jobs.daily_close(SLOT.isoformat())
    assert _status(left.id) is S.AUTHORISED
    assert _status(theirs.id) is S.CLOSED
    assert _status(mine.id) is S.CLOSE_REQUESTED  # asked at 20:20: the next evening's
    # on again: the next evening closes it
    client.post(URL, data={"auto_close": "on"})
    assert [e.changes for e in _setting_entries(shop.id)][-1] == {"auto_close": [False, True]}
    jobs.daily_close(clock.taipei_datetime(2026, 11, 22, 20, 15).isoformat())
    assert _status(left.id) is S.CLOSED
    assert _status(mine.id) is S.CLOSED


def test_changing_it_needs_modify_of_the_integration_settings(shop, client) -> None:  # noqa: ANN001
    viewer = make_sub(shop, grants={Function.SYSTEM_INTEGRATION: Level.VIEW})
    credit = make_sub(shop, grants={Function.CREDIT_TRANSACTIONS: Level.MODIFY})
    db.session.commit()
    for account in (viewer, credit):
        client.post("/logout")
        login(client, account.username)
        assert client.get(URL).status_code == 403
        assert client.post(URL, data={"auto_close": "off"}).status_code == 403
    client.post("/logout")
    login(client, viewer.username)
    assert 'data-testid="edit-auto-close"' not in client.get("/vendor/integration").get_data(
        as_text=True)
    assert db.session.scalar(select(IntegrationSettings.auto_close).where(
        IntegrationSettings.store_id == shop.id)) in (None, True)
    assert _setting_entries(shop.id) == []


def test_a_bad_value_is_a_422_and_changes_nothing(shop, client) -> None:  # noqa: ANN001
    response = client.post(URL, data={"auto_close": "maybe"})
    assert response.status_code == 422
    assert _setting_entries(shop.id) == []
