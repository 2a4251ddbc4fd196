"""Configuration: safe defaults for a developer machine, overridden from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one kept in instance/ so sessions survive restarts.

    The generated key lives outside the code tree and is never committed.
    """
    if key := os.environ.get("SECRET_KEY"):
        return key
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def _remittance_account() -> dict[str, str]:
    """The platform's bank account for bill payments: a placeholder a deployment overrides
    with ECTIX_REMITTANCE_BANK, _BRANCH, _NAME and _NUMBER."""
    defaults = {"bank": "臺灣銀行（004）", "branch": "營業部", "name": "ectix 電子票證平台",
                "number": "004-001-000000"}
    return {key: os.environ.get(f"ECTIX_REMITTANCE_{key.upper()}") or value
            for key, value in defaults.items()}


def pool_options() -> dict:
    """ECTIX_DB_POOL_SIZE=n: n connections kept, and as many more opened while needed. A
    request holds one; without Redis the attempt counters (app.ratelimit), and the request
    cache on a miss, briefly take a second while it does, so a pool of exactly n would leave
    n busy threads waiting on each other (with one thread, every login without Redis waited
    out the pool's timeout)."""
    size = _int("ECTIX_DB_POOL_SIZE", 0)
    return {"pool_size": size, "max_overflow": size} if size > 0 else {}


def log_settings() -> dict:
    """How the processes log (app.observability.logs): read by create_app, and by gunicorn.conf.py
    before any app exists. ECTIX_LOG_FORMAT "json" or "text"; unset: JSON, except text for a
    debug app (`make run`) and in tests. ECTIX_LOG_LEVEL: the root logger's level (INFO: one
    access line per request)."""
    return {
        "LOG_FORMAT": (os.environ.get("ECTIX_LOG_FORMAT") or "").strip().lower() or None,
        "LOG_LEVEL": (os.environ.get("ECTIX_LOG_LEVEL") or "").strip().upper() or "INFO",
    }


def from_environment() -> dict:
    debug = _flag("FLASK_DEBUG", False)
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "SECRET_KEY": _secret_key(),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{INSTANCE / 'ectix.sqlite3'}",
        # A read replica of DATABASE_URL for the reports (app.db.RoutingSession says which
        # reads go there and why the rest stay on the primary); unset: everything reads the primary.
        "REPORTS_DATABASE_URL": os.environ.get("REPORTS_DATABASE_URL") or None,
        "REDIS_URL": redis_url,
        # Connections each process keeps (README, Production: its threads, so none waits for
        # one), and a second per thread while needed; unset: SQLAlchemy's 5 + 10 overflow.
        "SQLALCHEMY_ENGINE_OPTIONS": pool_options(),
        # "rq": a separate `python worker.py`; "thread": RQ on an in-memory Redis inside this
        # process (the default, needs no server); "inline": run right after commit (tests).
        "JOBS_MODE": os.environ.get("ECTIX_JOBS_MODE") or ("rq" if redis_url else "thread"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("ECTIX_SECURE_COOKIES", not debug),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("ECTIX_SECURE_COOKIES", not debug),
        # A login ends after this long without a request (idle) and this long after it began
        # (absolute), whatever it does; checked on the server against the signed session.
        "SESSION_IDLE_MINUTES": _int("ECTIX_SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _int("ECTIX_SESSION_MAX_HOURS", 12),
        "PERMANENT_SESSION_LIFETIME": _int("ECTIX_SESSION_MAX_HOURS", 12) * 3600,
        # The cookie is signed again when the session changes (its idle clock, once a minute),
        # not on every request: a counter scan does not pay for a signature it does not need.
        "SESSION_REFRESH_EACH_REQUEST": False,
        # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted (0: none,
        # the client address is the connection's).
        "TRUSTED_PROXIES": _int("ECTIX_TRUSTED_PROXIES", 0),
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead; the session itself expires
        "BABEL_DEFAULT_LOCALE": "zh_Hant_TW",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Taipei",
        # Login throttling (docs/accounts.md): wrong passwords per window, counted per
        # (username, address), per address (spraying) and per username (from unknown devices).
        "LOGIN_LOCKOUT_FAILURES": 5,
        "LOGIN_IP_FAILURES": 30,
        "LOGIN_USERNAME_FAILURES": 20,
        "LOGIN_LOCKOUT_MINUTES": 15,
        "PAGE_SIZE": 50,
        # Links in e-mails and SMS (jobs have no request to take the host from).
        "PUBLIC_BASE_URL": (os.environ.get("ECTIX_PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        # 匯款帳戶: where merchants remit what they owe (6-1 應繳費用 shows it while unpaid).
        "BILLING_REMITTANCE_ACCOUNT": _remittance_account(),
        # Uploaded images live outside the code tree; served by /media/<token>.
        "UPLOAD_FOLDER": os.environ.get("ECTIX_UPLOAD_FOLDER") or str(INSTANCE / "uploads"),
        # 範例商店 /sample-shop/ (docs/checkout.md): `make run` turns it on; only a debug or test
        # app serves it.
        "DEMO_SHOP": _flag("ECTIX_DEMO_SHOP", False),
        # Payment notices by plain http to a loopback address (the sample shop's ReturnURL on the
        # `make run` server): honoured by the debug server only.
        "CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK": debug and _flag("ECTIX_NOTICE_ALLOW_LOOPBACK", False),
        # The bearer token Prometheus sends to GET /metrics (app.observability.metrics); unset:
        # /metrics answers 404, as if it were not there.
        "METRICS_TOKEN": os.environ.get("ECTIX_METRICS_TOKEN", "").strip() or None,
        **log_settings(),
    }
