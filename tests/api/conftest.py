"""API test helpers: bearer tokens and their Authorization header."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.auth.models import Account
from app.auth.services import create_api_token
from app.db import db


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def token_for(ctx) -> Callable[..., tuple[int, str]]:  # noqa: ANN001
    """Create (and commit) a token for an account; returns (token id, plain token)."""

    def make(account: Account, name: str = "test") -> tuple[int, str]:
        token, plain = create_api_token(account, name)
        db.session.commit()
        return token.id, plain

    return make
