"""The WriteOff race on PostgreSQL: 200 calls at once on 20 codes, each call its own Flask test
client (its own request, session and connection) → exactly 20 redemptions, one history line
each, and every other call answered RtnCode 3004 inside an accepted envelope (never a 5xx, never
TransCode ≠ 1)."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.ecpay import keys
from app.history import HistoryEntry
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus
from tests.concurrency import Ready, run_at_once
from tests.ecticket.client import Client, flask_poster
from tests.factories import make_order, make_product, make_store

PAIR = keys.Pair("7b53896b742849d3", "37a0ad3c6ffa428b")
CODES, CALLS = 20, 200


def test_200_concurrent_write_offs_on_20_codes_redeem_each_once(pg_app) -> None:  # noqa: ANN001
    with pg_app.app_context():
        store = make_store()
        keys.install_pair(store.id, PAIR)
        order = make_order(store, product=make_product(store, face_value=100), quantity=CODES)
        codes = [t.code for t in order.tickets]
        ids = [t.id for t in order.tickets]
        merchant = store.merchant_code
        db.session.commit()

    def work(code: str, ready: Ready) -> int:
        api = Client(merchant, PAIR.hash_key, PAIR.hash_iv, flask_poster(pg_app.test_client()),
                     clock=lambda: clock.now().timestamp())
        body = api.envelope({"WriteOffNo": code, "Action": "1", "Operator": "race"})
        ready()
        return api.open(api.post("/api/Ticket/WriteOff", json.dumps(body).encode()))["RtnCode"]

    outcomes = run_at_once(pg_app, work, [codes[i % CODES] for i in range(CALLS)], timeout=120)
    assert Counter(outcomes) == {1: CODES, 3004: CALLS - CODES}, Counter(map(repr, outcomes))
    with pg_app.app_context():  # this test's tickets only: the database may hold others
        statuses = db.session.scalars(select(Ticket.status).where(Ticket.id.in_(ids))
                                      .execution_options(unscoped=True)).all()
        assert set(statuses) == {TicketStatus.USED} and len(statuses) == CODES
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_type == "tickets", HistoryEntry.subject_id.in_(ids),
            HistoryEntry.action == "redeemed").execution_options(unscoped=True)) == CODES
