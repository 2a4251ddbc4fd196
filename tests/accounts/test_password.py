"""密碼設定 (menu 4-2): every merchant account changes its own password."""

import pytest
from sqlalchemy import select

from app.auth import rules
from app.db import db
from app.history import HistoryEntry
from tests.accounts.helpers import SUB_PASSWORD, account_named
from tests.factories import PASSWORD, login, make_account, make_operator, make_store, make_sub


def _change(client, current, new, confirm=None):  # noqa: ANN001, ANN202
    return client.post("/accounts/password", data={
        "current_password": current, "new_password": new,
        "confirm": new if confirm is None else confirm})


@pytest.fixture
def store(ctx):
    return make_store()


def test_main_changes_its_password_stays_logged_in_and_other_sessions_end(store, new_client):
    make_account(store, username="owner01")
    db.session.commit()
    here, elsewhere = new_client(), new_client()
    login(here, "owner01")
    login(elsewhere, "owner01")
    page = here.get("/accounts/password").get_data(as_text=True)
    assert rules.MAIN_PASSWORD_RULE in page

    response = _change(here, PASSWORD, "1234!@#$")  # digits + symbols suit the main rule
    assert response.status_code == 303
    after = here.get("/accounts/password")
    assert after.status_code == 200 and "密碼已變更" in after.get_data(as_text=True)
    assert here.get("/home").status_code == 200  # this browser stays logged in

    gone = elsewhere.get("/home")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert new_client().post("/login", data={"username": "owner01",
                                             "password": PASSWORD}).status_code == 401
    login(new_client(), "owner01", "1234!@#$")
    entry = db.session.scalar(select(HistoryEntry).where(
        HistoryEntry.action == "password_changed"))
    assert entry.subject_id == account_named("owner01").id and entry.actor_label == "owner01"


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong-pass1", "Newpass1", None, "目前密碼不正確"),
    (PASSWORD, "abcdefgh", None, rules.MAIN_PASSWORD_RULE),  # letters only
    (PASSWORD, "ab1!", None, rules.MAIN_PASSWORD_RULE),  # too short
    (PASSWORD, "Newpass1", "Newpass2", "兩次輸入的密碼不一致"),
    (PASSWORD, PASSWORD, None, "新密碼不可與目前密碼相同"),
    ("", "Newpass1", None, "請輸入目前密碼"),
])
def test_refused_changes_say_why_and_change_nothing(store, client, current, new, confirm,
                                                    message):
    make_account(store, username="owner01")
    db.session.commit()
    login(client, "owner01")
    epoch = account_named("owner01").session_epoch
    response = _change(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert account_named("owner01").session_epoch == epoch
    assert client.get("/home").status_code == 200
    login(client.application.test_client(), "owner01", PASSWORD)  # old password still works


def test_a_sub_account_follows_the_sub_rule(store, client):
    make_sub(store, username="staff01", password=SUB_PASSWORD)
    db.session.commit()
    login(client, "staff01", SUB_PASSWORD)
    page = client.get("/accounts/password").get_data(as_text=True)
    assert rules.SUB_PASSWORD_RULE in page and rules.MAIN_PASSWORD_RULE not in page
    refused = _change(client, SUB_PASSWORD, "abc123!@")  # symbols are fine for a main only
    assert refused.status_code == 422
    assert rules.SUB_PASSWORD_RULE in refused.get_data(as_text=True)
    assert _change(client, SUB_PASSWORD, "newpass88").status_code == 303
    assert client.get("/accounts/password").status_code == 200
    login(client.application.test_client(), "staff01", "newpass88")


def test_operators_and_visitors_cannot_use_the_merchant_password_page(ctx, client):
    make_operator("op000001")
    db.session.commit()
    anonymous = client.get("/accounts/password")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, "op000001")
    assert client.get("/accounts/password").status_code == 403
