"""後台子帳號 (menu 4-1): create, grant, re-password, remark, delete."""

import pytest
from sqlalchemy import func, select

from app.auth import rules
from app.auth.models import Account, AccountKind
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.stores.models import RedemptionMode
from tests.accounts.helpers import SUB_PASSWORD, account_named, new_sub_form
from tests.factories import login, make_account, make_branch, make_store, make_sub


@pytest.fixture
def owner(ctx, client):
    store = make_store("好吃餅舖")
    main = make_account(store, username="owner01")
    db.session.commit()
    login(client, "owner01")
    return main


def _sub_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Account.id))
                             .where(Account.kind == AccountKind.SUB))


def test_the_list_shows_live_sub_accounts_with_their_grants_and_buttons(owner, client):
    make_sub(owner.store, username="clerk001", remark="櫃檯",
             grants={Function.REDEEM: Level.MODIFY, Function.REPORT_TICKETS: Level.VIEW})
    gone = make_sub(owner.store, username="gone0001")
    gone.deleted_at = gone.created_at
    make_sub(make_store(), username="other001")  # another store's
    db.session.commit()
    html = client.get("/accounts/sub-accounts").get_data(as_text=True)
    assert "clerk001" in html and "櫃檯" in html
    assert "票券核銷（修改）" in html and "票券報表（查詢）" in html
    assert "gone0001" not in html and "other001" not in html
    for label in ("編輯權限", "密碼變更", "刪除帳號", "編輯備註", "檢視已刪除帳號", "新增子帳號"):
        assert label in html
    assert 'data-confirm="確定要刪除子帳號 clerk001' in html


def test_the_list_shows_each_accounts_bound_branch(owner, client):
    make_sub(owner.store, username="clerk101", branch=make_branch(owner.store, "B101", "信義店"))
    make_sub(owner.store, username="clerk102",
             branch=make_branch(owner.store, "B102", "板橋店", enabled=False))
    make_sub(owner.store, username="clerk103")
    db.session.commit()
    html = client.get("/accounts/sub-accounts").get_data(as_text=True)
    assert "<th>綁定分店</th>" in html
    cells = [c.split("</td>")[0] for c in html.split('data-testid="bound-branch">')[1:]]
    by_name = dict(zip(("clerk103", "clerk102", "clerk101"), cells, strict=True))  # newest first
    assert "B101 信義店" in by_name["clerk101"]
    assert "B102 板橋店" in by_name["clerk102"] and "停用" in by_name["clerk102"]
    assert "總公司（未綁定）" in by_name["clerk103"]


def test_the_form_shows_the_rules_and_the_matrix_of_the_store_mode(owner, client):
    html = client.get("/accounts/sub-accounts/new").get_data(as_text=True)
    assert rules.SUB_USERNAME_RULE in html and rules.SUB_PASSWORD_RULE in html
    assert rules.REMARK_RULE in html
    assert "七、使用後核銷" in html and "票券核銷" in html
    assert "八、分期核銷" not in html and "分期核銷訂單報表" not in html
    # 流通報表 is view-only: no 修改 box
    assert 'name="grant_view" value="report_circulation"' in html
    assert 'name="grant_modify" value="report_circulation"' not in html
    assert 'name="grant_modify" value="products"' in html


def test_installment_store_gets_the_installment_functions(ctx, client):
    store = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="owner02")
    db.session.commit()
    login(client, "owner02")
    html = client.get("/accounts/sub-accounts/new").get_data(as_text=True)
    assert "分期核銷訂單報表" in html and "票券核銷" not in html


def test_create_a_sub_account_with_limited_grants_then_it_is_refused_main_only_pages(
        owner, client, new_client):
    response = client.post("/accounts/sub-accounts/new", data=new_sub_form(
        "staff01", remark="門市店長", view=("redeem", "report_tickets"),
        modify=("products", "report_circulation")))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/accounts/sub-accounts")
    sub = account_named("staff01")
    assert sub.kind is AccountKind.SUB and sub.store_id == owner.store_id
    assert sub.remark == "門市店長"
    assert {g.function: g.level for g in sub.grants} == {
        "redeem": Level.VIEW, "report_tickets": Level.VIEW,
        "products": Level.MODIFY,  # modify implies view
        "report_circulation": Level.VIEW,  # view-only function: modify becomes view
    }
    assert "已新增子帳號 staff01" in client.get("/accounts/sub-accounts").get_data(as_text=True)
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.subject_id == sub.id,
                                                         HistoryEntry.action == "created"))
    assert entry.actor_label == "owner01"

    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)
    assert staff.get("/home").status_code == 200
    for url in ("/accounts/sub-accounts", "/accounts/sub-accounts/new",
                "/accounts/sub-accounts/deleted"):
        assert staff.get(url).status_code == 403
    assert staff.post("/accounts/sub-accounts/new",
                      data=new_sub_form("sneaky01")).status_code == 403
    assert account_named("sneaky01") is None
    # the menu hides what the server refuses
    home = staff.get("/home").get_data(as_text=True)
    assert "後台子帳號" not in home and "密碼設定" in home


