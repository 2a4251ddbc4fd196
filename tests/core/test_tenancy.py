"""The ORM scopes store-owned rows to the acting store; the unscoped path must be explicit."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from app.auth.models import Account, ApiToken
from app.auth.services import create_api_token
from app.db import db
from app.stores.models import Contract
from app.tenancy import StoreScope, get_owned_or_404, set_scope
from tests.factories import make_account, make_store


@pytest.fixture
def two_stores(ctx):
    a, b = make_store("A"), make_store("B")
    owner_a, owner_b = make_account(a), make_account(b)
    token_a, _ = create_api_token(owner_a, "a")
    token_b, _ = create_api_token(owner_b, "b")
    db.session.commit()
    ids = (a.id, b.id, token_a.id, token_b.id)
    return tuple(type("Ref", (), {"id": i})() for i in ids)


def _in_request_as(app, store_id, readable=frozenset()):
    db.session.remove()  # a request starts with an empty identity map
    ctx = app.test_request_context("/")
    ctx.push()
    set_scope(StoreScope(store_id, frozenset(readable)))
    return ctx


def test_selects_see_only_the_acting_store(app, two_stores):
    a, b, token_a, token_b = two_stores
    ctx = _in_request_as(app, a.id)
    try:
        assert {t.id for t in db.session.scalars(select(ApiToken))} == {token_a.id}
        assert {c.store_id for c in db.session.scalars(select(Contract))} == {a.id}
        assert db.session.get(ApiToken, token_b.id) is None
    finally:
        ctx.pop()


def test_unscoped_reads_need_to_be_asked_for(app, two_stores):
    a, b, token_a, token_b = two_stores
    ctx = _in_request_as(app, a.id)
    try:
        stmt = select(ApiToken).execution_options(unscoped=True)
        assert {t.id for t in db.session.scalars(stmt)} == {token_a.id, token_b.id}
    finally:
        ctx.pop()


def test_bulk_updates_cannot_reach_another_store(app, two_stores):
    a, b, token_a, token_b = two_stores
    ctx = _in_request_as(app, a.id)
    try:
        db.session.execute(update(ApiToken).values(name="changed"))
        db.session.commit()
    finally:
        ctx.pop()
    everything = select(ApiToken).execution_options(unscoped=True)
    names = {t.id: t.name for t in db.session.scalars(everything)}
    assert names == {token_a.id: "changed", token_b.id: "b"}


def test_get_owned_or_404(app, two_stores):
    a, b, token_a, token_b = two_stores
    ctx = _in_request_as(app, a.id)
    try:
        assert get_owned_or_404(ApiToken, token_a.id).id == token_a.id
        for bad in (token_b.id, "x", None, 999999):
            with pytest.raises(NotFound):
                get_owned_or_404(ApiToken, bad)
    finally:
        ctx.pop()


def test_a_parent_reads_children_only_when_it_asks_and_never_acts_on_them(app, ctx):
    parent = make_store("P")
    child = make_store("C", parent=parent)
    child_owner = make_account(child)
    token, _ = create_api_token(child_owner, "child")
    db.session.commit()
    parent, child, token = (type("Ref", (), {"id": o.id})() for o in (parent, child, token))
    rctx = _in_request_as(app, parent.id, readable={child.id})
    try:
        assert db.session.scalars(select(ApiToken)).all() == []
        readable = select(ApiToken).execution_options(readable=True)
        assert [t.id for t in db.session.scalars(readable)] == [token.id]
        assert get_owned_or_404(ApiToken, token.id, readable=True).id == token.id
        with pytest.raises(NotFound):
            get_owned_or_404(ApiToken, token.id)  # acting needs a switch into the child
    finally:
        rctx.pop()


def test_no_scope_outside_merchant_requests(ctx, two_stores):
    # jobs and operators run without a store scope: they see every row
    assert db.session.scalars(select(Account)).all().__len__() == 2
