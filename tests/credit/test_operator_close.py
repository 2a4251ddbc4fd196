"""After day 21 (error_overDate) only the platform operator may close: the operator's page of a
store's over-date transactions and its 代為關帳 (history naming the operator); the merchant's
page and API still refused; other roles 403, another store's transaction 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit import jobs
from app.db import db
from app.history import HistoryEntry
from tests.credit.helpers import make_card_transaction
from tests.factories import login, make_account, make_checkout_store, make_operator

NOW = clock.taipei_datetime(2026, 11, 21, 14, 0)
OLD = NOW - timedelta(days=25)


@pytest.fixture
def frozen(ctx):  # noqa: ANN001, ANN201
    clock.freeze(NOW)
    yield ctx
    clock.unfreeze()


def _status(txn_id: int) -> S:
    db.session.expire_all()
    return db.session.get(CardTransaction, txn_id, execution_options={"unscoped": True}).status


def _entries(txn_id: int) -> list[HistoryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "card_transactions", HistoryEntry.subject_id == txn_id)
        .order_by(HistoryEntry.id).execution_options(unscoped=True)))


def _urls(store_id: int, txn_id: int) -> tuple[str, str]:
    base = f"/operator/stores/{store_id}/card-transactions"
    return f"{base}/over-date", f"{base}/{txn_id}/close"


def test_the_operator_closes_an_over_date_transaction_with_history(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    old = make_card_transaction(store, authorised_at=OLD, close_error="error_overDate")
    recent = make_card_transaction(store, authorised_at=NOW - timedelta(days=3))
    make_operator("op0042")
    db.session.commit()
    login(client, "op0042")
    page_url, close_url = _urls(store.id, old.id)
    html = client.get(page_url).get_data(as_text=True)
    assert f'data-trade-no="{old.order.trade_no}"' in html
    assert f'data-trade-no="{recent.order.trade_no}"' not in html  # the store's own to close
    assert 'data-testid="operator-close"' in html and "data-confirm=" in html
    detail = client.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert 'data-testid="over-date-cards-link"' in detail
    page = client.post(close_url, follow_redirects=True).get_data(as_text=True)
    assert "已代為關帳" in page
    assert _status(old.id) is S.CLOSE_REQUESTED
    entry = _entries(old.id)[-1]
    assert entry.action == "card_close" and entry.actor_label == "op0042"
    assert "平台管理員代為關帳" in entry.reason and entry.to_status == "close_requested"
    # a transaction within the limit is refused to the operator: the store closes it
    refused = client.post(_urls(store.id, recent.id)[1], follow_redirects=True)
    assert "請由商店自行關帳" in refused.get_data(as_text=True)
    assert _status(recent.id) is S.AUTHORISED and _entries(recent.id) == []
    # the evening close then captures it
    jobs.daily_close(clock.taipei_datetime(2026, 11, 21, 20, 15).isoformat())
    assert _status(old.id) is S.CLOSED


def test_the_merchant_still_gets_the_over_date_refusal(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    main = make_account(store)
    old = make_card_transaction(store, authorised_at=OLD)
    db.session.commit()
    login(client, main.username)
    page = client.post(f"/vendor/credit/transactions/{old.id}/act", data={"action": "C"},
                       follow_redirects=True).get_data(as_text=True)
    assert "授權已超過 21 天，無法關帳" in page
    assert _status(old.id) is S.AUTHORISED and _entries(old.id) == []
    # and the operator's pages are not the merchant's
    page_url, close_url = _urls(store.id, old.id)
    assert client.get(page_url).status_code == 403
    assert client.post(close_url).status_code == 403
    assert _status(old.id) is S.AUTHORISED


def test_the_operator_pages_need_an_operator_and_the_stores_own_transaction(frozen, client) -> None:  # noqa: ANN001
    store = make_checkout_store()
    other = make_checkout_store()
    theirs = make_card_transaction(other, authorised_at=OLD)
    page_url, close_url = _urls(store.id, theirs.id)
    db.session.commit()
    assert client.get(page_url).status_code in (302, 303)  # not signed in: to the login page
    assert client.post(close_url).status_code in (302, 303)
    make_operator("op0043")
    db.session.commit()
    login(client, "op0043")
    assert client.post(close_url).status_code == 404  # another store's transaction
    assert client.get("/operator/stores/999999/card-transactions/over-date").status_code == 404
    assert _status(theirs.id) is S.AUTHORISED and _entries(theirs.id) == []
