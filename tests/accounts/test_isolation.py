"""Another store's rows are 404 (ids in URLs are never trusted); main-only pages are 403."""

import pytest
from sqlalchemy import select

from app.auth.models import ApiToken
from app.auth.permissions import Function, Level
from app.db import db
from tests.accounts.helpers import SUB_PASSWORD, account_named
from tests.factories import PASSWORD, login, make_account, make_operator, make_store, make_sub


@pytest.fixture
def stores(ctx):
    """Store A with its main account, a sub-account and tokens; store B with its main account."""
    a, b = make_store("甲商店"), make_store("乙商店")
    make_account(a, username="ownerA01")
    make_sub(a, username="staffA01", password=SUB_PASSWORD,
             grants={Function.REDEEM: Level.VIEW}, remark="甲店員")
    make_account(b, username="ownerB01")
    db.session.commit()
    return a, b


def _tokens_of_a(new_client) -> tuple[int, int]:  # noqa: ANN001
    """One token of A's main account and one of A's sub-account."""
    ids = []
    for username, password in (("ownerA01", PASSWORD), ("staffA01", SUB_PASSWORD)):
        c = new_client()
        login(c, username, password)
        assert c.post("/accounts/api-tokens", data={"name": username}).status_code == 200
        db.session.expire_all()
        ids.append(db.session.scalar(select(ApiToken.id).where(ApiToken.name == username)))
    return ids[0], ids[1]


def test_another_stores_main_gets_404_on_this_stores_sub_account(stores, client):
    sub = account_named("staffA01")
    login(client, "ownerB01")
    base = f"/accounts/sub-accounts/{sub.id}"
    for url in (f"{base}/permissions", f"{base}/password", f"{base}/remark", f"{base}/history"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base}/permissions",
                       data={"grant_modify": ["redeem", "products"]}).status_code == 404
    assert client.post(f"{base}/password",
                       data={"password": "hijack99", "confirm": "hijack99"}).status_code == 404
    assert client.post(f"{base}/remark", data={"remark": "被改了"}).status_code == 404
    assert client.post(f"{base}/delete").status_code == 404
    listing = client.get("/accounts/sub-accounts").get_data(as_text=True)
    assert "staffA01" not in listing

    after = account_named("staffA01")
    assert after.deleted_at is None and after.remark == "甲店員"
    assert {g.function: g.level for g in after.grants} == {"redeem": Level.VIEW}
    login(client.application.test_client(), "staffA01", SUB_PASSWORD)  # password unchanged


def test_another_stores_main_gets_404_revoking_this_stores_tokens(stores, client, new_client):
    main_token, sub_token = _tokens_of_a(new_client)
    login(client, "ownerB01")
    for token_id in (main_token, sub_token):
        assert client.post(f"/accounts/api-tokens/{token_id}/revoke").status_code == 404
    page = client.get("/accounts/api-tokens").get_data(as_text=True)
    assert "ownerA01" not in page and "staffA01" not in page
    db.session.expire_all()
    assert all(t.revoked_at is None for t in db.session.scalars(select(ApiToken)))


def test_a_sub_account_gets_403_not_404_on_main_only_pages(stores, client, new_client):
    other_sub = make_sub(stores[0], username="staffA02")
    db.session.commit()
    me = account_named("staffA01")
    login(client, "staffA01", SUB_PASSWORD)
    for account_id in (me.id, other_sub.id, 999999):
        base = f"/accounts/sub-accounts/{account_id}"
        for url in (f"{base}/permissions", f"{base}/password", f"{base}/remark",
                    f"{base}/history"):
            assert client.get(url).status_code == 403, url
        assert client.post(f"{base}/permissions",
                           data={"grant_modify": ["products"]}).status_code == 403
        assert client.post(f"{base}/delete").status_code == 403
    for url in ("/accounts/sub-accounts", "/accounts/sub-accounts/deleted",
                "/accounts/sub-accounts/new"):
        assert client.get(url).status_code == 403
    me = account_named("staffA01")
    assert {g.function: g.level for g in me.grants} == {"redeem": Level.VIEW}
    assert account_named("staffA02").deleted_at is None
    # the pages every merchant account has remain open
    assert client.get("/accounts/password").status_code == 200
    assert client.get("/accounts/api-tokens").status_code == 200


def test_a_parent_store_acting_for_a_child_cannot_manage_the_childs_sub_accounts(ctx, client):
    parent = make_store("總公司")
    child = make_store("分公司", parent=parent)
    make_account(parent, username="parent01")
    child_sub = make_sub(child, username="childsub1")
    db.session.commit()
    login(client, "parent01")
    assert client.get("/accounts/sub-accounts").status_code == 200
    assert client.post("/switch-store", data={"store_id": child.id}).status_code == 302
    assert client.get("/accounts/sub-accounts").status_code == 403
    assert client.post(f"/accounts/sub-accounts/{child_sub.id}/delete").status_code == 403
    assert account_named("childsub1").deleted_at is None


def test_operator_is_refused_every_account_page(ctx, client):
    make_operator("op000001")
    db.session.commit()
    login(client, "op000001")
    for url in ("/accounts/sub-accounts", "/accounts/password", "/accounts/api-tokens"):
        assert client.get(url).status_code == 403
