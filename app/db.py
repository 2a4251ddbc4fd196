"""Declarative base, constraint naming, the UTC timestamp type and small column helpers."""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any, NamedTuple, TypeVar

import psycopg
from flask import has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import JSON, Date, DateTime, MetaData, TypeDecorator, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, registry
from sqlalchemy.sql.expression import Executable, FunctionElement

T = TypeVar("T")

# Stable constraint names make Alembic migrations reproducible on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite returns DateTime(timezone=True) values naive, so UTC is attached on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use app.clock.now()")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # PostgreSQL, whose sessions run in UTC (engine_options)
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DescribedCursor(psycopg.Cursor):
    """psycopg's cursor, describing a result shape once per connection.

    SQLAlchemy reads `cursor.description` after every statement, and psycopg builds it anew
    each time: a Column object per column, its name decoded and its type looked up. For the
    41 columns of a ticket lookup that was a fifth of the lookup's instructions (measured with
    callgrind: 1.79 M per lookup, 1.48 M with this cursor). The columns are kept per
    connection under the result's own signature (every column's name, type and modifier, read
    from the result), so a statement returning another shape, or the same text after a schema
    change, is described afresh."""

    SHAPES = 512  # distinct result shapes kept per connection before the cache starts over

    @property
    def description(self) -> list[psycopg.Column] | None:
        result = self.pgresult
        if result is None or not result.nfields:
            return super().description
        fields = range(result.nfields)
        shape = (*map(result.fname, fields), *map(result.ftype, fields), *map(result.fmod, fields))
        shapes = _shapes_of(self.connection)
        columns = shapes.get(shape)
        if columns is None:
            if len(shapes) >= self.SHAPES:
                shapes.clear()
            columns = shapes[shape] = super().description or []
        return list(columns)  # the caller's own list; the Column objects are immutable

    # Statement observers (tests and the bench count statements): every statement this cursor
    # class sends, whether SQLAlchemy sent it or code on the session's raw driver cursor.
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # noqa: ANN401
        if _OBSERVERS:
            _observed(query, self)
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:  # noqa: ANN401
        if _OBSERVERS:
            _observed(query, self)
        return super().executemany(query, params_seq, **kwargs)


_OBSERVERS: list[Callable[[str], None]] = []  # see observe_statements


def _observed(query: Any, cursor: psycopg.Cursor) -> None:  # noqa: ANN401
    text = (query if isinstance(query, str) else query.decode() if isinstance(query, bytes)
            else query.as_string(cursor))
    for observer in tuple(_OBSERVERS):
        observer(text)


