"""Stores for the cross-store tests: issuer A, partner B, a third store C, and the operator."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask import Flask

from app.auth.permissions import Function, Level
from app.db import db
from tests.conftest import CsrfClient
from tests.factories import login, make_account, make_operator, make_store, make_sub


@pytest.fixture
def world(ctx) -> SimpleNamespace:
    """A (甲發行), B (乙夥伴), C (丙商店); their main accounts, view-only sub-accounts of A and
    B, and an operator."""
    a, b, c = make_store("甲發行"), make_store("乙夥伴"), make_store("丙商店")
    w = SimpleNamespace(
        a=a, b=b, c=c,
        owner_a=make_account(a, username="ownerA01"),
        owner_b=make_account(b, username="ownerB01"),
        owner_c=make_account(c, username="ownerC01"),
        viewer_a=make_sub(a, username="viewA001", grants={Function.OPERATION_SETTINGS: Level.VIEW}),
        viewer_b=make_sub(b, username="viewB001", grants={Function.OPERATION_SETTINGS: Level.VIEW}),
        editor_a=make_sub(a, username="editA001", grants={Function.OPERATION_SETTINGS: Level.MODIFY}),
        operator=make_operator("op000001"),
    )
    db.session.commit()
    return w


@pytest.fixture
def browser(app: Flask) -> Callable[[str], CsrfClient]:
    """A new browser logged in as `username`."""

    def open_as(username: str) -> CsrfClient:
        client = app.test_client()
        login(client, username)
        return client  # type: ignore[return-value]

    return open_as
