"""Login throttling an attacker cannot turn on the real user: limits per (username, address),
per address (spraying) and per username from unknown devices; a device that logged in before
keeps its own count; 40 concurrent wrong passwords evaluate at most the limit (PostgreSQL and
Redis); the client address behind a configured number of proxies."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.auth import devices, services
from app.auth.models import LoginEvent
from app.db import db
from tests.conftest import CsrfClient, base_config
from tests.factories import PASSWORD, make_account, make_store


def _try(client, username: str, password: str, ip: str = "10.0.0.1"):  # noqa: ANN001, ANN202
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def _locked(response) -> bool:  # noqa: ANN001
    return response.status_code == 401 and "暫時鎖定" in response.get_data(as_text=True)


def test_spraying_many_usernames_from_one_address_is_blocked(app, client, ctx):
    make_account(make_store(), username="owner41")
    db.session.commit()
    for i in range(30):  # one wrong password for each of 30 usernames: under every per-user limit
        assert _try(client, f"victim{i:02d}", "Winter2026!").status_code == 401
    assert _locked(_try(client, "victim99", "Winter2026!"))
    assert _locked(_try(client, "owner41", PASSWORD))  # nothing is evaluated from there
    assert _try(app.test_client(), "owner41", PASSWORD, ip="10.0.0.2").status_code == 302


def test_wrong_passwords_from_one_address_lock_that_address_for_the_username(app, client, ctx):
    make_account(make_store(), username="owner42")
    db.session.commit()
    for _ in range(5):
        assert _try(client, "owner42", "bad-pass1").status_code == 401
    assert _locked(_try(client, "owner42", PASSWORD))
    # the owner elsewhere is not locked by it
    assert _try(app.test_client(), "owner42", PASSWORD, ip="10.0.0.7").status_code == 302


def test_a_locked_username_still_lets_its_owner_in_from_a_device_it_used_before(app, client, ctx):
    make_account(make_store(), username="owner43")
    db.session.commit()
    owner = app.test_client()
    first = _try(owner, "owner43", PASSWORD, ip="10.0.0.5")
    assert first.status_code == 302 and owner.get_cookie(devices.COOKIE) is not None
    header = next(h for h in first.headers.getlist("Set-Cookie") if h.startswith(devices.COOKIE))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header
    owner.post("/logout")
    # someone guesses from the owner's own (office) address and from 20 others
    for _ in range(5):
        _try(client, "owner43", "guess-1", ip="10.0.0.5")
    for i in range(20):
        _try(app.test_client(), "owner43", "guess-2", ip=f"192.0.2.{i + 1}")
    assert _locked(_try(app.test_client(), "owner43", PASSWORD, ip="198.51.100.1"))  # a new device
    assert _locked(_try(app.test_client(), "owner43", PASSWORD, ip="10.0.0.5"))
    # the owner's own browser: its own count only, untouched by the guesses
    assert _try(owner, "owner43", PASSWORD, ip="10.0.0.5").status_code == 302
    # and a known device still gets at most five tries of its own
    owner.post("/logout")
    for _ in range(5):
        assert _try(owner, "owner43", "typo-9", ip="10.0.0.5").status_code == 401
    assert _locked(_try(owner, "owner43", PASSWORD, ip="10.0.0.5"))


def test_a_forged_or_foreign_device_cookie_bypasses_nothing(app, client, ctx):
    make_account(make_store(), username="owner44")
    make_account(make_store(), username="owner45")
    db.session.commit()
    elsewhere = app.test_client()
    assert _try(elsewhere, "owner45", PASSWORD).status_code == 302  # a device of owner45 only
    for _ in range(5):
        _try(client, "owner44", "guess-1")
    borrowed = app.test_client()
    borrowed.set_cookie(devices.COOKIE, elsewhere.get_cookie(devices.COOKIE).value)
    assert _locked(_try(borrowed, "owner44", PASSWORD))
    forged = app.test_client()
    forged.set_cookie(devices.COOKIE, "eyJkIjoieCIsImEiOlsxXX0.forged.sig")
    assert _locked(_try(forged, "owner44", PASSWORD))


def test_the_device_cookie_reads_back_and_keeps_the_latest_accounts(app):
    with app.test_request_context():
        response = app.response_class()
        device_id = devices.remember(response, None, 1)
        raw = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    with app.test_request_context(headers={"Cookie": f"{devices.COOKIE}={raw}"}):
        from flask import request

        device = devices.read(request)
        assert device == devices.Device(device_id, (1,)) and device.knows(1) and not device.knows(2)
        for account_id in range(2, 15):
            response = app.response_class()
            assert devices.remember(response, device, account_id) == device_id
            raw = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
            device = devices.Device(device_id, devices.read(_with_cookie(app, raw)).account_ids)
        assert device.account_ids == tuple(range(5, 15))  # the latest ten
        assert not device.knows(None)


def _with_cookie(app: Flask, raw: str):  # noqa: ANN202
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(headers={"Cookie": f"{devices.COOKIE}={raw}"})
    return app.request_class(builder.get_environ())


def test_a_client_address_comes_from_the_trusted_proxies(app, ctx):
    make_account(make_store(), username="owner46")
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    for proxies, expected in ((0, "127.0.0.1"), (1, "198.51.100.7"), (2, "203.0.113.9")):
        behind = create_app(base_config(url) | {"TRUSTED_PROXIES": proxies})
        behind.test_client_class = CsrfClient
        behind.test_client().post("/login", data={"username": "owner46", "password": "wrong-1"},
                                  headers=forwarded)
        with behind.app_context():
            ip = db.session.scalar(select(LoginEvent.ip).order_by(LoginEvent.id.desc()).limit(1))
            db.engine.dispose()
        assert ip == expected


def _forty_wrong_passwords(application: Flask, monkeypatch) -> tuple[int, list[str]]:  # noqa: ANN001
    evaluated = []
    real = services.verify_password

    def counting(password_hash, password):  # noqa: ANN001, ANN202
        evaluated.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(services, "verify_password", counting)
    start = threading.Barrier(40)
    messages: list[str] = []

    def attempt(i: int) -> None:
        with application.app_context():
            start.wait()
            result = services.authenticate("owner47", f"wrong-{i}", ip="10.0.0.1", user_agent="t")
            db.session.commit()
            messages.append(result.message)
            db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(evaluated), messages


@pytest.mark.postgres
@pytest.mark.redis
def test_forty_concurrent_wrong_passwords_evaluate_at_most_the_limit(pg_app, redis_url, monkeypatch):
    pg_app.config["REDIS_URL"] = redis_url  # counters in Redis (INCR), as in production
    with pg_app.app_context():
        make_account(make_store(), username="owner47")
        db.session.commit()
    evaluated, messages = _forty_wrong_passwords(pg_app, monkeypatch)
    assert evaluated == 5 and len(messages) == 40
    assert messages.count(services.LOGIN_FAILED) == evaluated
    with pg_app.app_context():
        reasons = dict(db.session.execute(select(LoginEvent.reason, func.count())
                                          .group_by(LoginEvent.reason)).all())
    assert reasons == {"bad_password": evaluated, "locked": 40 - evaluated}


@pytest.mark.postgres
def test_forty_concurrent_wrong_passwords_without_redis_use_the_database_row(pg_app, monkeypatch):
    with pg_app.app_context():
        make_account(make_store(), username="owner47")
        db.session.commit()
    evaluated, messages = _forty_wrong_passwords(pg_app, monkeypatch)
    assert evaluated == 5 and len(messages) == 40
    with pg_app.app_context():
        locked = db.session.scalar(select(func.count()).where(LoginEvent.reason == "locked"))
    assert locked == 40 - evaluated
