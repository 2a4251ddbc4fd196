"""The request cache: a logged-in session's account is read without a query for a few seconds;
a change made here takes effect at once, one made by another process within the cache time."""

from __future__ import annotations

import time

from sqlalchemy import update

from app import clock
from app.auth import request_cache
from app.auth.models import Account, AccountKind
from app.auth.permissions import Function, Level
from app.db import db
from app.stores.models import Branch
from tests.factories import login, make_account, make_branch, make_store


def _later(monkeypatch) -> None:  # noqa: ANN001
    later = time.monotonic() + request_cache.SECONDS
    monkeypatch.setattr(request_cache.time, "monotonic", lambda: later)


def test_a_logged_in_page_reads_the_account_once_then_from_the_cache(client, ctx, count_queries):
    make_account(make_store(), username="owner01")
    db.session.commit()
    login(client, "owner01")
    assert client.get("/home").status_code == 200
    count_queries.clear()
    assert client.get("/home").status_code == 200
    assert not [s for s in count_queries if "FROM accounts" in s and "accounts.id =" in s]


def test_an_account_deleted_here_is_logged_out_at_once(client, ctx):
    account = make_account(make_store(), username="owner02")
    db.session.commit()
    login(client, "owner02")
    assert client.get("/home").status_code == 200
    account.deleted_at = clock.now()  # through the ORM, as the services do
    db.session.commit()
    assert client.get("/home").status_code == 302


def test_an_account_deleted_by_another_process_is_logged_out_within_the_cache_time(
        client, ctx, monkeypatch):
    account = make_account(make_store(), username="owner03")
    db.session.commit()
    login(client, "owner03")
    assert client.get("/home").status_code == 200
    # a bulk UPDATE fires no ORM event: as if another worker had made the change
    db.session.execute(update(Account).where(Account.id == account.id)
                       .values(deleted_at=clock.now()))
    db.session.commit()
    _later(monkeypatch)
    response = client.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_branch_disabled_elsewhere_stops_its_clerk_within_the_cache_time(
        client, ctx, monkeypatch):
    store = make_store()
    branch = make_branch(store)
    clerk = make_account(store, kind=AccountKind.SUB, username="clerk01",
                         grants={Function.REDEEM: Level.MODIFY})
    clerk.branch_id = branch.id
    db.session.commit()
    login(client, "clerk01")
    assert client.get("/counter/redeem").status_code == 200
    db.session.execute(update(Branch).where(Branch.id == branch.id).values(enabled=False))
    db.session.commit()
    _later(monkeypatch)
    with client.application.test_request_context():
        fresh = request_cache.get(("account", clerk.id), lambda: None)
    assert fresh is None  # the entry has run out: the next request reads the account again
    client.get("/counter/redeem")
    with client.application.app_context():
        cached = request_cache.get(("account", clerk.id), lambda: None)
        assert cached is not None and cached.branch.enabled is False
