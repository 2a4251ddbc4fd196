"""Login sessions end when they should: logout, a password change (own, or the main account's
for a sub-account), deletion and the operator's 登出所有裝置 end them on the server, so a copied
session cookie stops working at once; the cookie is re-issued at login and on a store switch;
idle and absolute lifetimes on the app clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.db import db
from app.history import HistoryEntry
from tests.factories import PASSWORD, login, make_account, make_operator, make_store, make_sub


def _cookie(client) -> str:  # noqa: ANN001
    found = client.get_cookie("session")
    return found.value if found else ""


def _copy(app, client):  # noqa: ANN001, ANN202
    """A second browser with a copy of `client`'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", _cookie(client))
    return thief


def _in(client) -> bool:  # noqa: ANN001
    return client.get("/home").status_code == 200


def _sent_to_login(client) -> bool:  # noqa: ANN001
    response = client.get("/home")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_copied_cookie_stops_working_after_logout(app, client, ctx):
    make_account(make_store(), username="owner31")
    db.session.commit()
    login(client, "owner31")
    thief = _copy(app, client)
    assert _in(thief)  # the copy works while the session lives
    assert client.post("/logout").status_code == 302
    assert _sent_to_login(thief)
    assert _sent_to_login(client)


def test_a_logout_ends_this_browsers_session_not_the_accounts_other_browsers(app, client, ctx):
    make_account(make_store(), username="owner31b")
    db.session.commit()
    login(client, "owner31b")
    laptop = app.test_client()
    login(laptop, "owner31b")
    thief = _copy(app, client)
    assert client.post("/logout").status_code == 302
    assert _sent_to_login(thief) and _sent_to_login(client)
    assert _in(laptop)  # the other browser keeps working
    login(client, "owner31b")  # logging in again starts a new session in the same browser
    assert _in(client) and _sent_to_login(thief)


def test_old_ended_sessions_are_dropped_and_a_pile_of_them_ends_every_session(app, client, ctx):
    from app.auth import services

    account = make_account(make_store(), username="owner31c")
    db.session.commit()
    services.end_session(account, "old", now=1_000, keep_seconds=3_600)
    services.end_session(account, "new", now=5_000, keep_seconds=3_600)
    assert account.ended_sessions == [["new", 5_000]]  # "old" can no longer be alive
    epoch = account.session_epoch
    for n in range(services.ENDED_KEPT):
        services.end_session(account, f"s{n}", now=5_001 + n, keep_seconds=3_600)
    assert account.session_epoch == epoch + 1 and account.ended_sessions == []
    assert services.session_ended(account, None) and services.session_ended(account, "")


def test_changing_ones_password_ends_the_other_sessions_not_this_one(app, client, ctx):
    make_account(make_store(), username="owner32")
    db.session.commit()
    login(client, "owner32")
    other = app.test_client()
    login(other, "owner32")
    thief = _copy(app, client)
    changed = client.post("/accounts/password", data={"current_password": PASSWORD,
                                             "new_password": "Newpass99", "confirm": "Newpass99"})
    assert changed.status_code in (302, 303)
    assert _in(client)
    assert _sent_to_login(other) and _sent_to_login(thief)


def test_the_main_accounts_password_reset_and_deletion_end_a_sub_accounts_sessions(app, client, ctx):
    store = make_store()
    make_account(store, username="owner33")
    sub = make_sub(store, "clerk33a")
    gone = make_sub(store, "clerk33b")
    db.session.commit()
    clerk, leaver = app.test_client(), app.test_client()
    login(clerk, "clerk33a")
    login(leaver, "clerk33b")
    assert _in(clerk) and _in(leaver)
    login(client, "owner33")
    assert client.post(f"/accounts/sub-accounts/{sub.id}/password",
                       data={"password": "Clerk9999", "confirm": "Clerk9999"}).status_code in (302, 303)
    assert _sent_to_login(clerk)
    assert client.post(f"/accounts/sub-accounts/{gone.id}/delete").status_code in (302, 303)
    assert _sent_to_login(leaver)


def test_the_operator_signs_an_account_out_everywhere(app, client, ctx):
    store = make_store()
    owner = make_account(store, username="owner34")
    make_operator("op0034")
    db.session.commit()
    merchant = app.test_client()
    login(merchant, "owner34")
    thief = _copy(app, merchant)
    login(client, "op0034")
    page = client.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert "登出所有裝置" in page
    done = client.post(f"/operator/stores/{store.id}/accounts/{owner.id}/sign-out")
    assert done.status_code == 303
    assert _sent_to_login(merchant) and _sent_to_login(thief)
    assert _in(client) is False  # the operator lands on its console, not /home
    entry = db.session.scalar(select(HistoryEntry).where(
        HistoryEntry.subject_type == "accounts", HistoryEntry.subject_id == owner.id))
    assert entry.action == "signed_out_everywhere" and entry.actor_label == "op0034"
    login(merchant, "owner34")  # the owner simply logs in again
    assert _in(merchant)


