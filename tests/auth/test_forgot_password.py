"""忘記密碼: a reset link mailed to the store's contacts, single-use, 30 minutes, rate-limited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import PasswordResetToken
from app.db import db
from app.notifications.models import Message
from tests.factories import PASSWORD, make_account, make_store, make_sub
from tests.notifications.conftest import SETTINGS, use_smtp
from tests.notifications.smtp_server import SmtpTestServer

NEW_PASSWORD = "Fresh-pass9"
SAME_ANSWER = "若此帳號存在，重設密碼連結已寄至"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpTestServer]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with SmtpTestServer() as server:
        yield server


def _store(name: str = "忘記密碼店"):
    store = make_store(name)
    store.technical_emails = "tech@example.com"
    store.finance_emails = "money@example.com;tech@example.com"
    return store


def login(client, username: str, password: str):  # noqa: ANN001, ANN201
    return client.post("/login", data={"username": username, "password": password})


def _link_in(received) -> str:  # noqa: ANN001
    [link] = re.findall(r"https?://\S+/reset-password/\S+", received.text)
    return link.split("127.0.0.1:5000", 1)[-1]


def test_request_mail_link_set_password_and_log_in(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    make_account(_store(), username="owner77")
    db.session.commit()
    assert "忘記密碼" in client.get("/login").get_data(as_text=True)

    response = client.post("/forgot-password", data={"username": "owner77"},
                           follow_redirects=True)
    assert SAME_ANSWER in response.get_data(as_text=True)
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "money@example.com", "tech@example.com"]  # each contact once
    path = _link_in(smtp_server.messages[0])
    token = db.session.scalar(select(PasswordResetToken))
    assert path.rsplit("/", 1)[1] not in token.token_hash  # only the hash is kept
    assert token.expires_at - token.created_at == timedelta(minutes=30)

    page = client.get(path)
    assert page.status_code == 200 and "owner77" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    assert login(client, "owner77", PASSWORD).status_code == 401
    assert login(client, "owner77", NEW_PASSWORD).status_code == 302
    client.post("/logout")

    # the link is spent
    again = client.post(path, data={"new_password": "Other-pass8", "confirm": "Other-pass8"})
    assert again.status_code == 410 and "重設密碼連結無效" in again.get_data(as_text=True)
    assert login(client, "owner77", NEW_PASSWORD).status_code == 302


def _without_csrf_tokens(html: str) -> str:
    """The page without its CSRF token, which is signed with the second it was made in."""
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    return html.replace(token, "TOKEN")


def test_an_unknown_username_gets_the_same_answer_and_no_mail(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    make_account(_store(), username="owner78")
    db.session.commit()
    known = client.post("/forgot-password", data={"username": "owner78"}, follow_redirects=True)
    unknown = client.post("/forgot-password", data={"username": "nobody99"},
                          follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    assert _without_csrf_tokens(known.get_data(as_text=True)) == _without_csrf_tokens(
        unknown.get_data(as_text=True))
    assert len(smtp_server.messages) == 2  # the known account's two contacts only


def test_an_expired_link_is_refused(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    make_account(_store(), username="owner79")
    db.session.commit()
    client.post("/forgot-password", data={"username": "owner79"})
    path = _link_in(smtp_server.messages[0])
    clock.freeze(clock.now() + timedelta(minutes=31))
    response = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    assert login(client, "owner79", PASSWORD).status_code == 302


def test_a_new_request_spends_the_older_link(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    store = _store()
    store.finance_emails = ""
    make_account(store, username="owner80")
    db.session.commit()
    client.post("/forgot-password", data={"username": "owner80"})
    client.post("/forgot-password", data={"username": "owner80"})
    first, second = (_link_in(m) for m in smtp_server.messages)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


def test_a_sub_account_follows_the_sub_account_password_rule(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    make_sub(_store(), "staff777")
    db.session.commit()
    client.post("/forgot-password", data={"username": "staff777"})
    path = _link_in(smtp_server.messages[0])
    bad = client.post(path, data={"new_password": "only-letters", "confirm": "only-letters"})
    assert bad.status_code == 422
    assert "密碼必須為 6-20 位英數字混合" in bad.get_data(as_text=True)
    mismatch = client.post(path, data={"new_password": "abc12345", "confirm": "abc12346"})
    assert mismatch.status_code == 422
    ok = client.post(path, data={"new_password": "abc12345", "confirm": "abc12345"})
    assert ok.status_code == 302
    assert login(client, "staff777", "abc12345").status_code == 302


def test_requests_are_rate_limited_per_username(app, ctx, client):
    make_account(_store(), username="owner81")
    db.session.commit()
    for _ in range(3):
        assert client.post("/forgot-password", data={"username": "owner81"}).status_code == 302
    refused = client.post("/forgot-password", data={"username": "owner81"})
    assert refused.status_code == 429
    assert "忘記密碼申請次數過多" in refused.get_data(as_text=True)
    assert db.session.query(PasswordResetToken).count() == 3
    # an unknown name is limited the same way: the limit does not tell which names exist
    for _ in range(3):
        client.post("/forgot-password", data={"username": "ghost0001"})
    assert client.post("/forgot-password", data={"username": "ghost0001"}).status_code == 429


def test_a_store_without_contacts_gets_no_mail_and_the_same_answer(app, ctx, client):
    make_account(make_store("無聯絡人店"), username="owner82")
    db.session.commit()
    response = client.post("/forgot-password", data={"username": "owner82"},
                           follow_redirects=True)
    assert SAME_ANSWER in response.get_data(as_text=True)
    assert db.session.query(Message).count() == 0
    assert db.session.query(PasswordResetToken).count() == 0
