"""Fixtures: a fresh migrated database per test, a CSRF-aware client, real services on demand.

- SQLite tests copy a database migrated once per session (`flask db upgrade`, the real
  migrations), so each test starts empty and may commit, use threads and run jobs inline.
- `pg_app` runs the same migrations on a fresh PostgreSQL database; `redis_url` gives a real
  Redis. Without the server they skip, saying why; with ECTIX_REQUIRE_SERVICES=1 they fail.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app import clock, create_app
from app.db import db, observe_statements

# Property tests are judged on their examples, not their speed: the per-example deadline
# (200 ms by default) failed them on a machine busy with the browser and server tests.
settings.register_profile("ectix", deadline=None)
settings.load_profile("ectix")

REQUIRE_SERVICES = os.environ.get("ECTIX_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("ECTIX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ECTIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("ECTIX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def service_missing(reason: str) -> None:
    """Skip a test whose service is not here, or fail it when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (ECTIX_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def base_config(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "JOBS_MODE": "inline",
        "SERVER_NAME": None,
        # Tests move the frozen clock by days with a client logged in; the session lifetimes
        # are tested where they are the point (tests/auth/test_sessions.py sets them).
        "SESSION_IDLE_MINUTES": 10 * 365 * 24 * 60,
        "SESSION_MAX_HOURS": 10 * 365 * 24,
    }


class CsrfClient(FlaskClient):
    """A test client that adds a valid CSRF token to unsafe requests, as a real form would.

    Pass `csrf=False` to send a request without one (to test the refusal).

    Each request runs in a fresh app context, as in production: its own `g` (Flask-Login's
    cached user, the store scope) and its own database session. Without this, Flask reuses the
    test body's app context (the `ctx` fixture) and a second client would act as the first.
    A test reads rows a request changed after `db.session.expire_all()` (or a new query).
    """

    def open(self, *args, csrf: bool = True, **kwargs):  # noqa: ANN002, ANN003, ANN201
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method not in {"GET", "HEAD", "OPTIONS"}:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        with self.application.app_context():
            return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.get("csrf_token")
            if raw is None:
                raw = session["csrf_token"] = uuid.uuid4().hex
        secret = self.application.config["SECRET_KEY"]
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def _upgrade(database_url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def demo_sqlite(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The migrated database with the demo data loaded, and the bank simulator's state the demo
    left: made once, copied for every test that serves the app to a browser."""
    from demodata.stores import load_demo

    folder = tmp_path_factory.mktemp("demo")
    path, bank = folder / "demo.sqlite3", folder / "bank.json"
    shutil.copyfile(migrated_sqlite, path)
    application = create_app(base_config(f"sqlite:///{path}")
                             | {"UPLOAD_FOLDER": str(folder / "uploads"),
                                "ESCROW_SIMULATOR_STATE": str(bank)})
    with application.app_context():
        load_demo()
        db.session.commit()
        db.engine.dispose()
    return path, bank


@pytest.fixture
def app(request: pytest.FixtureRequest, migrated_sqlite: Path, tmp_path: Path) -> Iterator[Flask]:
    """An app on its own copy of the migrated SQLite database; a test that also asks for
    live_server gets the copy with the demo data loaded."""
    path = tmp_path / "test.sqlite3"
    if "live_server" in request.fixturenames:
        demo, bank = request.getfixturevalue("demo_sqlite")
        shutil.copyfile(demo, path)
        if bank.exists():
            shutil.copyfile(bank, tmp_path / "bank.json")
    else:
        shutil.copyfile(migrated_sqlite, path)
    application = create_app(base_config(f"sqlite:///{path}")
                             | {"UPLOAD_FOLDER": str(tmp_path / "uploads"),
                                "ESCROW_SIMULATOR_STATE": str(tmp_path / "bank.json")})
    application.test_client_class = CsrfClient
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for the test body: db.session is usable; commit as a request would."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> CsrfClient:
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def count_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app runs while the test holds the list (clear it first): on
    PostgreSQL counted at the driver, so a statement sent on the raw driver cursor counts too."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    with observe_statements(engine, statements.append):
        yield statements


@pytest.fixture
def record_merges(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """`record_merges()` starts recording the class names of the objects copied into a session
    (Session.merge) from then on; it returns the list it fills."""

    def start() -> list[str]:
        copied: list[str] = []
        merge = Session.merge

        def recording(self, instance, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            copied.append(type(instance).__name__)
            return merge(self, instance, *args, **kwargs)

        monkeypatch.setattr(Session, "merge", recording)
        return copied

    return start


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    from app.auth.passwords import use_fast_hashing_for_tests

    use_fast_hashing_for_tests()


@pytest.fixture(autouse=True)
def _clock_reset() -> Iterator[None]:
    yield
    clock.unfreeze()


# PostgreSQL --------------------------------------------------------------------------------

def _pg_admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database named `<prefix>_<pid>_<hex>`, migrated; dropped at the end."""
    engine = _pg_admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        engine.dispose()
        service_missing(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlsplit(PG_URL)._replace(path=f"/{name}").geturl()
    try:
        _upgrade(url)
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    with fresh_pg_database("ectix_test") as url:
        yield url


@pytest.fixture
def pg_app(pg_database_url: str) -> Iterator[Flask]:
    """An app on a migrated PostgreSQL database, emptied after the test. Its pool holds enough
    connections for the concurrency tests' threads (one connection each)."""
    application = create_app(base_config(pg_database_url) | {
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 60, "max_overflow": 10, "pool_timeout": 10}})
    application.test_client_class = CsrfClient
    yield application
    empty_pg(application)


def empty_pg(application: Flask) -> None:
    """Empty every table of the app's (shared, session-wide) PostgreSQL test database, as the
    next test expects to find it, and close the app's connections."""
    with application.app_context():
        tables = [t.name for t in db.metadata.sorted_tables if t.name != "alembic_version"]
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


# Redis -----------------------------------------------------------------------------------

@pytest.fixture
def redis_url() -> Iterator[str]:
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except Exception as exc:  # noqa: BLE001
        conn.close()
        service_missing(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    conn.flushdb()
    try:
        yield REDIS_URL
    finally:
        conn.flushdb()
        conn.close()


# A live server and a browser ----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """`app` served over HTTP on loopback from a thread, for as long as the block runs: its URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in test output
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on loopback from a thread, with the demo data loaded (the `app`
    fixture gives a test that serves it a copy of `demo_sqlite`)."""
    with served(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser_instance() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser_instance) -> Iterator[object]:  # noqa: ANN001
    context = browser_instance.new_context(locale="zh-TW", timezone_id="Asia/Taipei")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()
