"""PostgreSQL: fifty clerks redeem the same code at the same moment; exactly one succeeds."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Store
from app.tickets import services
from app.tickets.models import Ticket, TicketStatus
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres

CLERKS = 50


def test_fifty_concurrent_redemptions_of_one_code(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        [ticket] = issue(owner, store, pickup)
        code, store_id, owner_id = ticket.code, store.id, owner.id
        db.session.remove()

    barrier = threading.Barrier(CLERKS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def clerk() -> None:
        with pg_app.app_context():  # its own session and database connection
            store = db.session.get(Store, store_id)
            account = db.session.get(Account, owner_id)
            found = services.find_by_code(store, code)
            barrier.wait()
            try:
                services.redeem(account, store, found)
                db.session.commit()
                result = "redeemed"
            except services.TicketRefused as refused:
                db.session.rollback()
                result = refused.code
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=clerk) for _ in range(CLERKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == CLERKS
    assert outcomes.count("redeemed") == 1
    assert outcomes.count("AlreadyRedeemed") == CLERKS - 1
    with pg_app.app_context():
        assert db.session.scalar(select(Ticket.status)) is TicketStatus.USED
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_type == "tickets", HistoryEntry.action == "redeemed")) == 1
