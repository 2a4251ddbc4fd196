"""GET /healthz and GET /readyz: liveness touches nothing; readiness answers 200 only when the
database answers, Redis answers (when configured) and the schema is at the migrations' head, and
otherwise names the failed check without leaking the URL or its password."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, text

from app import create_app
from app.db import db
from tests.conftest import base_config

SECRET = "s3cretPassw0rd"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def _no_leak(response) -> None:  # noqa: ANN001
    body = response.get_data(as_text=True)
    assert SECRET not in body
    assert "postgresql" not in body and "redis://" not in body
    assert "Traceback" not in body
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_200_without_a_statement_or_a_cookie(app, client):
    statements: list[str] = []

    def listen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        statements.append(statement)

    # Every engine of the process (the app's pool and the probes' own), not only db.engine.
    event.listen(Engine, "before_cursor_execute", listen)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(Engine, "before_cursor_execute", listen)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert statements == []
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_on_a_migrated_postgresql_database(pg_app):
    pg_app.config["REDIS_URL"] = None
    response = pg_app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready" and "failed" not in body
    assert body["checks"]["database"] == {"status": "ok"}
    heads = ScriptDirectory(pg_app.extensions["migrate"].directory).get_heads()
    assert body["checks"]["migrations"] == {"status": "ok", "revision": ", ".join(sorted(heads))}
    assert body["checks"]["redis"]["status"] == "skipped"
    assert "REDIS_URL" in body["checks"]["redis"]["reason"]
    _no_leak(response)


def test_readyz_checks_redis_when_it_is_configured(pg_app, redis_url):
    pg_app.config["REDIS_URL"] = redis_url
    response = pg_app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"]["redis"] == {"status": "ok"}


def test_readyz_names_the_database_when_it_does_not_answer(caplog):
    url = f"postgresql+psycopg://ectix:{SECRET}@127.0.0.1:{_closed_port()}/ectix"
    app = create_app(base_config(url) | {"REDIS_URL": None})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["database"]
    assert body["checks"]["database"]["status"] == "failed"
    assert body["checks"]["database"]["error"].startswith("the database did not answer (")
    assert body["checks"]["migrations"]["status"] == "skipped"
    _no_leak(response)
    assert SECRET not in caplog.text


def test_readyz_gives_up_on_a_hung_database_within_seconds(silent_server):
    app = create_app(base_config(f"postgresql+psycopg://ectix:{SECRET}@127.0.0.1:{silent_server}/ectix")
                     | {"REDIS_URL": None})
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["database"]
    assert elapsed < 6, elapsed  # the probe's connect timeout (2 s), not the OS's minutes
    _no_leak(response)


def test_readyz_names_redis_when_it_does_not_answer(app, client, caplog):
    app.config["REDIS_URL"] = f"redis://:{SECRET}@127.0.0.1:{_closed_port()}/3"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["migrations"]["status"] == "ok"
    assert body["checks"]["redis"]["error"].startswith("Redis did not answer (")
    _no_leak(response)
    assert SECRET not in caplog.text


def test_readyz_gives_up_on_a_hung_redis_within_seconds(app, client, silent_server):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{silent_server}/3"
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["redis"]
    assert time.monotonic() - started < 6


def test_readyz_is_not_ready_until_the_database_is_at_the_migrations_head(app, client):
    """A throwaway copy of the migrated database stamped one revision back: a release whose
    `flask db upgrade` has not run. Stamped at head again, it is ready."""
    app.config["REDIS_URL"] = None
    script = ScriptDirectory(app.extensions["migrate"].directory)
    [head] = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)

    def stamp(revision: str) -> None:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
            db.session.commit()

    stamp(previous)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["database"] == {"status": "ok"}
    error = body["checks"]["migrations"]["error"]
    assert previous in error and head in error and "flask db upgrade" in error

    stamp(head)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_not_ready_on_a_database_never_migrated(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'empty.sqlite3'}") | {"REDIS_URL": None})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["migrations"]
    assert "no revision" in body["checks"]["migrations"]["error"]


def test_the_probes_need_no_login_and_set_no_cookie(app, client):
    app.config["REDIS_URL"] = None
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        assert "Set-Cookie" not in response.headers
        assert "Location" not in response.headers