@pytest.mark.parametrize(("form", "field_message"), [
    (new_sub_form("abc12"), rules.SUB_USERNAME_RULE),  # 5 characters
    (new_sub_form("abcdefgh"), rules.SUB_USERNAME_RULE),  # letters only
    (new_sub_form("staff!01"), rules.SUB_USERNAME_RULE),  # symbol
    (new_sub_form("staff01", "12345678"), rules.SUB_PASSWORD_RULE),  # digits only
    (new_sub_form("staff01", "abc123!"), rules.SUB_PASSWORD_RULE),  # symbol
    (new_sub_form("staff01", "a1" * 10 + "x"), rules.SUB_PASSWORD_RULE),  # 21
    (new_sub_form("staff01", confirm="other123"), "兩次輸入的密碼不一致"),
    (new_sub_form("staff01", remark="一" * 21), rules.REMARK_RULE),
    (new_sub_form(""), "請輸入帳號"),
])
def test_rule_breaking_forms_show_the_message_and_create_nothing(owner, client, form,
                                                                  field_message):
    response = client.post("/accounts/sub-accounts/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_message in html and "invalid-feedback" in html
    assert _sub_count() == 0
    assert db.session.scalar(select(func.count(HistoryEntry.id))) == 0


def test_every_broken_field_is_reported_at_once_and_ticks_are_kept(owner, client):
    response = client.post("/accounts/sub-accounts/new", data=new_sub_form(
        "abc", "123", remark="一" * 21, view=("redeem",)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.count("invalid-feedback") >= 3
    assert rules.SUB_USERNAME_RULE in html and rules.SUB_PASSWORD_RULE in html
    assert rules.REMARK_RULE in html
    assert 'value="redeem" id="grant-view-redeem" aria-label="票券核銷 查詢" checked' in html
    assert "一" * 21 in html  # the typed remark is kept; the password is not echoed
    assert 'value="123"' not in html


def test_a_20_character_chinese_remark_is_accepted(owner, client):
    response = client.post("/accounts/sub-accounts/new",
                           data=new_sub_form("staff01", remark="一" * 20))
    assert response.status_code == 303
    assert account_named("staff01").remark == "一" * 20


def test_a_username_already_in_use_anywhere_is_refused(owner, client):
    make_account(make_store(), username="taken001")
    db.session.commit()
    response = client.post("/accounts/sub-accounts/new", data=new_sub_form("taken001"))
    assert response.status_code == 422
    assert "此帳號已被使用" in response.get_data(as_text=True)
    assert _sub_count() == 0


def test_edit_permissions_replaces_the_grants_and_writes_history(owner, client, new_client):
    sub = make_sub(owner.store, username="staff01",
                   password=SUB_PASSWORD, grants={Function.REDEEM: Level.VIEW,
                                                  Function.ISSUANCE: Level.MODIFY})
    db.session.commit()
    page = client.get(f"/accounts/sub-accounts/{sub.id}/permissions").get_data(as_text=True)
    assert 'id="grant-view-redeem" aria-label="票券核銷 查詢" checked' in page
    assert 'id="grant-modify-issuance" aria-label="票券發行 修改" checked' in page
    assert 'id="grant-modify-redeem" aria-label="票券核銷 修改" checked' not in page

    response = client.post(f"/accounts/sub-accounts/{sub.id}/permissions",
                           data={"grant_modify": ["redeem"], "grant_view": ["products"]})
    assert response.status_code == 303
    sub = account_named("staff01")
    assert {g.function: g.level for g in sub.grants} == {"redeem": Level.MODIFY,
                                                         "products": Level.VIEW}
    page = client.get(f"/accounts/sub-accounts/{sub.id}/permissions").get_data(as_text=True)
    assert "編輯權限" in page and "帳號歷程" in page and "owner01" in page

    # the sub-account's rights follow at once
    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)
    assert staff.get("/vendor/contract").status_code == 403  # 廠商基本資料 not granted


def test_main_resets_a_sub_password_and_the_sub_session_ends(owner, client, new_client):
    make_sub(owner.store, username="staff01", password=SUB_PASSWORD)
    db.session.commit()
    sub = account_named("staff01")
    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)
    assert staff.get("/accounts/password").status_code == 200

    bad = client.post(f"/accounts/sub-accounts/{sub.id}/password",
                      data={"password": "onlyletters", "confirm": "onlyletters"})
    assert bad.status_code == 422 and rules.SUB_PASSWORD_RULE in bad.get_data(as_text=True)
    assert staff.get("/accounts/password").status_code == 200  # nothing changed

    response = client.post(f"/accounts/sub-accounts/{sub.id}/password",
                           data={"password": "newpass99", "confirm": "newpass99"})
    assert response.status_code == 303
    after = staff.get("/accounts/password")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert staff.post("/login", data={"username": "staff01",
                                      "password": SUB_PASSWORD}).status_code == 401
    login(staff, "staff01", "newpass99")
    page = client.get(f"/accounts/sub-accounts/{sub.id}/password").get_data(as_text=True)
    assert "密碼重設" in page  # history
    assert client.get("/accounts/sub-accounts").status_code == 200  # the main stays in


def test_edit_remark(owner, client):
    make_sub(owner.store, username="staff01", remark="舊備註")
    db.session.commit()
    sub = account_named("staff01")
    page = client.get(f"/accounts/sub-accounts/{sub.id}/remark").get_data(as_text=True)
    assert 'value="舊備註"' in page
    bad = client.post(f"/accounts/sub-accounts/{sub.id}/remark", data={"remark": "字" * 21})
    assert bad.status_code == 422 and rules.REMARK_RULE in bad.get_data(as_text=True)
    assert account_named("staff01").remark == "舊備註"
    ok = client.post(f"/accounts/sub-accounts/{sub.id}/remark",
                     data={"remark": "店長 王小明 0912345678"})
    assert ok.status_code == 303
    assert account_named("staff01").remark == "店長 王小明 0912345678"
    page = client.get(f"/accounts/sub-accounts/{sub.id}/remark").get_data(as_text=True)
    assert "編輯備註" in page and "舊備註 → 店長 王小明 0912345678" in page


def test_delete_ends_login_and_moves_the_account_to_the_deleted_list(owner, client, new_client):
    make_sub(owner.store, username="staff01", password=SUB_PASSWORD)
    db.session.commit()
    sub = account_named("staff01")
    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)

    response = client.post(f"/accounts/sub-accounts/{sub.id}/delete")
    assert response.status_code == 303
    assert account_named("staff01").deleted_at is not None
    assert staff.get("/home").status_code == 302  # the live session ended
    refused = new_client().post("/login", data={"username": "staff01",
                                                     "password": SUB_PASSWORD})
    assert refused.status_code == 401

    listing = client.get("/accounts/sub-accounts").get_data(as_text=True)
    assert "已刪除子帳號 staff01" in listing  # the flash
    assert 'data-testid="sub-account-row"' not in listing and "尚無子帳號" in listing
    deleted = client.get("/accounts/sub-accounts/deleted").get_data(as_text=True)
    assert "staff01" in deleted and 'data-testid="deleted-account-row"' in deleted
    history = client.get(f"/accounts/sub-accounts/{sub.id}/history").get_data(as_text=True)
    assert "刪除" in history and "已刪除" in history
    # a deleted account is not editable
    for url in (f"/accounts/sub-accounts/{sub.id}/permissions",
                f"/accounts/sub-accounts/{sub.id}/password",
                f"/accounts/sub-accounts/{sub.id}/remark"):
        assert client.get(url).status_code == 404
        assert client.post(url, data={"remark": "x", "password": "abc12345",
                                      "confirm": "abc12345"}).status_code == 404
    assert client.post(f"/accounts/sub-accounts/{sub.id}/delete").status_code == 404


