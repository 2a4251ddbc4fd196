"""`flask --app app api-token create USERNAME`."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import ApiToken
from app.db import db
from tests.api.conftest import bearer
from tests.factories import make_account, make_operator, make_store


def test_create_prints_a_token_that_authenticates_the_api(app, ctx, client):
    make_account(make_store(), username="owner01")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["api-token", "create", "owner01",
                                                "--name", "POS 串接"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip()
    assert plain.startswith("ectx_") and "\n" not in plain
    token = db.session.scalar(select(ApiToken))
    assert token.name == "POS 串接"
    assert token.token_hash != plain and plain.startswith(token.prefix)
    response = client.get("/api/v1/me", headers=bearer(plain))
    assert response.status_code == 200
    assert response.get_json()["username"] == "owner01"


def test_create_for_an_unknown_username_fails_with_a_message(app, ctx):
    result = app.test_cli_runner().invoke(args=["api-token", "create", "nobody99"])
    assert result.exit_code != 0
    assert "no active account 'nobody99'" in result.output
    assert db.session.scalar(select(ApiToken)) is None


def test_create_for_an_operator_fails(app, ctx):
    make_operator("op0001")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["api-token", "create", "op0001"])
    assert result.exit_code != 0
    assert db.session.scalar(select(ApiToken)) is None
