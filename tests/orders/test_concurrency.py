"""PostgreSQL: two tabs change the same order's purchaser at the same moment; one wins, the other
waits on the order's row lock, then sees the first change and is refused."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.errors import DomainError
from app.history import HistoryEntry
from app.notifications.models import Message
from app.orders import services
from app.orders.models import Order
from app.stores.models import Store
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

    holding = threading.Event()
    outcomes: dict[str, str] = {}

    def tab(name: str, mobile: str, *, hold: bool) -> None:
        store_id, owner_id, order_id = ids
        with pg_app.app_context():  # its own session and database connection
            store = db.session.get(Store, store_id)
            account = db.session.get(Account, owner_id)
            try:
                if hold:  # take the row lock first and keep it a moment
                    services.lock_order(store, order_id)
                    holding.set()
                    threading.Event().wait(0.5)
                else:
                    holding.wait(10)
                services.change_purchaser(account, store, order_id, name=name, mobile=mobile,
                                          email="", expected_revision=revision)
                db.session.commit()
                outcomes[name] = "changed"
            except DomainError as refused:
                db.session.rollback()
                outcomes[name] = refused.message
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tab, args=("第一分頁", "0987654321"), kwargs={"hold": True}),
               threading.Thread(target=tab, args=("第二分頁", "0911111111"), kwargs={"hold": False})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes["第一分頁"] == "changed"
    assert outcomes["第二分頁"] == services.CHANGED_ELSEWHERE
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

    holding = threading.Event()
    done: list[str] = []

    def tab(name: str, mobile: str, email: str, *, hold: bool) -> None:
        store_id, owner_id, order_id = ids
        with pg_app.app_context():
            store = db.session.get(Store, store_id)
            account = db.session.get(Account, owner_id)
            db.session.get(Order, order_id)  # both tabs read the original purchaser first
            try:
                if hold:
                    services.lock_order(store, order_id)
                    holding.set()
                    threading.Event().wait(0.5)
                else:
                    holding.wait(10)
                services.change_purchaser(account, store, order_id, name=name, mobile=mobile,
                                          email=email)
                db.session.commit()
                done.append(name)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tab, args=("甲", "0987654321", "a@example.com"),
                                kwargs={"hold": True}),
               threading.Thread(target=tab, args=("乙", "0911111111", "b@example.com"),
                                kwargs={"hold": False})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert done == ["甲", "乙"]
    with pg_app.app_context():
        entries = db.session.scalars(select(HistoryEntry).where(
            HistoryEntry.action == "purchaser_changed").order_by(HistoryEntry.id)).all()
        assert [e.changes["purchaser_name"] for e in entries] == [["王小明", "甲"], ["甲", "乙"]]
        replaced = db.session.scalars(select(Message.to_address).where(
            Message.kind == "purchaser_replaced").order_by(Message.id)).all()
        assert replaced == ["old@example.com", "a@example.com"]
