"""雙因子驗證, 登入後台 IP設定 and 3-5 login notices through the pages (SQLite, inline jobs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app import clock, history
from app.auth.login_notices import notify_new_device_login
from app.auth.models import Account, LoginEvent
from app.auth.permissions import Function, Level
from app.auth.protection_models import EmailCode, LoginNoticeSettings, RecoveryCode, TwoFactor
from app.db import db
from app.notifications.models import Message
from tests.factories import PASSWORD, make_account, make_operator, make_store, make_sub, make_totp
from tests.notifications.conftest import SETTINGS, use_smtp
from tests.notifications.smtp_server import SmtpTestServer

AT = datetime(2026, 11, 21, 3, 0, 15, tzinfo=UTC)


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpTestServer]:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with SmtpTestServer() as server:
        yield server


def _password(client, username: str, password: str = PASSWORD):  # noqa: ANN001, ANN202
    return client.post("/login", data={"username": username, "password": password})


def _events(username: str) -> list[tuple[bool, str]]:
    db.session.expire_all()
    return [(e.success, e.reason) for e in db.session.scalars(
        select(LoginEvent).where(LoginEvent.username == username).order_by(LoginEvent.id))]


def _owner(name: str = "雙因子店") -> Account:
    store = make_store(name)
    store.technical_emails = "tech@example.com"
    store.finance_emails = "money@example.com"
    return make_account(store, username="owner2fa")


def test_login_asks_for_the_code_and_the_pending_state_opens_nothing(app, ctx, client):
    clock.freeze(AT)
    secret = make_totp(_owner())
    db.session.commit()

    first = _password(client, "owner2fa")
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/verify")
    for path in ("/home", "/two-factor", "/vendor/login-history", "/accounts/password",
                 "/accounts/api-tokens"):  # not logged in: every page sends back to login
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
    assert client.post("/two-factor/totp").status_code == 302  # to the login page

    page = client.get("/login/verify")
    assert page.status_code == 200 and "驗證應用程式" in page.get_data(as_text=True)
    wrong = client.post("/login/verify", data={"code": "000000" if pyotp.TOTP(secret).at(AT) != "000000" else "111111"})
    assert wrong.status_code == 422 and "驗證碼錯誤或已使用" in wrong.get_data(as_text=True)
    code = pyotp.TOTP(secret).at(AT)
    done = client.post("/login/verify", data={"code": code})
    assert done.status_code == 302 and done.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    assert _events("owner2fa") == [(True, "2fa_pending"), (False, "bad_2fa"), (True, "2fa")]

    client.post("/logout")  # the same code again, within its window: refused
    _password(client, "owner2fa")
    again = client.post("/login/verify", data={"code": code})
    assert again.status_code == 422 and client.get("/home").status_code in (302, 303)
    clock.freeze(AT + timedelta(seconds=30))  # the next step's code is accepted
    assert client.post("/login/verify",
                       data={"code": pyotp.TOTP(secret).at(AT + timedelta(seconds=30))}
                       ).status_code in (302, 303)


def test_the_pending_state_lapses_and_a_cancel_forgets_it(app, ctx, client):
    clock.freeze(AT)
    secret = make_totp(_owner())
    db.session.commit()
    _password(client, "owner2fa")
    clock.freeze(AT + timedelta(minutes=11))
    late = client.post("/login/verify", data={"code": pyotp.TOTP(secret).at(clock.now())})
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    assert "登入驗證逾時" in client.get("/login").get_data(as_text=True)

    _password(client, "owner2fa")
    assert client.post("/login/verify/cancel").status_code in (302, 303)
    assert client.get("/login/verify").headers["Location"].endswith("/login")


def test_set_up_by_app_recovery_codes_once_and_removal_with_a_code(app, ctx, client):
    clock.freeze(AT)
    owner = _owner()
    other = app.test_client()
    db.session.commit()
    for c in (client, other):
        assert _password(c, "owner2fa").status_code in (302, 303)
    assert "進行設定" in client.get("/two-factor").get_data(as_text=True)
    assert client.post("/two-factor/totp").headers["Location"].endswith("/two-factor/setup")
    page = client.get("/two-factor/setup").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    key = re.search(r'data-testid="setup-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert client.post("/two-factor/setup", data={"code": "123"}).status_code == 422

    shown = client.post("/two-factor/setup", data={"code": pyotp.TOTP(key).at(AT)})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code class=\"user-select-all\">([a-z2-9]{5}-[a-z2-9]{5})</code>",
                       shown.get_data(as_text=True))
    assert len(codes) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & set(stored)
    assert client.get("/home").status_code == 200  # this browser carries on
    assert other.get("/home").status_code == 302  # the other session ended
    db.session.expire_all()
    assert [e.action for e in history.entries_for(owner)] == ["two_factor_enabled"]

    client.post("/logout")  # a recovery code logs in once
    _password(client, "owner2fa")
    assert client.post("/login/verify", data={"code": codes[0].upper()}).status_code in (302, 303)
    assert _events("owner2fa")[-1] == (True, "recovery")
    assert "剩餘可用復原碼" in client.get("/two-factor").get_data(as_text=True)
    client.post("/logout")
    _password(client, "owner2fa")
    assert client.post("/login/verify", data={"code": codes[0]}).status_code == 422

    assert client.post("/login/verify", data={"code": codes[1]}).status_code in (302, 303)
    refused = client.post("/two-factor/remove", data={"remove-code": "000000"})
    assert refused.status_code == 422
    clock.freeze(AT + timedelta(seconds=60))
    removed = client.post("/two-factor/remove",
                          data={"remove-code": pyotp.TOTP(key).at(clock.now())})
    assert removed.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.scalar(select(TwoFactor)) is None
    assert db.session.scalar(select(RecoveryCode).where(RecoveryCode.used_at.is_(None))) is None
    client.post("/logout")
    assert _password(client, "owner2fa").headers["Location"].endswith("/home")


def test_e_mailed_codes_go_to_the_technical_contacts(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    owner = _owner()
    db.session.commit()
    _password(client, "owner2fa")
    assert client.post("/two-factor/email").headers["Location"].endswith("/two-factor/setup")
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["tech@example.com"]
    code = re.search(r"\b(\d{6})\b", mail.text).group(1)
    assert client.post("/two-factor/setup", data={"code": code}).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(TwoFactor)).method == "email"
    assert code not in db.session.scalars(select(EmailCode.code_hash)).all()[0]  # a hash only
    assert db.session.scalar(select(Message).where(Message.kind == "two_factor_code"))

    client.post("/logout")
    assert _password(client, "owner2fa").headers["Location"].endswith("/login/verify")
    login_mail = smtp_server.messages[-1]
    login_code = re.search(r"\b(\d{6})\b", login_mail.text).group(1)
    assert "登入" in login_mail.message["Subject"]
    assert client.post("/login/verify", data={"code": code}).status_code == 422  # the setup one
    assert client.post("/login/verify", data={"code": login_code}).status_code in (302, 303)
    assert owner.id and client.get("/home").status_code == 200


def test_the_operator_can_require_two_factor_and_accounts_set_it_up_first(app, ctx, client):
    clock.freeze(AT)
    owner = _owner()
    store = owner.store
    clerk = make_sub(store, "clerk2fa1")
    make_operator("op2fa01")
    db.session.commit()
    operator = app.test_client()
    _password(operator, "op2fa01")
    page = operator.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert "要求雙因子驗證" in page
    fields = {"merchant_code": store.merchant_code, "name": store.name, "tax_id": store.tax_id,
              "parent_id": "0", "technical_emails": "tech@example.com",
              "finance_emails": "money@example.com", "require_two_factor": "y"}
    assert operator.post(f"/operator/stores/{store.id}", data=fields).status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(type(store), store.id).require_two_factor is True

    assert _password(client, "clerk2fa1").status_code == 302  # logged in, but ...
    for path in ("/home", "/vendor/login-history", "/accounts/password"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/two-factor")
    htmx = client.get("/home", headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and htmx.headers["HX-Redirect"].endswith("/two-factor")
    # the counter's press, which reads its account from the request cache, is held back too
    press = client.post("/counter/act", headers={"HX-Request": "true"}, data={
        "action": "redeem", "code": "ABCDEFGHJK234567", "ticket_id": "1", "seen": "unused"})
    assert press.status_code == 403 and press.headers["HX-Redirect"].endswith("/two-factor")
    assert "此商店要求所有後台帳號啟用雙因子驗證" in client.get("/two-factor").get_data(as_text=True)
    client.post("/two-factor/totp")
    key = re.search(r'data-testid="setup-key">([A-Z2-7 ]+)<',
                    client.get("/two-factor/setup").get_data(as_text=True)).group(1)
    client.post("/two-factor/setup", data={"code": pyotp.TOTP(key.replace(" ", "")).at(AT)})
    assert client.get("/accounts/password").status_code == 200  # free to go
    assert clerk.id


def test_the_allow_list_refuses_a_login_from_elsewhere(app, ctx, client):
    owner = _owner()
    sub = make_sub(owner.store, "clerkip01")
    db.session.commit()
    _password(client, "owner2fa")  # the test client comes from 127.0.0.1
    listing = client.get("/accounts/login-ips").get_data(as_text=True)
    assert "clerkip01" in listing and "不限制" in listing

    bad = client.post(f"/accounts/login-ips/{sub.id}", data={"login_ips": "203.0.113"})
    assert bad.status_code == 422 and "不是有效的 IP 位址或網段" in bad.get_data(as_text=True)
    too_long = ";".join(f"203.0.113.{i}" for i in range(1, 20))
    assert "至多 200 字元" in client.post(f"/accounts/login-ips/{sub.id}",
                                         data={"login_ips": too_long}).get_data(as_text=True)
    own = client.post(f"/accounts/login-ips/{owner.id}", data={"login_ips": "203.0.113.5"})
    assert own.status_code == 422 and "儲存後將無法由此登入" in own.get_data(as_text=True)
    saved = client.post(f"/accounts/login-ips/{sub.id}",
                        data={"login_ips": " 203.0.113.5 ; 198.51.100.0/24 "})
    assert saved.status_code in (302, 303)
    db.session.expire_all()
    assert db.session.get(Account, sub.id).login_ips == "203.0.113.5;198.51.100.0/24"
    [entry] = history.entries_for(db.session.get(Account, sub.id))
    assert entry.action == "login_ips_changed"

    clerk = app.test_client()
    refused = _password(clerk, "clerkip01")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 401 and "不在此帳號允許登入的 IP 清單中" in text
    assert _events("clerkip01") == [(False, "ip_not_allowed")]
    history_page = client.get("/vendor/login-history").get_data(as_text=True)
    assert "失敗（IP 不在允許清單）" in history_page
    inside = app.test_client()
    assert inside.post("/login", data={"username": "clerkip01", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.77"}).status_code in (302, 303)
    sub_client = inside  # a sub-account cannot open the allow-list pages
    assert sub_client.get("/accounts/login-ips",
                          environ_base={"REMOTE_ADDR": "198.51.100.77"}).status_code == 403


def test_notice_settings_are_the_main_accounts_and_written_to_history(app, ctx, client):
    owner = _owner()
    make_sub(owner.store, "viewer001", grants={Function.LOGIN_HISTORY: Level.VIEW})
    db.session.commit()
    _password(client, "owner2fa")
    page = client.get("/vendor/login-history").get_data(as_text=True)
    assert "登入通知設定" in page and "tech@example.com" in page
    bad = client.post("/vendor/login-history/notices",
                      data={"notify_failures": "y", "failure_threshold": "0", "to_technical": "y"})
    assert bad.status_code == 422 and "連續失敗次數須為 1 至 10 次" in bad.get_data(as_text=True)
    nobody = client.post("/vendor/login-history/notices",
                         data={"notify_failures": "y", "failure_threshold": "3"})
    assert nobody.status_code == 422 and "請至少勾選一種通知對象" in nobody.get_data(as_text=True)
    ok = client.post("/vendor/login-history/notices", data={
        "notify_failures": "y", "failure_threshold": "4", "notify_new_device": "y",
        "to_technical": "y", "to_finance": "y"})
    assert ok.status_code in (302, 303)
    db.session.expire_all()
    settings = db.session.scalar(select(LoginNoticeSettings))
    assert (settings.notify_failures, settings.failure_threshold, settings.to_finance,
            settings.to_sales) == (True, 4, True, False)
    [entry] = history.entries_for(settings)
    assert entry.action == "login_notices_updated" and entry.changes["failure_threshold"] == [3, 4]
    assert "設定歷程" in client.get("/vendor/login-history").get_data(as_text=True)

    viewer = app.test_client()
    _password(viewer, "viewer001")
    assert "僅管理者可修改登入通知設定" in viewer.get("/vendor/login-history").get_data(as_text=True)
    assert viewer.post("/vendor/login-history/notices",
                       data={"failure_threshold": "3", "to_technical": "y"}).status_code == 403


def test_repeated_failures_mail_once_a_streak_and_new_devices_mail(app, ctx, client, smtp_server):
    use_smtp(app, smtp_server)
    app.config["LOGIN_LOCKOUT_FAILURES"] = 50
    owner = _owner()
    db.session.add(LoginNoticeSettings(store_id=owner.store_id, notify_failures=True,
                                       failure_threshold=3, notify_new_device=True,
                                       to_finance=True, to_sales=False, to_technical=True))
    db.session.commit()
    for _ in range(5):
        assert _password(client, "owner2fa", "Wrong-pass1").status_code == 401
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "money@example.com", "tech@example.com"]  # the 3rd failure, once per contact
    assert "連續登入失敗 3 次" in smtp_server.messages[0].text
    assert _password(client, "owner2fa").status_code == 302  # a success ends the streak
    assert len(smtp_server.messages) == 4  # and this browser is new to the account: 2 notices
    assert "從新的裝置或瀏覽器登入" in smtp_server.messages[-1].text
    client.post("/logout")
    for _ in range(3):
        _password(client, "owner2fa", "Wrong-pass1")
    assert len(smtp_server.messages) == 6
    assert _password(client, "owner2fa").status_code == 302
    assert len(smtp_server.messages) == 6  # a known device: no notice

    notify_new_device_login(owner, "198.51.100.7", "Mozilla/5.0 (X11) Firefox/140")
    db.session.commit()  # the outbox sends after the commit
    assert len(smtp_server.messages) == 8
    assert "198.51.100.7" in smtp_server.messages[-1].text
    assert "Firefox/140" in smtp_server.messages[-1].text


def test_no_notice_unless_asked_and_none_for_operators(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    owner = _owner()
    operator = make_operator("op2fa02")
    assert notify_new_device_login(owner, "198.51.100.7", "UA") == []
    assert notify_new_device_login(operator, "198.51.100.7", "UA") == []
    db.session.commit()
    assert smtp_server.messages == []


def test_the_authenticator_secret_is_kept_sealed(ctx):
    owner = make_account(make_store(), username="owner-sealed")
    secret = make_totp(owner)
    db.session.commit()
    stored = db.session.execute(select(TwoFactor.__table__.c.secret)).scalar_one()
    assert secret not in stored and stored.startswith("v1:")
    db.session.expire_all()
    factor = db.session.scalar(select(TwoFactor))
    assert factor.secret == secret
    other = make_account(make_store(), username="owner-sealed2")
    db.session.execute(TwoFactor.__table__.insert().values(
        account_id=other.id, method="totp", secret=stored))  # the row copied to another account
    copied = db.session.scalar(select(TwoFactor).where(TwoFactor.account_id == other.id))
    with pytest.raises(RuntimeError):
        copied.secret  # noqa: B018 - does not open under another account's label
