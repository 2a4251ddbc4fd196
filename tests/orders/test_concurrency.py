"""PostgreSQL: two tabs change the same order's purchaser at the same moment; one wins, the other
waits on the order's row lock, then sees the first change and is refused.

The first tab takes the lock before the race point (`ready()`), so the second is released only
once the lock is held and must wait on it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from app.notifications.models import Message
from app.orders import services
from app.stores.models import Store
from app.tickets.models import Order
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.orders.helpers import issue_order

pytestmark = pytest.mark.postgres


def test_two_concurrent_changes_of_purchaser_cannot_both_win(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        order = issue_order(owner, store, pickup)
        ids = (store.id, owner.id, order.id)
        revision = services.purchaser_revision(order)
        first_token = order.link_token
        db.session.remove()

    def tab(tab_: tuple[str, str, bool], ready: Ready) -> str:
        name, mobile, first = tab_
        store_id, owner_id, order_id = ids
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        if first:  # take the row lock, then let the other tab go, and keep the lock a moment
            services.lock_order(store, order_id)
            ready()
            time.sleep(0.5)
        else:
            ready()
        services.change_purchaser(account, store, order_id, name=name, mobile=mobile,
                                  email="", expected_revision=revision)
        return "changed"

    first, second = run_at_once(pg_app, tab, [("第一分頁", "0987654321", True),
                                              ("第二分頁", "0911111111", False)], timeout=30)
    assert first == "changed"
    assert isinstance(second, DomainError) and second.message == services.CHANGED_ELSEWHERE
    with pg_app.app_context():
        order = db.session.get(Order, ids[2])
        assert (order.purchaser_name, order.purchaser_mobile) == ("第一分頁", "0987654321")
        assert order.link_token != first_token
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.action == "purchaser_changed")) == 1
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.kind == "purchaser_replaced")) == 1


def test_without_a_revision_the_second_change_sees_the_first(pg_app):
    """An API-style call without the form's revision waits for the lock and then records the
    first tab's purchaser as the old one (never the stale one it started from)."""
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        order = issue_order(owner, store, pickup)
        ids = (store.id, owner.id, order.id)
        db.session.remove()

    def tab(tab_: tuple[str, str, str, bool], ready: Ready) -> None:
        name, mobile, email, first = tab_
        store_id, owner_id, order_id = ids
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        db.session.get(Order, order_id)  # both tabs read the original purchaser first
        if first:
            services.lock_order(store, order_id)
            ready()
            time.sleep(0.5)
        else:
            ready()
        services.change_purchaser(account, store, order_id, name=name, mobile=mobile, email=email)

    assert run_at_once(pg_app, tab, [("甲", "0987654321", "a@example.com", True),
                                     ("乙", "0911111111", "b@example.com", False)],
                       timeout=30) == [None, None]
    with pg_app.app_context():
        entries = db.session.scalars(select(HistoryEntry).where(
            HistoryEntry.action == "purchaser_changed").order_by(HistoryEntry.id)).all()
        assert [e.changes["purchaser_name"] for e in entries] == [["王小明", "甲"], ["甲", "乙"]]
        replaced = db.session.scalars(select(Message.to_address).where(
            Message.kind == "purchaser_replaced").order_by(Message.id)).all()
        assert replaced == ["old@example.com", "a@example.com"]
