"""Helpers for API views: timestamps and store-scoped pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app import clock
from app.api.payloads import iso, paginate
from app.auth.models import ApiToken
from app.auth.services import create_api_token
from app.db import db
from app.errors import InvalidInput
from app.tenancy import StoreScope, set_scope
from tests.factories import make_account, make_store


def test_iso_gives_utc_with_its_offset():
    assert iso(clock.taipei_datetime(2026, 11, 22, 8, 30)) == "2026-11-22T00:30:00+00:00"
    assert iso(clock.taipei(clock.taipei_datetime(2026, 1, 1))) == "2025-12-31T16:00:00+00:00"
    assert iso(date(2026, 11, 22)) == "2026-11-22"
    assert iso(None) is None
    with pytest.raises(ValueError):
        iso(datetime(2026, 1, 1))  # noqa: DTZ001 (naive on purpose)
    assert iso(datetime(2026, 1, 1, tzinfo=UTC)).endswith("+00:00")


def test_paginate_counts_and_lists_only_the_acting_stores_rows(app, ctx):
    mine, theirs = make_store(), make_store()
    for store in (mine, mine, mine, theirs, theirs):
        create_api_token(make_account(store))
    db.session.commit()
    stmt = select(ApiToken).order_by(ApiToken.id)
    with app.test_request_context("/api/v1/x?per_page=2&page=2"):
        set_scope(StoreScope(mine.id))
        page = paginate(stmt, lambda t: t.store_id)
    assert page == {"items": [mine.id], "page": 2, "per_page": 2, "total": 3}
    with app.test_request_context("/api/v1/x?page=0"):
        with pytest.raises(InvalidInput):
            paginate(stmt, lambda t: t.id)
