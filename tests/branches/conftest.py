"""Fixtures for the branch tests: a store with its main account logged in, more browsers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from app.db import db
from tests.conftest import CsrfClient
from tests.factories import login, make_account, make_store


@pytest.fixture
def new_client(app: Flask) -> Callable[[], CsrfClient]:
    """Another browser: a client with its own cookies."""
    return app.test_client  # type: ignore[return-value]


@pytest.fixture
def owner(ctx, client):  # noqa: ANN001, ANN201
    """The main account (管理者) of 好吃餅舖, logged in on `client`."""
    store = make_store("好吃餅舖")
    main = make_account(store, username="owner01")
    db.session.commit()
    login(client, "owner01")
    return main
