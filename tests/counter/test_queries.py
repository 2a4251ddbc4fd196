"""The counter is where a queue waits: a scan and a press read what they need in a few
statements, however the session was left by the request before."""

from __future__ import annotations

import pytest

from app import clock
from app.db import db
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.counter.helpers import act, clerk, lookup
from tests.factories import login, make_branch
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue


@pytest.fixture
def scanned(ctx, client):  # noqa: ANN001, ANN201
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("issuer01")
    branch = make_branch(store, "A001", "台北門市")
    clerk(store, "clerkA01", branch)
    first, second = issue(owner, store, pickup, quantity=2)
    login(client, "clerkA01")
    assert act(client, "redeem", first, htmx=True).status_code == 200  # warm: templates compiled, clerk signed in
    found = second.id, second.code
    db.session.remove()  # each request starts from an empty session, as in production
    return found


def test_a_counter_lookup_and_redemption_take_few_statements(client, scanned, count_queries):
    ticket_id, code = scanned
    count_queries.clear()
    assert lookup(client, "redeem", code, htmx=True).status_code == 200
    looked_up = list(count_queries)
    db.session.remove()
    count_queries.clear()
    ticket = db.session.get(Ticket, ticket_id)
    db.session.remove()
    count_queries.clear()
    assert act(client, "redeem", ticket, htmx=True).status_code == 200
    pressed = list(count_queries)
    assert db.session.get(Ticket, ticket_id).status is S.USED
    # the account with its store, children, contracts and branch comes from the request cache;
    # then its grants, the ticket with its product, the product's branch list
    assert len(looked_up) == 3, looked_up
    # the same, then the compare-and-set and its history row (one statement on PostgreSQL); the
    # answer is rendered before the commit, so nothing is read again
    assert len(pressed) == 5, pressed
