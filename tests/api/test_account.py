"""GET /me, GET /tokens, DELETE /tokens/<id>."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import ApiToken
from app.auth.permissions import Function, Level, functions_for
from app.db import db
from app.history import HistoryEntry
from app.stores.models import RedemptionMode
from tests.api.conftest import bearer
from tests.factories import make_account, make_store, make_sub

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def test_me_describes_a_main_account_and_its_functions(client, ctx, token_for):
    store = make_store("好吃餐廳", mode=RedemptionMode.REDEEM_AFTER_USE)
    account = make_account(store, username="owner01")
    _, plain = token_for(account)
    response = client.get("/api/v1/me", headers=bearer(plain))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["username"] == "owner01"
    assert body["kind"] == "main"
    assert body["store"] == {"merchant_code": store.merchant_code, "name": "好吃餐廳"}
    functions = {f["function"]: f["level"] for f in body["functions"]}
    assert set(functions) == {f.value for f in functions_for("redeem_after_use")}
    assert functions["products"] == "modify"
    assert functions["login_history"] == "view"  # a view-only function
    assert "installment_settings" not in functions  # not in this store's mode
    labels = {f["function"]: f["label"] for f in body["functions"]}
    assert labels["products"] == "商品管理"


def test_me_for_a_sub_account_lists_only_its_grants(client, ctx, token_for):
    store = make_store()
    sub = make_sub(store, username="clerk01",
                   grants={Function.REDEEM: Level.MODIFY, Function.PRODUCTS: Level.VIEW})
    _, plain = token_for(sub)
    body = client.get("/api/v1/me", headers=bearer(plain)).get_json()
    assert body["kind"] == "sub"
    assert body["functions"] == [
        {"function": "products", "label": "商品管理", "level": "view"},
        {"function": "redeem", "label": "票券核銷", "level": "modify"},
    ]


def test_tokens_lists_only_the_accounts_own_tokens_without_hashes(client, ctx, token_for):
    clock.freeze(clock.taipei_datetime(2026, 11, 22, 10, 0))
    store = make_store()
    account = make_account(store)
    colleague = make_sub(store)
    stranger = make_account(make_store())
    first_id, _ = token_for(account, "first")
    clock.move(timedelta(minutes=5))
    second_id, plain = token_for(account, "second")
    token_for(colleague, "colleague's")
    token_for(stranger, "stranger's")
    db.session.get(ApiToken, first_id).revoked_at = clock.now()
    db.session.commit()

    response = client.get("/api/v1/tokens", headers=bearer(plain))
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 2 and body["page"] == 1
    assert [t["id"] for t in body["items"]] == [second_id, first_id]
    second, first = body["items"]
    assert set(second) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert second["name"] == "second" and plain.startswith(second["prefix"])
    assert second["revoked_at"] is None
    assert ISO_UTC.match(second["created_at"]) and ISO_UTC.match(second["last_used_at"])
    assert ISO_UTC.match(first["revoked_at"])
    # 10:00 and 10:05 Taipei, given in UTC with the offset
    assert first["created_at"] == "2026-11-22T02:00:00+00:00"
    assert second["created_at"] == "2026-11-22T02:05:00+00:00"
    text = response.get_data(as_text=True)
    stored = db.session.get(ApiToken, second_id)
    assert stored.token_hash not in text and plain not in text


def test_tokens_are_paginated(client, ctx, token_for):
    account = make_account(make_store())
    ids = [token_for(account, f"t{i}")[0] for i in range(3)]
    _, plain = token_for(account, "caller")
    body = client.get("/api/v1/tokens?per_page=2&page=2", headers=bearer(plain)).get_json()
    assert (body["total"], body["page"], body["per_page"]) == (4, 2, 2)
    assert [t["id"] for t in body["items"]] == [ids[1], ids[0]]
    bad = client.get("/api/v1/tokens?per_page=1000", headers=bearer(plain))
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"]["per_page"]
    assert client.get("/api/v1/tokens?page=zero", headers=bearer(plain)).status_code == 422


def test_revoking_own_token_records_history_and_ends_it(client, ctx, token_for):
    account = make_account(make_store())
    old_id, old_plain = token_for(account, "old")
    _, plain = token_for(account, "current")
    response = client.delete(f"/api/v1/tokens/{old_id}", headers=bearer(plain))
    assert response.status_code == 200
    assert response.get_json()["id"] == old_id
    assert ISO_UTC.match(response.get_json()["revoked_at"])
    db.session.expire_all()
    assert db.session.get(ApiToken, old_id).revoked_at is not None
    entry = db.session.scalar(select(HistoryEntry).where(HistoryEntry.action == "revoked"))
    assert (entry.subject_id, entry.actor_id) == (old_id, account.id)
    assert client.get("/api/v1/me", headers=bearer(old_plain)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    # revoking again is harmless
    assert client.delete(f"/api/v1/tokens/{old_id}", headers=bearer(plain)).status_code == 200


def test_revoking_another_stores_token_is_404(client, ctx, token_for):
    account = make_account(make_store())
    _, plain = token_for(account)
    foreign_id, _ = token_for(make_account(make_store()))
    response = client.delete(f"/api/v1/tokens/{foreign_id}", headers=bearer(plain))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.delete("/api/v1/tokens/999999", headers=bearer(plain)).status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, foreign_id).revoked_at is None


def test_a_sub_account_cannot_revoke_a_colleagues_token_but_the_main_account_can(
        client, ctx, token_for):
    store = make_store()
    main = make_account(store)
    clerk = make_sub(store)
    other = make_sub(store)
    other_id, _ = token_for(other)
    _, clerk_plain = token_for(clerk)
    _, main_plain = token_for(main)
    refused = client.delete(f"/api/v1/tokens/{other_id}", headers=bearer(clerk_plain))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == "僅可撤銷自己的 API 金鑰"
    db.session.expire_all()
    assert db.session.get(ApiToken, other_id).revoked_at is None
    assert client.delete(f"/api/v1/tokens/{other_id}",
                         headers=bearer(main_plain)).status_code == 200
