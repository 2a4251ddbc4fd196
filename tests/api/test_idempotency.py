"""Idempotency-Key on the API's POSTs: a retry answers the first result and never acts twice."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from app import clock, jobs, ratelimit, schedule
from app.api import idempotency
from app.api import tickets as api_tickets
from app.api.models import IdempotencyKey
from app.auth.permissions import Function, Level
from app.auth.services import create_api_token
from app.db import db
from app.history import HistoryEntry
from app.tickets import services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.api import test_redemptions
from tests.api.conftest import bearer
from tests.api.test_redemptions import (
    API,
    act,
    actions,
    clerk,
    headers_for,
    redeem,
    reload,
    unknown_code,
)
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

shop = test_redemptions.shop  # the fixture: a store ready to issue, its owner's token

KEY = "4f1c2a9e-7b5d-4c1e-9a7f-0d2b6e8c1a35"


def key(value: str = KEY) -> dict[str, str]:
    return {"Idempotency-Key": value}


def keys() -> list[IdempotencyKey]:
    db.session.expire_all()
    return list(db.session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))


def body_hash(code: str) -> str:
    return hashlib.sha256(json.dumps({"code": code}).encode()).hexdigest()


def test_a_retry_with_the_same_key_answers_the_first_result_without_acting_again(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    first = redeem(client, shop.headers, ticket.code, **key())
    clock.freeze(clock.now() + timedelta(minutes=5))
    retry = redeem(client, shop.headers, ticket.code, **key())
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert actions(ticket, "redeemed") == ["redeemed"]
    [row] = keys()
    assert (row.account_id, row.key, row.method, row.path) == (
        shop.owner.id, KEY, "POST", "/api/v1/redemptions")
    assert row.status_code == 201 and json.loads(row.body) == first.get_json()
    assert row.request_hash == body_hash(ticket.code)
    # without a key the same request acts again, and is told why it cannot
    assert redeem(client, shop.headers, ticket.code).get_json()["error"]["code"] == "AlreadyRedeemed"


def test_an_error_answer_is_kept_too(client, shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    h = {**shop.headers, **key()}
    too_much = act(client, h, ticket.serial, "return", {"reason": "客訴", "fee": 151})
    assert too_much.status_code == 409
    retry = act(client, h, ticket.serial, "return", {"reason": "客訴", "fee": 151})
    assert retry.status_code == 409 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == too_much.get_json()
    assert retry.get_json()["error"]["code"] == "FeeAboveFaceValue"
    assert keys()[0].status_code == 409
    unknown = redeem(client, shop.headers, unknown_code(), **key("lookup-1"))
    assert unknown.status_code == 404
    assert keys()[1].status_code == 404 and reload(ticket).status is S.UNUSED


def test_the_same_key_with_another_body_or_path_is_422(client, shop):
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    assert redeem(client, shop.headers, first.code, **key()).status_code == 201
    for response in (redeem(client, shop.headers, second.code, **key()),
                     act(client, {**shop.headers, **key()}, first.serial, "cancel-redemption", {})):
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "Idempotency-Key" in error["message"]
    assert reload(second).status is S.UNUSED and reload(first).status is S.USED
    assert len(keys()) == 1


def test_a_retry_while_the_first_is_in_flight_is_409_and_an_abandoned_claim_is_taken_over(client,
                                                                                          shop):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    db.session.add(IdempotencyKey(account_id=shop.owner.id, key=KEY, method="POST",
                                  path="/api/v1/redemptions", request_hash=body_hash(ticket.code),
                                  status_code=None, body="", created_at=clock.now()))
    db.session.commit()
    busy = redeem(client, shop.headers, ticket.code, **key())
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "request_in_progress"
    assert reload(ticket).status is S.UNUSED

    clock.freeze(clock.now() + idempotency.STALE_AFTER + timedelta(seconds=1))  # the first died
    taken_over = redeem(client, shop.headers, ticket.code, **key())
    assert taken_over.status_code == 201 and "Idempotent-Replayed" not in taken_over.headers
    [row] = keys()
    assert row.status_code == 201 and reload(ticket).status is S.USED


def test_a_claim_taken_over_while_acting_rolls_the_work_back(client, shop, monkeypatch):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    real_redeem = services.redeem

    def redeem_while_the_claim_is_taken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        done = real_redeem(*args, **kwargs)
        db.session.execute(delete(IdempotencyKey))  # as a takeover would
        return done

    monkeypatch.setattr(services, "redeem", redeem_while_the_claim_is_taken)
    response = redeem(client, shop.headers, ticket.code, **key())
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "request_in_progress"
    assert reload(ticket).status is S.UNUSED and actions(ticket, "redeemed") == []


def test_keys_are_per_account(client, shop, token_for):
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    other = clerk(shop.store, "clerkK01", {Function.REDEEM: Level.MODIFY})
    assert redeem(client, shop.headers, first.code, **key()).status_code == 201
    theirs = redeem(client, headers_for(token_for, other), second.code, **key())
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["serial"] == second.serial
    assert {(k.account_id, k.key) for k in keys()} == {(shop.owner.id, KEY), (other.id, KEY)}


def test_a_key_must_be_1_to_100_visible_characters(client, shop):
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    for bad in ("k" * 101, "", "has space", "鍵"):
        response = client.post(f"{API}/redemptions", headers={**shop.headers, "Idempotency-Key": bad},
                               json={"code": first.code})
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert reload(first).status is S.UNUSED and keys() == []
    assert redeem(client, shop.headers, second.code, **key("k" * 100)).status_code == 201


def test_rate_limited_and_crashed_requests_do_not_keep_the_key(client, shop, monkeypatch):
    [ticket] = issue(shop.owner, shop.store, shop.pickup)
    monkeypatch.setattr(api_tickets, "_LOOKUP_RULES", (
        ratelimit.Rule("test-idem-account", "1/10 minutes", "too many"),
        ratelimit.Rule("test-idem-ip", "50/10 minutes", "too many")))
    assert redeem(client, shop.headers, unknown_code(), **key("miss")).status_code == 404
    limited = redeem(client, shop.headers, ticket.code, **key())
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert [k.key for k in keys()] == ["miss"]  # the 429 is not kept: a later retry acts
    monkeypatch.setattr(api_tickets, "_LOOKUP_RULES", (
        ratelimit.Rule("test-idem-account-2", "5/10 minutes", "too many"),
        ratelimit.Rule("test-idem-ip-2", "50/10 minutes", "too many")))

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("database went away")

    real_redeem = services.redeem
    monkeypatch.setattr(services, "redeem", crash)
    with pytest.raises(RuntimeError):
        redeem(client, shop.headers, ticket.code, **key())
    assert [k.key for k in keys()] == ["miss"]  # rolled back and released
    monkeypatch.setattr(services, "redeem", real_redeem)
    retried = redeem(client, shop.headers, ticket.code, **key())
    assert retried.status_code == 201 and reload(ticket).status is S.USED


def test_keys_are_kept_24_hours_then_pruned_and_free_again(client, shop):
    first, second = issue(shop.owner, shop.store, shop.pickup, quantity=2)
    assert redeem(client, shop.headers, first.code, **key()).status_code == 201
    assert redeem(client, shop.headers, first.code, **key("recent")).status_code == 409
    clock.freeze(clock.now() + timedelta(hours=23))
    assert redeem(client, shop.headers, second.code, **key()).status_code == 422  # still kept
    clock.freeze(clock.now() + timedelta(hours=2))
    fresh = redeem(client, shop.headers, second.code, **key())  # 25 h later the key is free
    assert fresh.status_code == 201 and fresh.get_json()["serial"] == second.serial

    recurring = schedule.by_name("prune_idempotency_keys")
    assert (recurring.cron, recurring.func) == ("15 4 * * *", "app.api.jobs:prune_idempotency_keys")
    prune = jobs.resolve(recurring.func)
    assert prune(clock.now().isoformat()) == 1  # "recent" is 25 h old; the fresh KEY stays
    assert [k.key for k in keys()] == [KEY]
    assert prune(clock.now().isoformat()) == 0


def test_the_openapi_document_gives_the_post_routes_the_header(client):
    document = client.get(f"{API}/openapi.json").get_json()
    idempotent = {("/redemptions", "post"), ("/tickets/{serial}/cancel-redemption", "post"),
                  ("/tickets/{serial}/return", "post"), ("/tickets/{serial}/cancel-return", "post")}
    for path, method in idempotent:
        headers = [p for p in document["paths"][path][method]["parameters"] if p["in"] == "header"]
        assert headers == [idempotency.HEADER_PARAMETER], path
        assert headers[0]["schema"]["maxLength"] == 100
    history = document["paths"]["/tickets/{serial}/history"]["get"]
    assert all(p["in"] != "header" for p in history["parameters"])
    assert document["components"]["schemas"]["Ticket"]["properties"]["code"]["type"] == [
        "string", "null"]


# PostgreSQL: concurrent retries ----------------------------------------------------------------

@pytest.mark.postgres
def test_concurrent_retries_with_one_key_redeem_once(pg_app):
    with pg_app.app_context():
        clock.freeze(clock.taipei_datetime(2026, 7, 1, 9, 0))
        store, owner, pickup, _ = ready_store("pgidem01")
        [ticket] = issue(owner, store, pickup)
        _, plain = create_api_token(owner, "pos")
        db.session.commit()
        code, ticket_id = ticket.code, ticket.id
        db.session.remove()

    retries = 12

    def pos(_: int, ready: Ready) -> tuple[int, str | None, bool]:
        client = pg_app.test_client()
        ready()
        response = client.post(f"{API}/redemptions", json={"code": code},
                               headers={**bearer(plain), **key()})
        error = (response.get_json() or {}).get("error", {}).get("code")
        return response.status_code, error, response.headers.get("Idempotent-Replayed") == "true"

    outcomes = run_at_once(pg_app, pos, range(retries))
    assert len(outcomes) == retries
    acted = [o for o in outcomes if o[0] == 201 and not o[2]]
    assert len(acted) == 1
    assert all(o == (201, None, True) or o == (409, "request_in_progress", False)
               for o in outcomes if o not in acted), outcomes
    with pg_app.app_context():
        assert db.session.get(Ticket, ticket_id).status is S.USED
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.subject_id == ticket_id, HistoryEntry.action == "redeemed")) == 1
        db.session.remove()
    with pg_app.app_context():
        client = pg_app.test_client()
        again = client.post(f"{API}/redemptions", json={"code": code},
                            headers={**bearer(plain), **key()})
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"

