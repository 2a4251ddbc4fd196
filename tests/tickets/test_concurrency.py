"""PostgreSQL: fifty clerks redeem the same code at the same moment; exactly one succeeds,
whether the ticket was loaded through the ORM or read as a plain row (the API's)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.db import db
from app.history import HistoryEntry
from app.stores.models import Store
from app.tickets import actions, services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

pytestmark = pytest.mark.postgres

CLERKS = 50


@pytest.mark.parametrize("find", [services.find_by_code, services.find_row_by_code],
                         ids=["orm ticket", "plain row"])
def test_fifty_concurrent_redemptions_of_one_code(pg_app, find):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        [ticket] = issue(owner, store, pickup)
        code, store_id, owner_id = ticket.code, store.id, owner.id
        db.session.remove()

    def clerk(_: int, ready: Ready) -> str:
        store = db.session.get(Store, store_id)
        account = db.session.get(Account, owner_id)
        found = find(store, code)
        ready()
        services.redeem(account, store, found)
        return "redeemed"

    answers = run_at_once(pg_app, clerk, range(CLERKS))
    outcomes = [o.code if isinstance(o, actions.TicketRefused) else o for o in answers]
    assert len(outcomes) == CLERKS
    assert outcomes.count("redeemed") == 1
    assert outcomes.count("AlreadyRedeemed") == CLERKS - 1
    # each loser is told when, where and by whom (the ticket read again after losing)
    assert all("（於 " in str(o) for o in answers if isinstance(o, actions.TicketRefused))
    with pg_app.app_context():
        assert db.session.scalar(select(Ticket.status)) is TicketStatus.USED
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_type == "tickets", HistoryEntry.action == "redeemed")) == 1
