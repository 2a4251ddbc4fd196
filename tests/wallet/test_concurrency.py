"""PostgreSQL: the purchaser submits the same transfer (and the same return application) from
several tabs at the same moment; exactly one succeeds, the others are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.return_applications.models import ReturnApplication
from app.transfers.models import Transfer
from tests.concurrency import Ready, run_at_once
from tests.wallet.helpers import confirm, issue_order, shop, tickets_of

pytestmark = pytest.mark.postgres

TABS = 8


def _race(pg_app, path: str, data_for) -> list[int]:  # noqa: ANN001
    with pg_app.app_context():
        store, owner, pickup, _ = shop(returns=True)
        order = issue_order(owner, store, pickup, quantity=2)
        token, ticket_id = order.link_token, tickets_of(order)[0].id
        db.session.remove()
    tabs = []
    for _ in range(TABS):
        tab = pg_app.test_client()
        assert confirm(tab, token).status_code == 303
        tabs.append(tab)

    def submit(n: int, ready: Ready) -> int:
        ready()
        return tabs[n].post(f"/t/{token}/{path}", data=data_for(ticket_id, n)).status_code

    statuses = run_at_once(pg_app, submit, range(TABS))
    assert len(statuses) == TABS
    return statuses


def test_one_of_many_simultaneous_transfers_of_a_ticket_wins(pg_app):
    statuses = _race(pg_app, "transfer", lambda ticket_id, n: {
        "ticket_ids": ticket_id, "name": f"受贈人{n}", "mobile": f"09220000{n:02d}",
        "email": f"friend{n}@example.com", "step": "confirm"})
    assert statuses.count(303) == 1 and statuses.count(409) == TABS - 1, statuses
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1


def test_one_of_many_simultaneous_return_applications_wins(pg_app):
    statuses = _race(pg_app, "return", lambda ticket_id, n: {"ticket_ids": ticket_id, "reason": f"第{n}次"})
    assert statuses.count(303) == 1 and statuses.count(409) == TABS - 1, statuses
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReturnApplication)) == 1
