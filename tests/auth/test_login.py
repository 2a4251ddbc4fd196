from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import LoginEvent
from app.db import db
from tests.factories import PASSWORD, login, make_account, make_store


def test_login_page_renders_in_traditional_chinese(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "ECTicket 發行管理平台" in html
    assert 'name="csrf_token"' in html


def test_login_and_logout_record_history_with_ip_and_user_agent(client, ctx):
    store = make_store()
    make_account(store, username="owner01")
    db.session.commit()
    response = client.post("/login", data={"username": "owner01", "password": PASSWORD},
                           headers={"User-Agent": "pytest-agent"})
    assert response.status_code == 302
    assert client.get("/home").status_code == 200
    event = db.session.scalar(select(LoginEvent))
    assert (event.username, event.success, event.ip, event.user_agent) == (
        "owner01", True, "127.0.0.1", "pytest-agent")
    assert event.store_id == store.id
    assert client.post("/logout").status_code == 302
    assert client.get("/home").status_code == 302  # back to the login page


def test_wrong_password_is_refused_with_a_generic_message(client, ctx):
    make_account(make_store(), username="owner02")
    db.session.commit()
    response = client.post("/login", data={"username": "owner02", "password": "wrong1"})
    assert response.status_code == 401
    assert "帳號或密碼錯誤" in response.get_data(as_text=True)
    unknown = client.post("/login", data={"username": "nobody99", "password": "wrong1"})
    assert "帳號或密碼錯誤" in unknown.get_data(as_text=True)  # no hint which one was wrong


def test_five_failures_in_fifteen_minutes_lock_the_account(client, ctx):
    make_account(make_store(), username="owner03")
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 0))
    for _ in range(5):
        client.post("/login", data={"username": "owner03", "password": "bad-pass1"})
        clock.move(timedelta(minutes=2))
    # the right password is refused while locked
    response = client.post("/login", data={"username": "owner03", "password": PASSWORD})
    assert response.status_code == 401
    assert "暫時鎖定" in response.get_data(as_text=True)
    # 15 minutes after the first of the five failures, it unlocks
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 15, 1))
    assert login(client, "owner03").status_code == 302


def test_four_failures_do_not_lock_and_a_success_resets_the_count(client, ctx):
    make_account(make_store(), username="owner04")
    db.session.commit()
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 0))
    for _ in range(4):
        client.post("/login", data={"username": "owner04", "password": "bad-pass1"})
    login(client, "owner04")
    client.post("/logout")
    for _ in range(4):
        client.post("/login", data={"username": "owner04", "password": "bad-pass1"})
    assert login(client, "owner04").status_code == 302


def test_post_without_csrf_token_is_refused(client, ctx):
    make_account(make_store(), username="owner05")
    db.session.commit()
    response = client.post("/login", data={"username": "owner05", "password": PASSWORD},
                           csrf=False)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert db.session.scalar(select(LoginEvent)) is None


def test_session_cookie_flags(client, ctx):
    make_account(make_store(), username="owner06")
    db.session.commit()
    response = login(client, "owner06")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_open_redirect_after_login_is_ignored(client, ctx):
    make_account(make_store(), username="owner07")
    db.session.commit()
    response = client.post("/login", data={"username": "owner07", "password": PASSWORD,
                                           "next": "https://evil.example/"})
    assert response.headers["Location"] == "/home"


def test_an_htmx_request_without_a_session_is_sent_to_the_login_page_and_back(client, ctx):
    store = make_store()
    make_account(store, username="owner21")
    db.session.commit()
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://localhost/counter/redeem?x=1"}
    # a session that is gone entirely: no CSRF token either, still the login page, not a 400
    gone = client.post("/counter/lookup", data={"action": "redeem", "code": "x"}, headers=htmx,
                       csrf=False)
    assert gone.status_code == 401
    assert gone.headers["HX-Redirect"] == "/login?next=/counter/redeem?x%3D1"
    # a session without a login (logged out, or the password changed elsewhere)
    expired = client.get("/home", headers=htmx)
    assert expired.status_code == 401 and expired.headers["HX-Redirect"].startswith("/login?next=")
    # an ordinary request is redirected with `next`, as before
    plain = client.get("/counter/redeem?x=1")
    assert plain.status_code == 302 and "/login?next=" in plain.headers["Location"]
    # a logged-in user whose CSRF token is bad is told so (400), not sent to log in
    login(client, "owner21")
    bad = client.post("/counter/lookup", data={"action": "redeem"}, headers=htmx, csrf=False)
    assert bad.status_code == 400 and "CSRF" in bad.get_data(as_text=True)

    client.post("/logout")
    back = client.post("/login?next=/counter/redeem", data={
        "username": "owner21", "password": PASSWORD, "next": "/counter/redeem"})
    assert back.status_code == 302 and back.headers["Location"] == "/counter/redeem"
    client.post("/logout")
    away = client.post("/login", data={"username": "owner21", "password": PASSWORD,
                                       "next": "//evil.example/x"})
    assert away.headers["Location"] == "/home"
