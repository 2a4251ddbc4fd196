"""綁定子帳號 (menu 7-1): bind, re-bind (重設分店), bulk unbind (整批解除綁定), history, Excel."""

from __future__ import annotations

import pytest

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.branches import services
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from tests.branches.helpers import entries, fresh, read_xlsx
from tests.factories import login, make_account, make_branch, make_store, make_sub


@pytest.fixture
def shop(owner):  # noqa: ANN001, ANN201
    """Two branches (one disabled) and sub-accounts: two bound, two unbound, one deleted."""
    store = owner.store
    a = make_branch(store, "A001", "台北店")
    b = make_branch(store, "B002", "台中店", enabled=False)
    subs = {
        "bound1": make_sub(store, "clerk001", branch=a, remark="櫃檯一"),
        "bound2": make_sub(store, "clerk002", branch=a, remark="櫃檯二"),
        "free1": make_sub(store, "clerk003", remark="新人"),
        "free2": make_sub(store, "clerk004"),
        "gone": make_sub(store, "clerk005"),
    }
    subs["gone"].deleted_at = subs["gone"].created_at
    db.session.commit()
    return {"store": store, "a": a, "b": b, **subs}


def _branch_of(account_id: int) -> int | None:
    return fresh(Account, account_id).branch_id


# The list ---------------------------------------------------------------------------------------

def test_the_list_shows_bound_live_sub_accounts_with_their_branch(shop, client):
    other = make_store()
    make_sub(other, "stranger1", branch=make_branch(other, "A001", "別人的店"))
    db.session.commit()
    response = client.get("/settings/branches/bindings")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="nav-link active" href="/settings/branches/bindings"' in html
    rows = html.split('data-testid="binding-row"')[1:]
    assert len(rows) == 2
    assert "clerk001" in rows[0] and "櫃檯一" in rows[0] and "A001" in rows[0] and "台北店" in rows[0]
    assert "啟用" in rows[0]
    assert f'name="account_ids" value="{shop["bound1"].id}"' in rows[0]
    assert f'/settings/branches/bindings/{shop["bound1"].id}/rebind' in rows[0]
    for absent in ("clerk003", "clerk004", "clerk005", "stranger1"):
        assert absent not in html
    assert "整批解除綁定" in html and "下載Excel" in html and "綁定子帳號" in html
    assert 'data-confirm="確定要解除已勾選子帳號的分店綁定嗎？' in html


def test_the_list_filters_by_branch_and_text(shop, client):
    make_sub(shop["store"], "clerk006", branch=shop["b"])
    db.session.commit()
    html = client.get(f"/settings/branches/bindings?branch_id={shop['b'].id}").get_data(as_text=True)
    assert "clerk006" in html and "clerk001" not in html and "停用" in html
    html = client.get("/settings/branches/bindings?q=櫃檯二").get_data(as_text=True)
    assert "clerk002" in html and "clerk001" not in html


def test_empty_list_shows_the_empty_state(owner, client):
    html = client.get("/settings/branches/bindings").get_data(as_text=True)
    assert "尚無綁定分店的子帳號" in html
    assert "整批解除綁定" not in html  # nothing to tick


# Bind ----------------------------------------------------------------------------------------------

def test_the_bind_page_offers_every_branch_with_its_status_and_only_unbound_live_subs(shop, client):
    html = client.get("/settings/branches/bindings/new").get_data(as_text=True)
    assert f'value="{shop["a"].id}">A001 台北店<' in html
    assert f'value="{shop["b"].id}">B002 台中店（停用）<' in html
    assert 'name="account_ids"' in html
    assert "clerk003" in html and "新人" in html and "clerk004" in html
    for absent in ("clerk001", "clerk002", "clerk005"):
        assert absent not in html


def test_the_bind_page_asks_for_a_branch_first(owner, client):
    html = client.get("/settings/branches/bindings/new").get_data(as_text=True)
    assert 'data-testid="no-branches"' in html and "請先至" in html


