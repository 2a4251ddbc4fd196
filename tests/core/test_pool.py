"""ECTIX_DB_POOL_SIZE: a request holds a connection, and without Redis the attempt counters take
a second one while it does; a pool sized to the threads must still give it (one thread, one
login: it waited out the pool's timeout)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app import create_app, ratelimit
from app.config import pool_options
from app.db import db
from tests.conftest import base_config


def test_a_pool_size_keeps_that_many_and_opens_as_many_more_while_needed(monkeypatch):
    monkeypatch.setenv("ECTIX_DB_POOL_SIZE", "4")
    assert pool_options() == {"pool_size": 4, "max_overflow": 4}
    monkeypatch.delenv("ECTIX_DB_POOL_SIZE")
    assert pool_options() == {}  # SQLAlchemy's own default


@pytest.mark.postgres
def test_a_one_thread_worker_counts_an_attempt_while_its_request_holds_a_connection(
        monkeypatch, pg_database_url):
    monkeypatch.setenv("ECTIX_DB_POOL_SIZE", "1")
    app = create_app(base_config(pg_database_url) | {
        "REDIS_URL": None, "SQLALCHEMY_ENGINE_OPTIONS": pool_options() | {"pool_timeout": 2}})
    limit = ratelimit.Limit("pool-test", 5, 60)
    with app.test_request_context():
        db.session.execute(select(1))  # the request's own connection, held until it ends
        assert ratelimit.take(limit, "someone").count == 1  # its own transaction, a second one
        assert ratelimit.take(limit, "someone").count == 2
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM attempt_counters"))
        db.engine.dispose()
