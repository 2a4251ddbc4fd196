"""What binding and a branch's status mean for a clerk (docs/accounts.md): asked through
app.products.access, the questions ticket operations ask, and the branch history records."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.products import access
from app.products.models import Product
from app.products.rights import BRANCH_DISABLED, BRANCH_NOT_IN_REDEEM_LIST, Unit
from app.stores.models import Store
from tests.branches.helpers import fresh
from tests.factories import PASSWORD, login, make_branch, make_product, make_sub

TICKET_RIGHTS = {Function.REDEEM: Level.MODIFY, Function.RETURN: Level.MODIFY,
                 Function.ISSUANCE: Level.MODIFY}


def _refusals(account_id: int, store_id: int, product_id: int) -> tuple:
    db.session.expire_all()
    account = db.session.get(Account, account_id)
    store = db.session.get(Store, store_id)
    product = db.session.get(Product, product_id)
    return (access.redeem_refusal(account, store, product),
            access.return_refusal(account, store, product),
            access.issue_refusal(account, store))


@pytest.fixture
def counter(owner):  # noqa: ANN001, ANN201
    store = owner.store
    branch = make_branch(store, "A001", "台北店")
    clerk = make_sub(store, "clerk001", branch=branch, grants=TICKET_RIGHTS)
    product = make_product(store)
    db.session.commit()
    return {"store": store, "branch": branch, "clerk": clerk, "product": product}


def test_a_clerk_of_a_disabled_branch_may_do_no_ticket_operation_until_re_enabled(counter, client):
    ids = (counter["clerk"].id, counter["store"].id, counter["product"].id)
    assert _refusals(*ids) == (None, None, None)

    client.post(f"/settings/branches/{counter['branch'].id}/status", data={"status": "disabled"})
    assert _refusals(*ids) == (BRANCH_DISABLED, BRANCH_DISABLED, BRANCH_DISABLED)
    assert BRANCH_DISABLED.message == "您所屬的分店已停用，僅可查詢報表，無法進行票券操作"

    client.post(f"/settings/branches/{counter['branch'].id}/edit",
                data={"name": "台北店", "status": "enabled"})
    assert _refusals(*ids) == (None, None, None)


def test_the_head_office_is_not_affected_by_a_disabled_branch(counter, owner, client):
    client.post(f"/settings/branches/{counter['branch'].id}/status", data={"status": "disabled"})
    assert _refusals(owner.id, counter["store"].id, counter["product"].id) == (None, None, None)


def test_an_unbound_sub_account_acts_as_head_office(counter, client):
    store = counter["store"]
    free = make_sub(store, "clerk002", grants=TICKET_RIGHTS)
    other_branch = make_branch(store, "B002", "台中店")
    limited = make_product(store, redeem=(other_branch,))
    db.session.commit()
    assert access.unit_for(free, store) == Unit(store.id)
    assert access.unit_for(free, store).branch_id is None
    # The redeem list names only 台中店: the head office may still redeem, 台北店 may not.
    assert _refusals(free.id, store.id, limited.id)[0] is None
    assert _refusals(counter["clerk"].id, store.id, limited.id)[0] == BRANCH_NOT_IN_REDEEM_LIST

    # Unbinding the 台北店 clerk makes it head office too.
    client.post("/settings/branches/bindings/unbind", data={"account_ids": [counter["clerk"].id]})
    clerk = fresh(Account, counter["clerk"].id)
    assert access.unit_for(clerk, store).branch_id is None
    assert _refusals(clerk.id, store.id, limited.id)[0] is None


def test_binding_and_rebinding_change_the_unit_a_clerk_acts_for(counter, client):
    store, branch = counter["store"], counter["branch"]
    other = make_branch(store, "B002", "台中店", enabled=False)
    free = make_sub(store, "clerk002", grants=TICKET_RIGHTS)
    db.session.commit()
    client.post("/settings/branches/bindings/new", data={"branch_id": branch.id,
                                                         "account_ids": [free.id]})
    assert access.unit_for(fresh(Account, free.id), store) == Unit(store.id, branch.id, True)
    client.post(f"/settings/branches/bindings/{free.id}/rebind", data={"branch_id": other.id})
    assert access.unit_for(fresh(Account, free.id), store) == Unit(store.id, other.id, False)
    assert _refusals(free.id, store.id, counter["product"].id)[2] == BRANCH_DISABLED


def test_a_bound_clerks_actions_carry_its_branch_in_the_history(counter, new_client):
    browser = new_client()
    login(browser, "clerk001")
    response = browser.post("/accounts/password", data={
        "current_password": PASSWORD, "new_password": "Newpass99", "confirm": "Newpass99"})
    assert response.status_code == 303
    db.session.expire_all()
    entry = db.session.scalar(select(HistoryEntry).where(
        HistoryEntry.action == "password_changed", HistoryEntry.subject_id == counter["clerk"].id))
    assert entry.actor_id == counter["clerk"].id
    assert entry.actor_branch_id == counter["branch"].id
    assert entry.actor_store_id == counter["store"].id


def test_an_unbound_accounts_actions_carry_no_branch(owner, client):
    client.post("/accounts/password", data={
        "current_password": PASSWORD, "new_password": "Newpass99!", "confirm": "Newpass99!"})
    db.session.expire_all()
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "password_changed"))
    assert entry.actor_id == owner.id and entry.actor_branch_id is None
