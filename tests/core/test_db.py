"""app.db: timestamps stored in UTC and read back aware, on SQLite and on PostgreSQL, whose
sessions run in UTC so that psycopg hands back datetime.UTC values (engine_options)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import Integer, String, bindparam, cast, literal, select, text
from sqlalchemy.exc import DataError

from app.db import (
    DescribedCursor,
    DriverStatement,
    UTCDateTime,
    db,
    engine_options,
    enum_type,
    observe_statements,
)
from app.history import HistoryEntry
from app.tickets.status import TicketStatus

TAIPEI = timezone(timedelta(hours=8))


def test_engine_options_add_a_utc_session_on_postgresql_only():
    pool = {"pool_size": 5, "connect_args": {"connect_timeout": 3}}
    options = engine_options("postgresql+psycopg://u@h/db", pool)
    assert options == {"pool_size": 5, "connect_args": {"connect_timeout": 3,
                                                        "options": "-c TimeZone=UTC",
                                                        "cursor_factory": DescribedCursor}}
    assert pool == {"pool_size": 5, "connect_args": {"connect_timeout": 3}}  # not changed in place
    assert engine_options("postgresql://u@h/db", {"connect_args": {"options": "-c x=1"}}) == {
        "connect_args": {"options": "-c x=1", "cursor_factory": DescribedCursor}}  # a caller's own options win
    assert engine_options("sqlite:///x.db", {"pool_size": 1}) == {"pool_size": 1}


def test_naive_datetimes_are_refused_on_the_way_in():
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2026, 11, 22, 8, 0), None)


def _round_trip() -> datetime:
    at = datetime(2026, 11, 22, 16, 30, tzinfo=TAIPEI)  # 08:30 UTC
    entry = HistoryEntry(store_id=None, actor_label="test", subject_type="tests", subject_id=1,
                         action="note", at=at)
    db.session.add(entry)
    db.session.commit()
    db.session.expire_all()
    return db.session.scalar(select(HistoryEntry.at).where(HistoryEntry.id == entry.id))


def test_sqlite_reads_back_aware_utc(ctx):
    read = _round_trip()
    assert read == datetime(2026, 11, 22, 8, 30, tzinfo=UTC) and read.tzinfo is UTC


@pytest.mark.postgres
def test_postgresql_sessions_run_in_utc_and_read_back_aware_utc(pg_app):
    with pg_app.app_context():
        assert db.session.scalar(text("SHOW TimeZone")) == "UTC"
        read = _round_trip()
        assert read == datetime(2026, 11, 22, 8, 30, tzinfo=UTC) and read.tzinfo is UTC
        db.session.remove()


def _plain(columns) -> list[tuple]:  # noqa: ANN001
    return [(c.name, c.type_code, c.display_size, c.internal_size, c.precision, c.scale)
            for c in columns]


@pytest.mark.postgres
def test_a_result_shape_is_described_once_per_connection_and_exactly_as_psycopg_does(pg_app):
    with pg_app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        cursor = connection.cursor()
        assert isinstance(cursor, DescribedCursor)  # the app's engine makes these
        statement = ("SELECT 1 AS n, 'x'::varchar(7) AS label, now() AS at, "
                     "12.5::numeric(6, 2) AS amount")
        cursor.execute(statement)
        first = cursor.description
        reference = psycopg_description(connection, statement)
        assert _plain(first) == _plain(reference)
        cursor.execute(statement.replace("1 AS n", "2 AS n"))  # same shape, other values
        again = cursor.description
        assert again is not first and all(a is b for a, b in zip(again, first, strict=True))
        cursor.execute("SELECT 1 AS n, 'x'::varchar(9) AS label")  # another shape
        other = cursor.description
        assert _plain(other) == _plain(psycopg_description(connection,
                                                          "SELECT 1 AS n, 'x'::varchar(9) AS label"))
        assert other[0] is not first[0]
        cursor.execute("SELECT")  # tuples without columns, and a command without tuples
        assert cursor.description == []
        cursor.execute("SET LOCAL statement_timeout = 0")
        assert cursor.description is None
        db.session.rollback()
        db.session.remove()


def psycopg_description(connection, statement: str) -> list:  # noqa: ANN001
    """What psycopg's own cursor says of `statement`."""
    with psycopg.Cursor(connection) as plain:
        plain.execute(statement)
        return plain.description