def test_signing_out_everywhere_is_the_operators_and_scoped_to_the_store(app, client, ctx):
    store, elsewhere = make_store(), make_store()
    owner = make_account(store, username="owner35")
    make_account(elsewhere, username="owner36")
    make_operator("op0035")
    db.session.commit()
    login(client, "owner36")
    assert client.post(f"/operator/stores/{store.id}/accounts/{owner.id}/sign-out").status_code == 403
    client.post("/logout")
    login(client, "op0035")
    assert client.post(f"/operator/stores/{elsewhere.id}/accounts/{owner.id}/sign-out").status_code == 404
    assert db.session.get(Account, owner.id).session_epoch == 0


def test_the_session_cookie_is_reissued_at_login_and_on_a_store_switch(app, client, ctx):
    parent = make_store()
    child = make_store(parent=parent)
    make_account(parent, username="owner37")
    db.session.commit()
    client.get("/login")
    client.csrf_token()
    before_login = _cookie(client)
    login(client, "owner37")
    logged_in = _cookie(client)
    assert before_login and logged_in and logged_in != before_login
    stale = _copy(app, client)
    switched = client.post("/switch-store", data={"store_id": child.id})
    assert switched.status_code == 302
    after_switch = _cookie(client)
    assert after_switch != logged_in
    with client.session_transaction() as session:
        assert session["store_id"] == child.id and "csrf_token" not in session
    assert _in(client) and _in(stale)  # re-issued: the switch itself ends no session
    with client.session_transaction() as session:
        sid = session["sid"]
    with stale.session_transaction() as session:
        assert session["sid"] == sid  # the same login session, in a new cookie


def test_an_idle_session_ends_after_the_configured_minutes(app, client, ctx):
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_MAX_HOURS=12)
    make_account(make_store(), username="owner38")
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 9, 0))
    login(client, "owner38")
    clock.move(timedelta(minutes=29))
    assert _in(client)  # a request restarts the idle clock
    clock.move(timedelta(minutes=29))
    assert _in(client)
    clock.move(timedelta(minutes=30, seconds=1))
    assert _sent_to_login(client)


def test_the_cookie_is_signed_again_only_when_the_idle_clock_moves(app, client, ctx):
    make_account(make_store(), username="owner39")
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 9, 0))
    login(client, "owner39")
    assert client.get("/home").status_code == 200  # the first page keeps its CSRF token
    clock.move(timedelta(seconds=20))
    assert "Set-Cookie" not in client.get("/home").headers  # a scan a second: no new signature
    clock.move(timedelta(seconds=60))
    response = client.get("/home")
    assert response.status_code == 200 and "session=" in response.headers["Set-Cookie"]


def test_a_busy_session_ends_at_its_absolute_lifetime(app, client, ctx):
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_MAX_HOURS=12)
    parent = make_store()
    child = make_store(parent=parent)
    make_account(parent, username="owner39")
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 8, 0))
    login(client, "owner39")
    for _ in range(11 * 3):  # a request every 20 minutes for 11 hours
        clock.move(timedelta(minutes=20))
        assert _in(client)
    # a store switch re-issues the cookie but keeps the session's start
    assert client.post("/switch-store", data={"store_id": child.id}).status_code == 302
    for minute in (25, 50):
        clock.freeze(clock.taipei_datetime(2026, 11, 22, 19, minute))
        assert _in(client)
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 20, 0, 1))
    assert _sent_to_login(client)
    assert login(client, "owner39").status_code == 302 and _in(client)  # a new login, a new start


def test_the_lifetimes_default_to_30_idle_minutes_and_12_hours_and_read_the_environment(monkeypatch):
    from app import config

    defaults = config.from_environment()
    assert (defaults["SESSION_IDLE_MINUTES"], defaults["SESSION_MAX_HOURS"]) == (30, 12)
    assert defaults["TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("ECTIX_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("ECTIX_SESSION_MAX_HOURS", "8")
    monkeypatch.setenv("ECTIX_TRUSTED_PROXIES", "1")
    changed = config.from_environment()
    assert (changed["SESSION_IDLE_MINUTES"], changed["SESSION_MAX_HOURS"],
            changed["PERMANENT_SESSION_LIFETIME"], changed["TRUSTED_PROXIES"]) == (15, 8, 8 * 3600, 1)
