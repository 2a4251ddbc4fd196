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


def _model_checks() -> set[tuple[str, str]]:
    """(table, constraint name) of every CHECK constraint the models declare (enum types too)."""
    from sqlalchemy import CheckConstraint

    return {(table.name, str(c.name)) for table in db.metadata.sorted_tables
            for c in table.constraints if isinstance(c, CheckConstraint)}


def test_sqlite_migrations_create_every_check_constraint(app):
    with app.app_context():
        wanted = _model_checks()
        sql = {name: text_ for name, text_ in db.session.execute(
            text("select name, sql from sqlite_master where type = 'table'"))}
    missing = sorted((t, c) for t, c in wanted if f"CONSTRAINT {c} CHECK" not in (sql.get(t) or ""))
    assert len(wanted) > 20 and missing == []


@pytest.mark.postgres
def test_postgres_migrations_create_every_check_constraint(pg_app):
    with pg_app.app_context():
        wanted = _model_checks()
        present = {(table, name) for table, name in db.session.execute(text(
            "select rel.relname, con.conname from pg_constraint con "
            "join pg_class rel on rel.oid = con.conrelid where con.contype = 'c'"))}
    assert sorted(wanted - present) == []


@pytest.mark.parametrize(("table", "values", "constraint"), [
    ("tickets", {"face_value": 0}, "ck_tickets_face_value_positive"),
    ("tickets", {"return_fee": 151}, "ck_tickets_return_fee_range"),
    ("tickets", {"return_fee": -1}, "ck_tickets_return_fee_range"),
    ("tickets", {"print_count": -1}, "ck_tickets_print_count_not_negative"),
    ("orders", {"amount": -1}, "ck_orders_amount_not_negative"),
    ("orders", {"ticket_count": -1}, "ck_orders_ticket_count_not_negative"),
])
def test_the_database_refuses_impossible_tickets_and_orders(ctx, table, values, constraint):
    from sqlalchemy.exc import IntegrityError

    from app.tickets.models import Order, Ticket
    from tests.issuance.helpers import ready_store
    from tests.tickets.helpers import issue

    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)  # face value 150
    model, row_id = (Ticket, ticket.id) if table == "tickets" else (Order, ticket.order_id)
    with pytest.raises(IntegrityError, match=constraint):
        db.session.execute(model.__table__.update().where(model.__table__.c.id == row_id)
                           .values(**values))
    db.session.rollback()


@pytest.mark.parametrize("table", ["tickets", "orders", "batches"])
def test_the_database_knows_only_the_five_delivery_methods(ctx, table):
    """Item 7: the delivery method is an enum column everywhere, checked by the database too."""
    from sqlalchemy.exc import IntegrityError

    from app.stores.models import DeliveryMethod
    from app.tickets.models import Ticket
    from tests.issuance.helpers import ready_store
    from tests.tickets.helpers import issue

    store, owner, pickup, _ = ready_store()
    [ticket] = issue(owner, store, pickup)
    assert ticket.delivery_method is DeliveryMethod.IMMEDIATE
    row_id = {"tickets": ticket.id, "orders": ticket.order_id, "batches": ticket.batch_id}[table]
    with pytest.raises(IntegrityError, match=f"ck_{table}_delivery_method"):
        db.session.execute(text(f"update {table} set delivery_method = 'fax:machine' where id = :id"),
                           {"id": row_id})
    db.session.rollback()
    assert db.session.get(Ticket, ticket.id).delivery_method is DeliveryMethod.IMMEDIATE