def test_binding_sub_accounts_records_history_on_account_and_branch(shop, client):
    free1, free2, a = shop["free1"], shop["free2"], shop["a"]
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": a.id, "account_ids": [free1.id, free2.id]})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings/branches/bindings")
    assert _branch_of(free1.id) == a.id and _branch_of(free2.id) == a.id
    [entry] = entries("accounts", free1.id, "branch_bound")
    assert entry.changes == {"branch": [None, "A001 台北店"]}
    assert entry.store_id == shop["store"].id
    bound_on_branch = entries("branches", a.id, "sub_account_bound")
    assert sorted(e.changes["sub_account"][1] for e in bound_on_branch) == ["clerk003", "clerk004"]
    html = client.get("/settings/branches/").get_data(as_text=True)
    assert "已將 2 個子帳號綁定至分店 A001 台北店" in html
    assert 'data-testid="bound-count">4<' in html  # the count column follows


def test_a_disabled_branch_may_be_bound_to(shop, client):
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["b"].id, "account_ids": [shop["free1"].id]})
    assert response.status_code == 303
    assert _branch_of(shop["free1"].id) == shop["b"].id


def test_binding_nothing_or_no_branch_is_refused(shop, client):
    response = client.post("/settings/branches/bindings/new", data={"branch_id": shop["a"].id})
    assert response.status_code == 422
    assert services.NOTHING_CHOSEN_BIND in response.get_data(as_text=True)
    for nothing in ("", "0"):
        response = client.post("/settings/branches/bindings/new",
                               data={"branch_id": nothing, "account_ids": [shop["free1"].id]})
        assert response.status_code == 422 and "請選擇分店" in response.get_data(as_text=True)
    assert _branch_of(shop["free1"].id) is None


def test_binding_the_main_account_is_refused(shop, owner, client):
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["a"].id, "account_ids": [owner.id]})
    assert response.status_code == 422
    assert "僅可綁定子帳號" in response.get_data(as_text=True)
    assert _branch_of(owner.id) is None


def test_binding_a_deleted_sub_account_is_refused(shop, client):
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["a"].id,
                                 "account_ids": [shop["free1"].id, shop["gone"].id]})
    assert response.status_code == 422
    assert "已刪除" in response.get_data(as_text=True)
    assert _branch_of(shop["gone"].id) is None
    assert _branch_of(shop["free1"].id) is None  # all or nothing


def test_binding_an_already_bound_account_points_to_rebind(shop, client):
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["b"].id, "account_ids": [shop["bound1"].id]})
    assert response.status_code == 422
    assert "請使用【重設分店】" in response.get_data(as_text=True)
    assert _branch_of(shop["bound1"].id) == shop["a"].id


def test_binding_another_stores_sub_account_or_to_its_branch_answers_404(shop, client):
    other = make_store()
    stranger = make_sub(other, "stranger1")
    their_branch = make_branch(other, "A001", "別人的店")
    db.session.commit()
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["a"].id, "account_ids": [stranger.id]})
    assert response.status_code == 404
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": their_branch.id, "account_ids": [shop["free1"].id]})
    assert response.status_code == 404
    response = client.post("/settings/branches/bindings/new",
                           data={"branch_id": shop["a"].id, "account_ids": ["x1"]})
    assert response.status_code == 404
    assert _branch_of(stranger.id) is None and _branch_of(shop["free1"].id) is None


def test_the_bind_service_loads_only_the_acting_stores_rows(shop, owner):
    other = make_store()
    stranger = make_sub(other, "stranger1")
    their_branch = make_branch(other, "A001", "別人的店")
    with pytest.raises(NotFound):
        services.bind(owner, shop["store"], shop["a"], [stranger.id])
    with pytest.raises(NotFound):
        services.bind(owner, shop["store"], their_branch, [shop["free1"].id])
    with pytest.raises(DomainError, match="僅可綁定子帳號"):
        services.bind(owner, shop["store"], shop["a"], [owner.id])
    with pytest.raises(DomainError, match="已刪除"):
        services.bind(owner, shop["store"], shop["a"], [shop["gone"].id])
    with pytest.raises(InvalidInput):
        services.bind(owner, shop["store"], shop["a"], [])
    their_main = make_account(other, username="owner02")
    with pytest.raises(Forbidden):
        services.bind(their_main, shop["store"], shop["a"], [shop["free1"].id])
    assert shop["free1"].branch_id is None and stranger.branch_id is None


