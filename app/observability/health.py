"""Liveness and readiness probes, for the load balancer or orchestrator in front of the app.

- `GET /healthz`: the process answers (liveness). It reads nothing: no database, no Redis, no
  login, no session cookie; a probe that fails here means the process should be restarted.
- `GET /readyz`: the process can serve (readiness). 200 only when the database answers, Redis
  answers (when REDIS_URL is set; otherwise jobs run inside the app process and the check says
  it is skipped) and the database's Alembic revision is the head of `migrations/` (a release
  whose `flask db upgrade` has not run yet is not ready); else 503. The JSON names every check
  and lists the failed ones; a failure gives the kind of error only, never the exception's text
  (a driver's message may carry the host, the user or a URL with its password).

The checks never use the app's connection pool: each opens its own connection with short
timeouts (PROBE_TIMEOUT), so a hung database or an exhausted pool makes the probe answer 503
within seconds instead of hanging it, and a probe never takes a connection a request waits for.
`/metrics` reads its gauges through the same engine (`probe_engine`).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify
from redis import Redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2  # seconds: connecting, and each statement (libpq's connect_timeout minimum)
ENGINE_KEY = "ectix-probe-engine"

OK, FAILED, SKIPPED = "ok", "failed", "skipped"

bp = Blueprint("observability", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    return jsonify(status=OK)


@bp.get("/readyz")
def readyz():  # noqa: ANN201
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    database, migrations = _database_checks(app)
    checks = {"database": database, "redis": _redis_check(app), "migrations": migrations}
    failed = [name for name, check in checks.items() if check["status"] == FAILED]
    body: dict[str, Any] = {"status": "unavailable" if failed else "ready", "checks": checks}
    if failed:
        body["failed"] = failed
    return jsonify(body), 503 if failed else 200


def probe_engine(app: Flask) -> Engine:
    """The app's database through connections of its own, opened per use (no pool to exhaust
    or to hold a dead connection) with short connect and statement timeouts."""
    engine = app.extensions.get(ENGINE_KEY)
    if engine is None:
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        engine = app.extensions[ENGINE_KEY] = create_engine(
            url, poolclass=NullPool, connect_args=_timeouts(url.get_backend_name()))
    return engine


def _timeouts(backend: str) -> dict[str, Any]:
    if backend == "postgresql":
        ms = PROBE_TIMEOUT * 1000
        return {"connect_timeout": PROBE_TIMEOUT,
                "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"}
    if backend == "sqlite":
        return {"timeout": PROBE_TIMEOUT}
    return {}


@cache
def migration_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migrations folder (read once: it changes with a release)."""
    return frozenset(ScriptDirectory(directory).get_heads())


def _database_checks(app: Flask) -> tuple[dict[str, Any], dict[str, Any]]:
    """(database, migrations): one connection answers both."""
    try:
        with probe_engine(app).connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure is the answer, named by its kind
        log.warning("readiness: the database did not answer (%s)", type(exc).__name__)
        return (_failed(f"the database did not answer ({type(exc).__name__})"),
                {"status": SKIPPED, "reason": "the database did not answer"})
    heads = migration_heads(app.extensions["migrate"].directory)
    if current == heads:
        return {"status": OK}, {"status": OK, "revision": ", ".join(sorted(heads))}
    return {"status": OK}, _failed(
        f"the database is at {', '.join(sorted(current)) or 'no revision'}, the migrations' "
        f"head is {', '.join(sorted(heads))}: run `flask db upgrade`")


def _redis_check(app: Flask) -> dict[str, Any]:
    url = app.config.get("REDIS_URL")
    if not url:
        return {"status": SKIPPED, "reason": "REDIS_URL is not set: jobs run inside the app process"}
    client = Redis.from_url(url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: Redis did not answer (%s)", type(exc).__name__)
        return _failed(f"Redis did not answer ({type(exc).__name__})")
    finally:
        client.close()
    return {"status": OK}


def _failed(error: str) -> dict[str, Any]:
    return {"status": FAILED, "error": error}
