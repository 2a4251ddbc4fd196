"""API 金鑰: created and shown once, stored only as a hash, revoked."""

import hashlib
import re

import pytest
from sqlalchemy import select

from app.auth.models import ApiToken
from app.db import db
from app.history import HistoryEntry
from tests.accounts.helpers import SUB_PASSWORD, account_named
from tests.factories import login, make_account, make_store, make_sub

PLAIN = re.compile(r'data-testid="plain-token">([^<]+)</code>')


@pytest.fixture
def owner(ctx, client):
    store = make_store()
    main = make_account(store, username="owner01")
    make_sub(store, username="staff01", password=SUB_PASSWORD)
    db.session.commit()
    login(client, "owner01")
    return main


def _create(client, name="POS 系統"):  # noqa: ANN001, ANN202
    response = client.post("/accounts/api-tokens", data={"name": name})
    assert response.status_code == 200
    match = PLAIN.search(response.get_data(as_text=True))
    assert match, "the plain token is shown on the result page"
    return response, match.group(1)


def _all_stored_text() -> str:
    """Every value of every row of every table, as text."""
    db.session.expire_all()
    out = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            out.extend(str(value) for value in row)
    return "\n".join(out)


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(owner, client):
    response, plain = _create(client)
    html = response.get_data(as_text=True)
    assert "只會顯示這一次" in html and "請立即複製" in html
    assert response.headers["Cache-Control"] == "no-store"
    token = db.session.scalar(select(ApiToken))
    assert token.name == "POS 系統" and token.account_id == owner.id
    assert token.token_hash != plain
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain.startswith(token.prefix) and len(token.prefix) < len(plain) // 2
    assert plain not in _all_stored_text()

    listing = client.get("/accounts/api-tokens").get_data(as_text=True)
    assert plain not in listing  # never again
    assert f"{token.prefix}…" in listing and "POS 系統" in listing and "尚未使用" in listing


def test_the_token_works_on_the_api_until_revoked(owner, client, new_client):
    _, plain = _create(client)
    token = db.session.scalar(select(ApiToken))
    api = new_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.status_code == 200 and me.get_json()["username"] == "owner01"
    listing = client.get("/accounts/api-tokens").get_data(as_text=True)
    assert "尚未使用" not in listing  # last used is shown
    assert 'data-confirm="確定要撤銷 API 金鑰「POS 系統」' in listing

    response = client.post(f"/accounts/api-tokens/{token.id}/revoke")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    listing = client.get("/accounts/api-tokens").get_data(as_text=True)
    assert "已撤銷" in listing and "已撤銷 API 金鑰「POS 系統」" in listing
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    actions = set(db.session.scalars(select(HistoryEntry.action)
                                     .where(HistoryEntry.subject_type == "api_tokens")))
    assert actions == {"created", "revoked"}


def test_a_name_is_required(owner, client):
    response = client.post("/accounts/api-tokens", data={"name": "  "})
    assert response.status_code == 422
    assert "請輸入金鑰名稱" in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken)) is None


def test_sub_sees_its_own_tokens_and_main_sees_every_token_of_its_store(owner, client,
                                                                       new_client):
    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)
    _create(staff, "收銀機")
    _create(client, "ERP")
    staff_page = staff.get("/accounts/api-tokens").get_data(as_text=True)
    assert "收銀機" in staff_page and "ERP" not in staff_page
    assert "本商店所有金鑰" not in staff_page
    main_page = client.get("/accounts/api-tokens").get_data(as_text=True)
    store_part = main_page.split("本商店所有金鑰")[1]
    assert "收銀機" in store_part and "staff01" in store_part and "ERP" in store_part

    # the main account may revoke the sub's token; the sub may not revoke the main's
    main_token = db.session.scalar(select(ApiToken).where(ApiToken.name == "ERP"))
    staff_token = db.session.scalar(select(ApiToken).where(ApiToken.name == "收銀機"))
    assert staff.post(f"/accounts/api-tokens/{main_token.id}/revoke").status_code == 403
    assert client.post(f"/accounts/api-tokens/{staff_token.id}/revoke").status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiToken, main_token.id).revoked_at is None
    assert db.session.get(ApiToken, staff_token.id).revoked_at is not None


def test_deleting_a_sub_account_revokes_its_tokens(owner, client, new_client):
    staff = new_client()
    login(staff, "staff01", SUB_PASSWORD)
    _create(staff, "收銀機")
    sub = account_named("staff01")
    assert client.post(f"/accounts/sub-accounts/{sub.id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).revoked_at is not None


def test_revoke_needs_the_csrf_token(owner, client):
    _create(client)
    token = db.session.scalar(select(ApiToken))
    assert client.post(f"/accounts/api-tokens/{token.id}/revoke", csrf=False).status_code == 400
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None
