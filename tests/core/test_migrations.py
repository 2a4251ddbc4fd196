"""The schema exists only through migrations, and the migrations match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from app import clock
from app.db import db, insert_ignoring_conflict
from app.jobs import ScheduledRun
from tests.concurrency import Ready, run_at_once


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def _head(app) -> str:
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head()


def test_sqlite_migrations_match_the_models(app):
    assert _differences(app) == []
    with app.app_context():
        version = db.session.scalar(text("select version_num from alembic_version"))
    assert version == _head(app)


@pytest.mark.postgres
def test_postgres_migrations_match_the_models(pg_app):
    assert _differences(pg_app) == []
    with pg_app.app_context():
        version = db.session.scalar(text("select version_num from alembic_version"))
    assert version == _head(pg_app)


@pytest.mark.postgres
def test_postgres_claims_a_slot_once_under_a_race(pg_app):
    slot = clock.taipei_datetime(2026, 7, 3, 1)

    def claim(_: int, ready: Ready) -> int | None:
        ready()
        return insert_ignoring_conflict(ScheduledRun, name="race", slot=slot, status="queued",
                                        trigger="schedule", created_at=clock.now())

    results = run_at_once(pg_app, claim, range(8), timeout=10)
    assert len(results) == 8
    assert len([r for r in results if r is not None]) == 1
    with pg_app.app_context():
        assert len(db.session.scalars(select(ScheduledRun)).all()) == 1


@pytest.mark.postgres
def test_login_works_on_postgres(pg_app):
    from tests.factories import PASSWORD, login, make_account, make_store

    with pg_app.app_context():
        make_account(make_store(), username="pgowner1")
        db.session.commit()
    client = pg_app.test_client()
    login(client, "pgowner1", PASSWORD)
    assert client.get("/home").status_code == 200