@pytest.mark.postgres
def test_statements_are_observed_at_the_driver_on_postgresql_raw_cursors_included(pg_app):
    """observe_statements sees a statement sent on the session's raw driver cursor (which
    SQLAlchemy's events never see) as well as SQLAlchemy's own, each once."""
    seen: list[str] = []
    with pg_app.app_context():
        db.session.execute(text("SELECT 0"))  # connected (the dialect's first queries) before
        with observe_statements(db.engine, seen.append):
            assert db.session.execute(text("SELECT 1")).scalar_one() == 1
            driver = db.session.connection().connection.driver_connection
            with driver.cursor() as cursor:
                cursor.execute("SELECT 2")
                assert cursor.fetchone() == (2,)
        db.session.execute(text("SELECT 3"))  # after the block: not observed
        db.session.rollback()
    assert seen == ["SELECT 1", "SELECT 2"]


def test_statements_are_observed_through_sqlalchemy_elsewhere(ctx):
    seen: list[str] = []
    with observe_statements(db.engine, seen.append):
        db.session.execute(text("SELECT 1"))
    db.session.execute(text("SELECT 3"))
    assert seen == ["SELECT 1"]


# DriverStatement: the hot path's statements on the driver's cursor -------------------------

_SENT = DriverStatement(select(bindparam("status", type_=enum_type(TicketStatus, "status")),
                               bindparam("at", type_=UTCDateTime()),
                               bindparam("n", type_=Integer) + literal(1)), writes=True)


@pytest.mark.postgres
def test_a_driver_statement_sends_what_sqlalchemy_would_and_is_counted_once(pg_app):
    """The columns' bind and result processors apply (an enum member as its value and back, a
    timestamp in UTC), the statement is observed at the driver, and after a write the rest of
    the transaction reads the primary."""
    taipei = timezone(timedelta(hours=8))
    seen: list[str] = []
    with pg_app.app_context():
        db.session.execute(select(literal(0)))  # connected before (the dialect's first queries)
        assert db.session()._may_use_replica()  # a read so far
        with observe_statements(db.engine, seen.append):
            row = _SENT.first(db.session, {"status": TicketStatus.USED,
                                           "at": datetime(2026, 12, 8, 9, 30, tzinfo=taipei),
                                           "n": 41})
        assert row == (TicketStatus.USED, datetime(2026, 12, 8, 1, 30, tzinfo=UTC), 42)
        assert not db.session()._may_use_replica()
        db.session.rollback()
    assert len(seen) == 1 and seen[0].startswith("SELECT")


@pytest.mark.postgres
def test_a_driver_error_is_raised_as_sqlalchemys(pg_app):
    with pg_app.app_context():
        with pytest.raises(DataError):  # not an integer: a DBAPIError like any statement's
            DriverStatement(select(cast(bindparam("n", type_=String), Integer)),
                            writes=False).first(db.session, {"n": "x"})
        db.session.rollback()
        assert db.session.execute(text("SELECT 1")).scalar_one() == 1  # the session goes on


def test_a_driver_statement_runs_through_sqlalchemy_elsewhere(ctx):
    seen: list[str] = []
    with observe_statements(db.engine, seen.append):
        row = _SENT.first(db.session, {"status": TicketStatus.USED,
                                       "at": datetime(2026, 12, 8, 1, 30, tzinfo=UTC), "n": 1})
    assert row == (TicketStatus.USED, datetime(2026, 12, 8, 1, 30, tzinfo=UTC), 2)
    assert len(seen) == 1


@pytest.mark.postgres
def test_a_driver_read_leaves_the_transaction_free_to_read_the_replica(pg_app):
    with pg_app.app_context():
        read = DriverStatement(select(bindparam("n", type_=Integer)), writes=False)
        assert read.first(db.session, {"n": 7}) == (7,)
        assert db.session()._may_use_replica()
        db.session.rollback()
