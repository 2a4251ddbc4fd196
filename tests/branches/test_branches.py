"""票券分店管理 (menu 7-1): list with bound counts, add, edit, enable / disable, history, Excel."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from app.auth.permissions import Function, Level
from app.branches import rules, services
from app.db import db
from app.errors import Forbidden, InvalidInput
from app.stores.models import Branch
from tests.branches.helpers import entries, fresh, read_xlsx
from tests.factories import login, make_account, make_branch, make_store, make_sub


def _branch_count(store_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Branch.id)).where(Branch.store_id == store_id))


# The list ------------------------------------------------------------------------------------

def test_empty_list_shows_the_empty_state_and_the_tabs(owner, client):
    response = client.get("/settings/branches/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "尚無分店" in html
    assert "票券分店管理" in html and "綁定子帳號" in html  # the 操作設定管理 tabs
    assert 'class="nav-link active" href="/settings/branches/"' in html
    assert "新增分店" in html and "下載Excel" in html


def test_list_shows_each_branch_with_its_live_bound_sub_accounts(owner, client):
    store = owner.store
    taipei = make_branch(store, "A001", "台北店")
    make_branch(store, "B002", "台中店", enabled=False)
    make_sub(store, "clerk001", branch=taipei)
    make_sub(store, "clerk002", branch=taipei)
    gone = make_sub(store, "clerk003", branch=taipei)
    gone.deleted_at = gone.created_at  # deleted accounts are not counted
    make_sub(store, "clerk004")  # unbound
    other = make_store()
    make_branch(other, "Z999", "別人的店")
    db.session.commit()

    html = client.get("/settings/branches/").get_data(as_text=True)
    assert "A001" in html and "台北店" in html and "B002" in html and "台中店" in html
    assert "Z999" not in html and "別人的店" not in html
    rows = html.split('data-testid="branch-row"')[1:]
    assert len(rows) == 2
    assert "A001" in rows[0] and 'data-testid="bound-count">2<' in rows[0]
    assert "B002" in rows[1] and 'data-testid="bound-count">0<' in rows[1]
    assert "啟用" in rows[0] and "停用" in rows[1]
    assert f'/settings/branches/{taipei.id}/history' in rows[0]
    assert f'/settings/branches/{taipei.id}/edit' in rows[0]
    # Disabling asks first, with the consequence spelled out; enabling does not.
    warning = "停用後該分店員工僅可查詢報表，無法進行票券操作"
    assert f'data-confirm="確定要停用分店 A001 台北店 嗎？{warning}"' in rows[0]
    assert "data-confirm" not in rows[1]


def test_the_bound_counts_take_one_grouped_query_whatever_the_number_of_branches(owner, client, app):
    store = owner.store
    first = make_branch(store, "A001", "一店")
    make_sub(store, "clerk001", branch=first)
    db.session.commit()

    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/settings/branches/")
        with_one = len(statements)
        for n in range(2, 8):
            branch = make_branch(store, f"A00{n}", f"{n}店")
            make_sub(store, f"clerk00{n}", branch=branch)
        db.session.commit()
        statements.clear()
        html = client.get("/settings/branches/").get_data(as_text=True)
        with_seven = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert html.count('data-testid="bound-count">1<') == 7
    assert with_seven == with_one


def test_the_list_filters_by_code_or_name_and_status(owner, client):
    make_branch(owner.store, "A001", "台北店")
    make_branch(owner.store, "B002", "台中店", enabled=False)
    db.session.commit()
    html = client.get("/settings/branches/?q=台中").get_data(as_text=True)
    assert "B002" in html and "A001" not in html
    html = client.get("/settings/branches/?status=enabled").get_data(as_text=True)
    assert "A001" in html and "B002" not in html
    html = client.get("/settings/branches/?q=nothing").get_data(as_text=True)
    assert "查無符合條件的分店" in html


# Add -----------------------------------------------------------------------------------------

def test_adding_a_branch_saves_it_and_records_history(owner, client):
    form = client.get("/settings/branches/new").get_data(as_text=True)
    assert rules.CODE_RULE in form and "相同廠商下的分店編號不可重複" in form
    assert rules.DISABLE_WARNING in form  # the confirm text the status select carries

    response = client.post("/settings/branches/new",
                           data={"code": "A001", "name": " 台北店 ", "status": "enabled"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/settings/branches/")
    db.session.expire_all()
    branch = db.session.scalar(select(Branch).where(Branch.store_id == owner.store_id))
    assert (branch.code, branch.name, branch.enabled) == ("A001", "台北店", True)
    [entry] = entries("branches", branch.id)
    assert entry.action == "created" and entry.actor_id == owner.id
    assert entry.changes == {"code": [None, "A001"], "name": [None, "台北店"],
                             "status": [None, "啟用"]}
    assert "已新增分店 A001 台北店" in client.get("/settings/branches/").get_data(as_text=True)


def test_a_branch_may_be_created_disabled(owner, client):
    client.post("/settings/branches/new", data={"code": "C3", "name": "籌備中", "status": "disabled"})
    db.session.expire_all()
    branch = db.session.scalar(select(Branch).where(Branch.code == "C3"))
    assert branch.enabled is False


def test_a_duplicate_code_in_the_same_store_is_refused(owner, client):
    make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    for code in ("A001", "a001"):
        response = client.post("/settings/branches/new",
                               data={"code": code, "name": "另一間", "status": "enabled"})
        assert response.status_code == 422
        assert "相同廠商下的分店編號不可重複" in response.get_data(as_text=True)
    assert _branch_count(owner.store_id) == 1


def test_another_store_may_use_the_same_code(owner, client, new_client):
    make_branch(owner.store, "A001", "台北店")
    other = make_store()
    make_account(other, username="owner02")
    db.session.commit()
    browser = new_client()
    login(browser, "owner02")
    response = browser.post("/settings/branches/new",
                            data={"code": "A001", "name": "台北店", "status": "enabled"})
    assert response.status_code == 303
    assert _branch_count(other.id) == 1


@pytest.mark.parametrize(("code", "name", "message"), [
    ("", "台北店", rules.CODE_RULE),
    ("A-01", "台北店", rules.CODE_RULE),
    ("台北01", "台北店", rules.CODE_RULE),
    ("A" * 21, "台北店", rules.CODE_RULE),
    ("A001", "", rules.NAME_REQUIRED),
    ("A001", "店" * 51, rules.NAME_RULE),
])
def test_code_and_name_rules(owner, client, code, name, message):
    response = client.post("/settings/branches/new",
                           data={"code": code, "name": name, "status": "enabled"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _branch_count(owner.store_id) == 0


def test_longest_code_and_name_are_accepted(owner, client):
    response = client.post("/settings/branches/new",
                           data={"code": "Z" * 20, "name": "店" * 50, "status": "enabled"})
    assert response.status_code == 303
    assert _branch_count(owner.store_id) == 1


def test_the_service_refuses_a_duplicate_code_and_bad_input(owner):
    services.create_branch(owner, owner.store, code="A001", name="台北店")
    with pytest.raises(InvalidInput) as err:
        services.create_branch(owner, owner.store, code="A001", name="再一間")
    assert err.value.message == rules.DUPLICATE_CODE and err.value.fields == {"code": rules.DUPLICATE_CODE}
    with pytest.raises(InvalidInput):
        services.create_branch(owner, owner.store, code="A 2", name="x")


def test_a_post_without_the_csrf_token_is_refused(owner, client):
    response = client.post("/settings/branches/new", data={"code": "A001", "name": "台北店",
                                                            "status": "enabled"}, csrf=False)
    assert response.status_code == 400
    assert _branch_count(owner.store_id) == 0


# Edit, enable / disable ------------------------------------------------------------------------

def test_editing_changes_name_and_status_and_records_history(owner, client):
    branch = make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    page = client.get(f"/settings/branches/{branch.id}/edit").get_data(as_text=True)
    assert 'data-testid="branch-code"' in page and 'value="A001" readonly' in page
    assert 'name="code"' not in page  # the code is no input
    assert 'value="台北店"' in page

    response = client.post(f"/settings/branches/{branch.id}/edit",
                           data={"name": "台北旗艦店", "status": "disabled"})
    assert response.status_code == 303
    branch = fresh(Branch, branch.id)
    assert (branch.code, branch.name, branch.enabled) == ("A001", "台北旗艦店", False)
    [entry] = entries("branches", branch.id, "updated")
    assert entry.changes == {"name": ["台北店", "台北旗艦店"], "status": ["啟用", "停用"]}


def test_saving_unchanged_writes_no_history(owner, client):
    branch = make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    client.post(f"/settings/branches/{branch.id}/edit", data={"name": "台北店", "status": "enabled"})
    assert entries("branches", branch.id) == []
    assert "分店資料未變更" in client.get("/settings/branches/").get_data(as_text=True)


def test_a_forged_code_in_the_edit_post_changes_nothing(owner, client):
    branch = make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    response = client.post(f"/settings/branches/{branch.id}/edit",
                           data={"code": "HACK01", "name": "台北店", "status": "enabled"})
    assert response.status_code == 303
    assert fresh(Branch, branch.id).code == "A001"
    assert entries("branches", branch.id) == []


def test_editing_refuses_a_bad_name(owner, client):
    branch = make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    response = client.post(f"/settings/branches/{branch.id}/edit",
                           data={"name": "", "status": "enabled"})
    assert response.status_code == 422 and rules.NAME_REQUIRED in response.get_data(as_text=True)
    assert fresh(Branch, branch.id).name == "台北店"


def test_the_status_button_disables_and_enables_with_history(owner, client):
    branch = make_branch(owner.store, "A001", "台北店")
    db.session.commit()
    response = client.post(f"/settings/branches/{branch.id}/status", data={"status": "disabled"})
    assert response.status_code == 303
    assert fresh(Branch, branch.id).enabled is False
    assert "已停用分店 A001 台北店" in client.get("/settings/branches/").get_data(as_text=True)

    client.post(f"/settings/branches/{branch.id}/status", data={"status": "enabled"})
    assert fresh(Branch, branch.id).enabled is True
    changes = [e.changes for e in entries("branches", branch.id, "updated")]
    assert changes == [{"status": ["啟用", "停用"]}, {"status": ["停用", "啟用"]}]


def test_the_history_page_shows_each_change(owner, client):
    client.post("/settings/branches/new", data={"code": "A001", "name": "台北店", "status": "enabled"})
    db.session.expire_all()
    branch = db.session.scalar(select(Branch).where(Branch.code == "A001"))
    client.post(f"/settings/branches/{branch.id}/status", data={"status": "disabled"})
    html = client.get(f"/settings/branches/{branch.id}/history").get_data(as_text=True)
    assert "分店歷程" in html and "A001" in html
    assert "新增" in html and "修改" in html and "owner01" in html
    assert "啟用 → 停用" in html


# Excel -----------------------------------------------------------------------------------------

def test_excel_export_of_the_current_query(owner, client):
    taipei = make_branch(owner.store, "A001", "台北店")
    make_branch(owner.store, "B002", "=HYPERLINK(\"x\")", enabled=False)
    make_branch(owner.store, "C003", "-台南店")
    make_sub(owner.store, "clerk001", branch=taipei)
    make_branch(make_store(), "Z999", "別人的店")
    db.session.commit()

    response = client.get("/settings/branches/?format=xlsx")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_xlsx(response)
    assert rows[0] == ["分店編號", "分店名稱", "分店狀態", "綁定子帳號數", "建立時間"]
    body = [r[:4] for r in rows[1:]]
    assert body == [["A001", "台北店", "啟用", 1], ["B002", "'=HYPERLINK(\"x\")", "停用", 0],
                    ["C003", "'-台南店", "啟用", 0]]

    rows = read_xlsx(client.get("/settings/branches/?status=disabled&format=xlsx"))
    assert [r[0] for r in rows[1:]] == ["B002"]


def test_excel_export_of_an_empty_list_has_the_header_only(owner, client):
    rows = read_xlsx(client.get("/settings/branches/?format=xlsx"))
    assert rows == [["分店編號", "分店名稱", "分店狀態", "綁定子帳號數", "建立時間"]]


# Who may -----------------------------------------------------------------------------------------

def test_view_right_shows_the_list_but_no_buttons_and_refuses_changes(owner, new_client):
    branch = make_branch(owner.store, "A001", "台北店")
    make_sub(owner.store, username="viewer01", grants={Function.OPERATION_SETTINGS: Level.VIEW})
    db.session.commit()
    browser = new_client()
    login(browser, "viewer01")
    html = browser.get("/settings/branches/").get_data(as_text=True)
    assert "A001" in html and "下載Excel" in html and "歷程" in html
    assert "新增分店" not in html and ">編輯<" not in html
    assert f"/settings/branches/{branch.id}/status" not in html and "data-confirm" not in html
    assert browser.get(f"/settings/branches/{branch.id}/history").status_code == 200
    assert browser.get("/settings/branches/new").status_code == 403
    assert browser.post("/settings/branches/new",
                        data={"code": "B002", "name": "x", "status": "enabled"}).status_code == 403
    assert browser.get(f"/settings/branches/{branch.id}/edit").status_code == 403
    assert browser.post(f"/settings/branches/{branch.id}/edit",
                        data={"name": "改", "status": "disabled"}).status_code == 403
    assert browser.post(f"/settings/branches/{branch.id}/status",
                        data={"status": "disabled"}).status_code == 403
    branch = fresh(Branch, branch.id)
    assert (branch.name, branch.enabled) == ("台北店", True)
    assert _branch_count(owner.store_id) == 1


def test_a_sub_account_with_modify_may_manage_branches(owner, new_client):
    make_sub(owner.store, username="setter01", grants={Function.OPERATION_SETTINGS: Level.MODIFY})
    db.session.commit()
    browser = new_client()
    login(browser, "setter01")
    response = browser.post("/settings/branches/new",
                            data={"code": "A001", "name": "台北店", "status": "enabled"})
    assert response.status_code == 303
    assert _branch_count(owner.store_id) == 1


def test_without_the_right_the_pages_are_refused(owner, new_client):
    make_sub(owner.store, username="clerk001", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    browser = new_client()
    login(browser, "clerk001")
    assert browser.get("/settings/branches/").status_code == 403
    assert browser.get("/settings/branches/?format=xlsx").status_code == 403


def test_another_stores_branch_answers_404(owner, client):
    theirs = make_branch(make_store(), "A001", "別人的店")
    db.session.commit()
    assert client.get(f"/settings/branches/{theirs.id}/edit").status_code == 404
    assert client.post(f"/settings/branches/{theirs.id}/edit",
                       data={"name": "搶走", "status": "disabled"}).status_code == 404
    assert client.post(f"/settings/branches/{theirs.id}/status",
                       data={"status": "disabled"}).status_code == 404
    assert client.get(f"/settings/branches/{theirs.id}/history").status_code == 404
    theirs = fresh(Branch, theirs.id)
    assert (theirs.name, theirs.enabled) == ("別人的店", True)


def test_the_services_refuse_an_actor_without_the_right(owner):
    viewer = make_sub(owner.store, username="viewer01", grants={Function.OPERATION_SETTINGS: Level.VIEW})
    outsider = make_account(make_store(), username="owner02")
    branch = make_branch(owner.store, "A001", "台北店")
    for actor in (viewer, outsider):
        with pytest.raises(Forbidden):
            services.create_branch(actor, owner.store, code="B002", name="x")
        with pytest.raises(Forbidden):
            services.update_branch(actor, branch, name="改", enabled=False)
    assert (branch.name, branch.enabled) == ("台北店", True)


def test_branches_of_lists_the_stores_branches_for_the_product_form(owner):
    b = make_branch(owner.store, "B002", "台中店", enabled=False)
    a = make_branch(owner.store, "A001", "台北店")
    make_branch(make_store(), "A000", "別人的店")
    assert services.branches_of(owner.store) == [a, b]
    assert services.branches_of(owner.store, enabled_only=True) == [a]
