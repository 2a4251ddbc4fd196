"""The same-answer rule through /api/v1 (docs/tickets.md): an unknown code, another store's code
and a malformed one get the same status and body, byte for byte, run the same SQL statements and
count one failed look-up per account and per IP each; a serial, unknown or another store's,
likewise (same body, same statements)."""

from __future__ import annotations

import json

import pytest
from redis import Redis

from app import clock, ratelimit
from app.auth import request_cache
from app.db import db
from app.tickets import codes
from tests.api.conftest import bearer
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

API = "/api/v1"


def mistyped(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def _remaining(rule: ratelimit.Rule, identity: object) -> int:
    return ratelimit._limiter().get_window_stats(rule.item, rule.name, str(identity)).remaining


@pytest.fixture
def world(ctx, client, token_for, monkeypatch):  # noqa: ANN001, ANN201
    # The request cache lives 5 s of wall time: on a busy machine it could expire between two
    # of the compared requests and add its reload's statements to one of them.
    monkeypatch.setattr(request_cache, "SECONDS", 3600.0)
    clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
    store, owner, pickup, _ = ready_store("apiissuer")
    other, other_owner, other_pickup, _ = ready_store("apiother")
    [mine, warm] = issue(owner, store, pickup, quantity=2)
    [theirs] = issue(other_owner, other, other_pickup)
    headers = bearer(token_for(owner)[1])
    warmed = client.post(f"{API}/redemptions", headers=headers, json={"code": warm.code})
    assert warmed.status_code == 201
    return {"headers": headers, "owner_id": owner.id, "mine": (mine.code, mine.serial),
            "theirs": (theirs.code, theirs.serial)}


def _answer(client, count_queries, method_path: tuple[str, str], headers, json):  # noqa: ANN001, ANN202
    db.session.remove()  # each request starts from an empty session, as in production
    count_queries.clear()
    method, path = method_path
    response = client.open(path, method=method, headers=headers, json=json)
    return response.status_code, response.get_data(), list(count_queries)


def test_redeem_answers_the_three_alike(client, world, count_queries):
    cases = {"unknown": codes.new_redemption_code(), "another store's": world["theirs"][0],
             "malformed": mistyped(world["mine"][0])}
    answers = {}
    for case, code in cases.items():
        before = (_remaining(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, world["owner_id"]),
                  _remaining(ratelimit.UNKNOWN_CODE_PER_IP, "127.0.0.1"))
        status, body, statements = _answer(client, count_queries, ("POST", f"{API}/redemptions"),
                                           world["headers"], {"code": code})
        after = (_remaining(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, world["owner_id"]),
                 _remaining(ratelimit.UNKNOWN_CODE_PER_IP, "127.0.0.1"))
        answers[case] = (status, body, statements, (before[0] - after[0], before[1] - after[1]))
    unknown = answers["unknown"]
    assert unknown[0] == 404
    assert json.loads(unknown[1]) == {"error": {"code": "not_found",
                                                "message": "查無此核銷代碼，請確認是否輸入正確"}}
    assert unknown[3] == (1, 1)  # one failure per account and per IP
    for case, answer in answers.items():
        assert answer == unknown, case  # status, body bytes, statements, counting


@pytest.mark.parametrize("action", ["cancel-redemption", "return", "cancel-return"])
def test_a_serial_unknown_or_another_stores_answers_alike(client, world, count_queries, action):
    body = {"reason": "測試"}
    unknown = _answer(client, count_queries, ("POST", f"{API}/tickets/ZZZZZ20260701001/{action}"),
                      world["headers"], body)
    theirs = _answer(client, count_queries, ("POST", f"{API}/tickets/{world['theirs'][1]}/{action}"),
                     world["headers"], body)
    assert unknown[0] == 404
    assert json.loads(unknown[1]) == {"error": {"code": "not_found", "message": "查無此票券序號"}}
    assert theirs == unknown


def test_a_code_that_finds_nothing_costs_one_statement_and_the_limiter_none_on_redis(
        app, client, world, count_queries, redis_url):
    """With Redis configured the failures are counted there: a lookup that finds nothing runs
    its one lookup statement, and once over the limit the 429 runs no SQL at all."""
    app.config["RATELIMIT_STORAGE_URL"] = redis_url
    ratelimit.reset(app)
    try:
        status, _, statements = _answer(client, count_queries, ("POST", f"{API}/redemptions"),
                                        world["headers"], {"code": codes.new_redemption_code()})
        assert status == 404
        assert len(statements) == 1 and "FROM tickets" in statements[0], statements
        limit = ratelimit.UNKNOWN_CODE_PER_ACCOUNT.item.amount
        for _ in range(limit - 1):
            client.post(f"{API}/redemptions", headers=world["headers"],
                        json={"code": codes.new_redemption_code()})
        status, _, statements = _answer(client, count_queries, ("POST", f"{API}/redemptions"),
                                        world["headers"], {"code": codes.new_redemption_code()})
        assert status == 429
        assert statements == []
        assert any(b"code-account" in key for key in Redis.from_url(redis_url).keys("*"))
    finally:
        ratelimit.reset(app)