# Re-bind ---------------------------------------------------------------------------------------------

def test_rebind_moves_the_account_with_history(shop, client):
    bound1, a, b = shop["bound1"], shop["a"], shop["b"]
    page = client.get(f"/settings/branches/bindings/{bound1.id}/rebind").get_data(as_text=True)
    assert "clerk001" in page and "A001 台北店" in page
    assert f'selected value="{a.id}"' in page  # the current branch is pre-selected

    response = client.post(f"/settings/branches/bindings/{bound1.id}/rebind",
                           data={"branch_id": b.id})
    assert response.status_code == 303
    assert _branch_of(bound1.id) == b.id
    [entry] = entries("accounts", bound1.id, "branch_rebound")
    assert entry.changes == {"branch": ["A001 台北店", "B002 台中店"]}
    assert entries("branches", a.id, "sub_account_unbound")[0].changes == {
        "sub_account": ["clerk001", None]}
    assert entries("branches", b.id, "sub_account_bound")[0].changes == {
        "sub_account": [None, "clerk001"]}
    history_page = client.get(f"/settings/branches/bindings/{bound1.id}/history")
    assert "重設分店" in history_page.get_data(as_text=True)


def test_rebind_to_the_same_branch_changes_nothing(shop, client):
    bound1 = shop["bound1"]
    client.post(f"/settings/branches/bindings/{bound1.id}/rebind", data={"branch_id": shop["a"].id})
    assert _branch_of(bound1.id) == shop["a"].id
    assert entries("accounts", bound1.id, "branch_rebound") == []
    assert "分店未變更" in client.get("/settings/branches/bindings").get_data(as_text=True)


def test_rebind_refuses_an_unbound_account_and_foreign_rows(shop, owner, client):
    response = client.post(f"/settings/branches/bindings/{shop['free1'].id}/rebind",
                           data={"branch_id": shop["a"].id})
    assert response.status_code == 422 and "尚未綁定分店" in response.get_data(as_text=True)
    assert _branch_of(shop["free1"].id) is None

    other = make_store()
    stranger = make_sub(other, "stranger1", branch=make_branch(other, "Z1", "別人的店"))
    their_branch = make_branch(other, "Z2", "別人的二店")
    db.session.commit()
    assert client.get(f"/settings/branches/bindings/{stranger.id}/rebind").status_code == 404
    assert client.post(f"/settings/branches/bindings/{stranger.id}/rebind",
                       data={"branch_id": shop["a"].id}).status_code == 404
    assert client.post(f"/settings/branches/bindings/{shop['bound1'].id}/rebind",
                       data={"branch_id": their_branch.id}).status_code == 404
    assert client.get(f"/settings/branches/bindings/{owner.id}/rebind").status_code == 404
    assert client.get(f"/settings/branches/bindings/{shop['gone'].id}/rebind").status_code == 404
    assert _branch_of(shop["bound1"].id) == shop["a"].id
    with pytest.raises(NotFound):
        services.rebind(owner, fresh(Account, shop["bound1"].id), their_branch)


# Bulk unbind -------------------------------------------------------------------------------------------

def test_bulk_unbind_frees_the_ticked_accounts(shop, client):
    bound1, bound2, a = shop["bound1"], shop["bound2"], shop["a"]
    third = make_sub(shop["store"], "clerk006", branch=a)
    db.session.commit()
    response = client.post("/settings/branches/bindings/unbind",
                           data={"account_ids": [bound1.id, bound2.id]})
    assert response.status_code == 303
    assert _branch_of(bound1.id) is None and _branch_of(bound2.id) is None
    assert _branch_of(third.id) == a.id
    [entry] = entries("accounts", bound1.id, "branch_unbound")
    assert entry.changes == {"branch": ["A001 台北店", None]}
    assert len(entries("branches", a.id, "sub_account_unbound")) == 2
    html = client.get("/settings/branches/bindings").get_data(as_text=True)
    assert "已解除 2 個子帳號的分店綁定" in html
    assert "clerk001" not in html and "clerk006" in html  # unbound accounts leave the list
    html = client.get("/settings/branches/").get_data(as_text=True)
    assert 'data-testid="bound-count">1<' in html


