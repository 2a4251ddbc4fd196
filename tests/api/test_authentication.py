"""Who may call the API: live bearer tokens of merchant accounts, never a browser session."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app import clock
from app.auth import request_cache
from app.auth.models import ApiToken
from app.auth.services import create_api_token, delete_sub_account, revoke_api_token
from app.db import db
from app.errors import Forbidden
from tests.api.conftest import bearer
from tests.factories import login, make_account, make_operator, make_store

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "缺少或無效的 API 金鑰"}}


def _assert_unauthorized(response) -> None:  # noqa: ANN001
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json() == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_token_is_401_with_the_error_shape(client, ctx):
    _assert_unauthorized(client.get("/api/v1/me"))
    _assert_unauthorized(client.get("/api/v1/tokens"))
    _assert_unauthorized(client.delete("/api/v1/tokens/1"))


@pytest.mark.parametrize("header", [
    "Bearer ectx_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "ectx_abc", "Bearer x" * 50,
])
def test_unknown_or_malformed_token_is_401(client, ctx, header):
    _assert_unauthorized(client.get("/api/v1/me", headers={"Authorization": header}))


def test_a_token_revoked_here_is_401_at_once(client, ctx, token_for):
    account = make_account(make_store())
    token_id, plain = token_for(account)
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200  # now cached
    revoke_api_token(account, db.session.get(ApiToken, token_id))
    db.session.commit()
    _assert_unauthorized(client.get("/api/v1/me", headers=bearer(plain)))


def test_a_token_revoked_by_another_process_is_401_within_the_cache_time(
        client, ctx, token_for, monkeypatch):
    account = make_account(make_store())
    token_id, plain = token_for(account)
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    db.session.get(ApiToken, token_id).revoked_at = clock.now()  # as another worker would
    db.session.commit()
    later = time.monotonic() + request_cache.SECONDS
    monkeypatch.setattr(request_cache.time, "monotonic", lambda: later)
    _assert_unauthorized(client.get("/api/v1/me", headers=bearer(plain)))


def test_a_cached_token_costs_no_statement_and_no_write(client, ctx, token_for, count_queries):
    token_id, plain = token_for(make_account(make_store()))
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    count_queries.clear()
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    assert not [s for s in count_queries if "api_tokens" in s or "accounts" in s], count_queries
    assert not [s for s in count_queries if s.split()[0].upper() in {"UPDATE", "INSERT"}]


def test_deleted_accounts_token_is_401(client, ctx, token_for):
    account = make_account(make_store())
    token_id, plain = token_for(account)
    account.deleted_at = clock.now()  # the token itself is left unrevoked: the account decides
    db.session.commit()
    assert db.session.get(ApiToken, token_id).revoked_at is None
    _assert_unauthorized(client.get("/api/v1/me", headers=bearer(plain)))


def test_deleting_a_sub_account_through_the_service_ends_its_tokens(client, ctx, token_for):
    store = make_store()
    main = make_account(store)
    sub = make_account(store, kind=main.kind.SUB)
    _, plain = token_for(sub)
    delete_sub_account(main, sub)
    db.session.commit()
    _assert_unauthorized(client.get("/api/v1/me", headers=bearer(plain)))


def test_a_logged_in_browser_session_does_not_authenticate_the_api(client, ctx):
    make_account(make_store(), username="owner01")
    db.session.commit()
    login(client, "owner01")
    assert client.get("/home").status_code == 200  # the session itself is good
    _assert_unauthorized(client.get("/api/v1/me"))
    _assert_unauthorized(client.get("/api/v1/tokens"))


def test_token_is_used_only_with_the_bearer_scheme_not_as_a_cookie_or_query(client, ctx,
                                                                            token_for):
    _, plain = token_for(make_account(make_store()))
    _assert_unauthorized(client.get(f"/api/v1/me?access_token={plain}"))
    _assert_unauthorized(client.get("/api/v1/me", headers={"Authorization": f"Token {plain}"}))


def test_a_token_marks_when_it_was_last_used(client, ctx, token_for):
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 0))
    token_id, plain = token_for(make_account(make_store()))
    assert db.session.get(ApiToken, token_id).last_used_at is None
    client.get("/api/v1/me", headers=bearer(plain))
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).last_used_at == clock.now()


def test_operator_cannot_get_a_token(ctx):
    operator = make_operator()
    with pytest.raises(Forbidden):
        create_api_token(operator, "ops")
    assert db.session.scalar(select(ApiToken)) is None


def test_an_operator_token_that_somehow_exists_is_refused_with_403(client, ctx):
    from app.auth.services import _digest

    store = make_store()
    operator = make_operator()
    plain = "ectx_operator-token-planted-directly"
    db.session.add(ApiToken(store_id=store.id, account_id=operator.id, name="x",
                            token_hash=_digest(plain), prefix=plain[:11]))
    db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(plain))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_bearer_request_without_csrf_token_is_not_refused(client, ctx, token_for):
    account = make_account(make_store(), username="owner02")
    token_id, plain = token_for(account)
    response = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(plain), csrf=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["revoked_at"] is not None
    # CSRF is on for the rest of the app: the same kind of request to a page is refused
    login(client, "owner02")
    assert client.post("/logout", csrf=False).status_code == 400


def test_api_post_with_a_session_cookie_and_no_token_is_still_401(client, ctx, token_for):
    account = make_account(make_store(), username="owner03")
    token_id, _ = token_for(account)
    login(client, "owner03")
    _assert_unauthorized(client.delete(f"/api/v1/tokens/{token_id}", csrf=False))
    assert db.session.get(ApiToken, token_id).revoked_at is None


def test_unknown_api_paths_answer_json_404(client, ctx, token_for):
    _, plain = token_for(make_account(make_store()))
    for headers in ({}, bearer(plain)):
        response = client.get("/api/v1/no-such-thing", headers=headers)
        assert response.status_code == 404
        assert response.get_json() == {"error": {"code": "not_found",
                                                 "message": "找不到此頁面或資料"}}
        assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/", headers=bearer(plain)).status_code == 404


def test_wrong_method_answers_json_405(client, ctx, token_for):
    _, plain = token_for(make_account(make_store()))
    response = client.post("/api/v1/me", headers=bearer(plain), csrf=False)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_token_works_from_a_client_that_carries_a_session_cookie(client, ctx, token_for):
    """A non-login session (a CSRF token from the login page) must not shadow the token."""
    _, plain = token_for(make_account(make_store(), username="owner04"))
    assert client.get("/login").status_code == 200
    client.csrf_token()  # the client now holds a session cookie with a CSRF token in it
    for _ in range(2):
        response = client.get("/api/v1/me", headers=bearer(plain))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers
    # and with the default CSRF header a DELETE is fine too
    token_id, _ = token_for(make_account(make_store()))
    assert client.delete(f"/api/v1/tokens/{token_id}",
                         headers=bearer(plain)).status_code == 404


def test_a_logged_in_browser_using_a_token_is_the_tokens_account(client, ctx, token_for):
    make_account(make_store(), username="owner05")
    _, plain = token_for(make_account(make_store(), username="owner06"))
    login(client, "owner05")
    response = client.get("/api/v1/me", headers=bearer(plain))
    assert response.get_json()["username"] == "owner06"
    assert "Set-Cookie" not in response.headers
    assert client.get("/home").status_code == 200  # the browser session is left as it was