@contextmanager
def observe_statements(engine: Engine, observer: Callable[[str], None]) -> Iterator[None]:
    """`observer(statement)` for every statement sent while the block runs (by any thread). On
    PostgreSQL at the driver (DescribedCursor, on any connection of this process): what
    SQLAlchemy sends and what code sends on a raw driver cursor alike; elsewhere what
    SQLAlchemy sends to `engine`."""
    if engine.dialect.name == "postgresql":
        _OBSERVERS.append(observer)
        try:
            yield
        finally:
            _OBSERVERS.remove(observer)
        return

    def listen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        observer(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", listen)


_SHAPES: weakref.WeakKeyDictionary[psycopg.Connection, dict[tuple, list[psycopg.Column]]] = (
    weakref.WeakKeyDictionary())


def _shapes_of(connection: psycopg.Connection) -> dict[tuple, list[psycopg.Column]]:
    shapes = _SHAPES.get(connection)
    if shapes is None:
        shapes = _SHAPES[connection] = {}
    return shapes


def engine_options(uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """The engine options; on PostgreSQL also a UTC session time zone and DescribedCursor.
    Every timestamp column is timestamptz, so the zone changes no stored value; but psycopg
    then returns values tagged datetime.UTC straight from its C loader, which UTCDateTime
    passes through instead of converting each one (an export reads 300,000 of them)."""
    if not uri.startswith("postgresql"):
        return options
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("options", "-c TimeZone=UTC")
    connect_args.setdefault("cursor_factory", DescribedCursor)
    return {**options, "connect_args": connect_args}


def replica_engine_options(uri: str, primary: dict[str, Any]) -> dict[str, Any]:
    """The reports replica's engine (REPORTS_DATABASE_URL, a Flask-SQLAlchemy bind): the
    primary's pool settings, the same session settings, and on PostgreSQL read-only
    transactions. A hot standby refuses writes by itself; this makes a replica URL that points
    at a writable server (by mistake, or the tests' stand-in) refuse them too."""
    options = engine_options(uri, {k: v for k, v in primary.items() if k != "connect_args"})
    if uri.startswith("postgresql"):
        connect_args = dict(options["connect_args"])
        connect_args["options"] += " -c default_transaction_read_only=on"
        options["connect_args"] = connect_args
    return {"url": uri, **options}


REPORTS_BIND = "reports"  # the bind key of the replica engine, when REPORTS_DATABASE_URL is set
REPLICA = "replica"  # execution option: a report's read that the replica may answer
_WROTE = "ectix_wrote"  # session.info: the current transaction has written (or locked rows)
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class RoutingSession(FlaskSession):
    """`db.session`: every statement goes to the primary database, except a report's read,
    which goes to the read replica (REPORTS_DATABASE_URL) when one is configured.

    This is the one place the choice is made. A statement opts in with the execution option
    `replica=True`; the report statements carry it where they are built (the ticket report's
    rows and count, the circulation, cross-store and branch reports' figures and lines, the
    home dashboard's figures), so their pages, their 下載Excel and the background export
    (app.reports.jobs) follow. Everything else reads the primary, on purpose:

    - reads that must see the user's own change a moment ago: the counter and the API (a
      redemption's lookup and its compare-and-set), the ticket page (app.reports.ticket_page,
      where the counter card and 新增備註 land), a report row's 歷程 and 可核銷商店名單 (a
      note added in the modal shows at once), the menu's pending counts and the home page's
      待辦 (gone as soon as handled), saved filters, the merchant list pages (已發行訂單, 轉贈紀錄,
      退貨申請 … and the 分期核銷訂單報表, which 訂單退貨 links to: each is where a change lands)
      and their Excel, which must match the page just seen;
    - who may see what: the account, its rights, the acting store and its children, a
      report's branch and store choices (app.reports.scope) — never a lagging copy;
    - anything in a transaction that has written or locked rows (a flush, an INSERT, UPDATE
      or DELETE, SELECT … FOR UPDATE): the rest of that transaction reads its own writes;
    - anything in a request other than GET or HEAD: a page rendered in answer to a change
      shows it.

    So a report may lag the primary by the replication delay (docs/deployment.md), and nothing
    a user just did is missing from the page that answers it. Tenancy is unaffected: it is the
    same session, so `app.tenancy`'s do_orm_execute filter applies before the engine is chosen,
    and a report's explicit store filter travels with its statement. Without
    REPORTS_DATABASE_URL there is no replica engine and every statement goes to the primary,
    as before."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None,
                 **kwargs: Any) -> Any:
        if bind is None and clause is not None:
            if not getattr(clause, "is_select", False) \
                    or getattr(clause, "_for_update_arg", None) is not None:
                self.info[_WROTE] = True
            elif clause._execution_options.get(REPLICA) and self._may_use_replica():
                replica: Engine | None = self._db.engines.get(REPORTS_BIND)
                if replica is not None:
                    return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    def _may_use_replica(self) -> bool:
        if self._flushing or self.info.get(_WROTE):
            return False
        return not has_request_context() or request.method in _SAFE_METHODS


@event.listens_for(RoutingSession, "after_flush")
def _wrote(session: RoutingSession, flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(RoutingSession, "after_transaction_end")
def _transaction_over(session: RoutingSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: the next transaction starts clean
        session.info.pop(_WROTE, None)


class DriverStatement:
    """A statement of the hot path, compiled once per dialect and run on PostgreSQL straight on
    the driver's cursor of the session's connection (its transaction).

    SQLAlchemy's execution of an already compiled statement still computes the statement's
    cache key, builds an execution context and a result object: for the redemption's lookup
    and its compare-and-set that was more instructions than the driver's own side of the round
    trip. Here the parameters pass through the columns' bind processors and the returned
    columns through their result processors, as SQLAlchemy would apply them (an enum member
    as its value and back, a timestamp in UTC). A driver error is raised as SQLAlchemy's
    (DBAPIError). The statements are counted by DescribedCursor like any other; a statement
    that `writes` keeps the rest of its transaction on the primary (RoutingSession). Elsewhere
    (SQLite) the statement runs through SQLAlchemy as usual."""

    def __init__(self, statement: Executable, *, writes: bool) -> None:
        self.statement = statement
        self.writes = writes
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Any) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            binds = compiled.binds.items()
            found = self._compiled[dialect.name] = _Compiled(
                compiled.string,
                {name: bind.value for name, bind in binds
                 if not bind.required and bind.callable is None},
                {name: p for name, bind in binds
                 if (p := bind.type.dialect_impl(dialect).bind_processor(dialect))},
                [column.type.dialect_impl(dialect).result_processor(dialect, None)
                 for column in self.statement.exported_columns])  # type: ignore[attr-defined]
        return found

    def first(self, session: Session, params: dict[str, Any]) -> tuple | None:
        """The statement's first row (None: it returned none), in `session`'s transaction."""
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name != "postgresql":
            row = connection.execute(self.statement, params).first()
            return tuple(row) if row is not None else None
        if self.writes:
            session.info[_WROTE] = True  # the rest of the transaction reads the primary
        compiled = self._compile(dialect)
        processors = compiled.bind_processors
        values = {name: processors[name](value) if name in processors else value
                  for name, value in (compiled.bound | params).items()}
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, values)
            row = cursor.fetchone()
        except psycopg.Error as error:
            raise DBAPIError.instance(compiled.sql, values, error, psycopg.Error,
                                      dialect=dialect) from error
        finally:
            cursor.close()
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for process, value in zip(compiled.result_processors, row, strict=True))


class _Compiled(NamedTuple):
    sql: str
    bound: dict[str, Any]  # the values bound in the statement itself (a literal)
    bind_processors: dict[str, Callable[[Any], Any]]
    result_processors: list[Callable[[Any], Any] | None]


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict: JSON(), list: JSON()},
    )


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})


def enum_type(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """A portable enum column storing the member values, with a CHECK constraint."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


def on_postgresql() -> bool:
    """Whether the session's database is PostgreSQL (else SQLite, the embedded default)."""
    return db.session.get_bind().dialect.name == "postgresql"


def conflict_insert(model: Any) -> Any:
    """INSERT for `model` in the session's dialect, so it takes ON CONFLICT (PostgreSQL and
    SQLite spell it the same way, through different classes)."""
    if on_postgresql():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignoring_conflict(model: Any, **values: Any) -> int | None:
    """INSERT a row unless it would break a unique constraint; its id, or None if it existed.

    One statement, so two processes racing for the same row cannot both win (no savepoint
    needed, which SQLite's driver handles poorly).
    """
    stmt = conflict_insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return db.session.execute(stmt).scalar_one_or_none()


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic: write our UTC timestamp type as a plain timezone-aware DateTime, so migration
    files do not import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def in_chunks(rows: Iterable[T], size: int = 500) -> Iterator[list[T]]:
    """`rows` a list of at most `size` at a time: for IN lists and batched statements that stay
    within a statement's parameter limit."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class taipei_date(FunctionElement):  # noqa: N801 - used like a SQL function
    """The Taipei calendar day of a UTC timestamp column, computed by the database."""

    type = Date()
    inherit_cache = True


@compiles(taipei_date, "postgresql")
def _taipei_date_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    (column,) = element.clauses
    return f"CAST(({compiler.process(column, **kw)} AT TIME ZONE 'Asia/Taipei') AS DATE)"


@compiles(taipei_date)
def _taipei_date_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    # SQLite keeps UTC as text; Taiwan has had no daylight saving time since 1979.
    (column,) = element.clauses
    return f"date({compiler.process(column, **kw)}, '+8 hours')"