def test_bulk_unbind_with_nothing_ticked_says_so(shop, client):
    client.post("/settings/branches/bindings/unbind", data={})
    html = client.get("/settings/branches/bindings").get_data(as_text=True)
    assert services.NOTHING_CHOSEN_UNBIND in html
    assert _branch_of(shop["bound1"].id) == shop["a"].id


def test_bulk_unbind_with_a_foreign_or_main_account_changes_nothing(shop, owner, client):
    other = make_store()
    stranger = make_sub(other, "stranger1", branch=make_branch(other, "Z1", "別人的店"))
    db.session.commit()
    response = client.post("/settings/branches/bindings/unbind",
                           data={"account_ids": [shop["bound1"].id, stranger.id]})
    assert response.status_code == 404
    assert _branch_of(shop["bound1"].id) == shop["a"].id
    assert _branch_of(stranger.id) is not None
    client.post("/settings/branches/bindings/unbind",
                data={"account_ids": [shop["bound1"].id, owner.id]})
    assert _branch_of(shop["bound1"].id) == shop["a"].id


def test_bulk_unbind_needs_the_csrf_token(shop, client):
    response = client.post("/settings/branches/bindings/unbind",
                           data={"account_ids": [shop["bound1"].id]}, csrf=False)
    assert response.status_code == 400
    assert _branch_of(shop["bound1"].id) == shop["a"].id


# Excel ---------------------------------------------------------------------------------------------------

def test_excel_export_of_the_bindings(shop, client):
    make_sub(shop["store"], "clerk006", branch=shop["b"], remark="=1+1")
    db.session.commit()
    rows = read_xlsx(client.get("/settings/branches/bindings?format=xlsx"))
    assert rows[0] == ["子帳號", "備註", "分店編號", "分店名稱", "分店狀態"]
    assert rows[1:] == [["clerk001", "櫃檯一", "A001", "台北店", "啟用"],
                        ["clerk002", "櫃檯二", "A001", "台北店", "啟用"],
                        ["clerk006", "'=1+1", "B002", "台中店", "停用"]]
    rows = read_xlsx(client.get(f"/settings/branches/bindings?branch_id={shop['b'].id}&format=xlsx"))
    assert [r[0] for r in rows[1:]] == ["clerk006"]


# Who may -------------------------------------------------------------------------------------------------

def test_view_right_sees_bindings_but_cannot_change_them(shop, new_client):
    make_sub(shop["store"], username="viewer01", grants={Function.OPERATION_SETTINGS: Level.VIEW})
    db.session.commit()
    browser = new_client()
    login(browser, "viewer01")
    html = browser.get("/settings/branches/bindings").get_data(as_text=True)
    assert "clerk001" in html and "下載Excel" in html
    assert "整批解除綁定" not in html and "重設分店" not in html and 'name="account_ids"' not in html
    assert browser.get(f"/settings/branches/bindings/{shop['bound1'].id}/history").status_code == 200
    assert browser.get("/settings/branches/bindings/new").status_code == 403
    assert browser.post("/settings/branches/bindings/new",
                        data={"branch_id": shop["a"].id,
                              "account_ids": [shop["free1"].id]}).status_code == 403
    assert browser.post(f"/settings/branches/bindings/{shop['bound1'].id}/rebind",
                        data={"branch_id": shop["b"].id}).status_code == 403
    assert browser.post("/settings/branches/bindings/unbind",
                        data={"account_ids": [shop["bound1"].id]}).status_code == 403
    assert _branch_of(shop["free1"].id) is None
    assert _branch_of(shop["bound1"].id) == shop["a"].id


def test_without_the_right_the_bindings_are_refused(shop, new_client):
    browser = new_client()
    login(browser, "clerk001")  # no grants at all
    assert browser.get("/settings/branches/bindings").status_code == 403
    assert browser.get("/settings/branches/bindings?format=xlsx").status_code == 403
