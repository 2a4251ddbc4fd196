"""app.db: timestamps stored in UTC and read back aware, on SQLite and on PostgreSQL, whose
sessions run in UTC so that psycopg hands back datetime.UTC values (engine_options)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from app.db import UTCDateTime, db, engine_options
from app.history import HistoryEntry

TAIPEI = timezone(timedelta(hours=8))


def test_engine_options_add_a_utc_session_on_postgresql_only():
    pool = {"pool_size": 5, "connect_args": {"connect_timeout": 3}}
    options = engine_options("postgresql+psycopg://u@h/db", pool)
    assert options == {"pool_size": 5, "connect_args": {"connect_timeout": 3,
                                                        "options": "-c TimeZone=UTC"}}
    assert pool == {"pool_size": 5, "connect_args": {"connect_timeout": 3}}  # not changed in place
    assert engine_options("postgresql://u@h/db", {"connect_args": {"options": "-c x=1"}}) == {
        "connect_args": {"options": "-c x=1"}}  # a caller's own options win
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