def test_delete_without_csrf_token_is_refused(owner, client):
    make_sub(owner.store, username="staff01")
    db.session.commit()
    sub = account_named("staff01")
    assert client.post(f"/accounts/sub-accounts/{sub.id}/delete", csrf=False).status_code == 400
    assert account_named("staff01").deleted_at is None


def test_the_main_account_itself_is_not_a_sub_account_to_edit(owner, client):
    for url in (f"/accounts/sub-accounts/{owner.id}/permissions",
                f"/accounts/sub-accounts/{owner.id}/remark"):
        assert client.get(url).status_code == 404
    assert client.post(f"/accounts/sub-accounts/{owner.id}/delete").status_code == 404
    assert account_named("owner01").deleted_at is None


@pytest.mark.parametrize("url", ["/accounts/sub-accounts", "/accounts/sub-accounts/deleted",
                                 "/accounts/sub-accounts/new", "/accounts/password",
                                 "/accounts/api-tokens"])
def test_pages_render_as_htmx_fragments_too(owner, client, url):
    html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in html and "<h1" in html


def test_a_sub_account_page_renders_as_a_fragment(owner, client):
    sub = make_sub(owner.store, username="staff01", grants={Function.REDEEM: Level.VIEW})
    db.session.commit()
    for part in ("permissions", "password", "remark", "history"):
        response = client.get(f"/accounts/sub-accounts/{sub.id}/{part}",
                              headers={"HX-Request": "true"})
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in html and "帳號歷程" in html
