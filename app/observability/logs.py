"""Structured logs: one JSON object per line, each carrying who and what it was written for.

Every record made while a request is served carries its request id (the caller's `X-Request-Id`
when well formed, else a new one; echoed in the response's `X-Request-Id`, and `g.request_id`
for the code), and the account and store the request acts as once they are known; a record made
inside a job carries the job's id (RQ's, or the job's path when it runs inline) and path. Once a
request is done, one access line (logger `ectix.access`) gives its method, its route as the URL
rule (`/t/<token>`, never the path itself), its status and its duration.

The context is put on the record when it is made (a log record factory), so every handler sees
it, and read only from what the request already holds: flask-login's user once loaded
(`g._login_user`), `g.store`, and their identity keys, which never run a query.

Nothing secret or personal reaches a line: the access line names the rule, not the path or its
query string, and no header, cookie or body is ever logged; the formatters pass the message
and the traceback through `app.wallet.logredact` (link tokens, e-mail addresses, mobiles, card
numbers, credentials), and a JSON line has a fixed set of fields, so an `extra=` of some library
cannot add one.

ECTIX_LOG_FORMAT ("json" or "text") picks the format; unset, a debug app (`make run`) and the
tests write text and any other process JSON. In tests the root logger is pytest's unless the
variable is set. gunicorn's own error log goes through the same handler (gunicorn.conf.py,
`gunicorn_logconfig`), and its access log is off: the access line above replaces it.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_app_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter
from sqlalchemy import inspect

from app.jobs import running_job
from app.wallet.logredact import redact, redact_detail, tokens_in

HEADER = "X-Request-Id"
# A caller's id is kept only if it is short and of a safe alphabet: no newline, quote or space
# can ride into a line through it.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_.-]{1,64}")
FORMATS = ("json", "text")
# What a record may carry besides time, level, logger and message, in this order.
CONTEXT = ("request_id", "job_id", "job", "account_id", "store_id")
ACCESS = ("method", "route", "status", "duration_ms")
FIELDS = CONTEXT + ACCESS
# Loggers whose INFO lines tell the people running the service nothing (alembic lists the plugins
# it sets up whenever Flask-Migrate is initialised: in every process, at every start).
QUIET = ("alembic.runtime.plugins",)

access_log = logging.getLogger("ectix.access")
_request_id: ContextVar[str | None] = ContextVar("ectix_request_id", default=None)


def request_id_from(header: str | None) -> str:
    """The caller's request id if well formed, else a new one."""
    if header and _WELL_FORMED.fullmatch(header):
        return header
    return uuid.uuid4().hex


# The context of a record -----------------------------------------------------------------


def _identity(obj: Any) -> int | None:
    """The primary key of a loaded ORM object without touching the database (an expired or
    detached object keeps its identity key); None for the anonymous user or anything else."""
    state = inspect(obj, raiseerr=False) if obj is not None else None
    identity = state.identity if state is not None else None
    return identity[0] if identity else None


def _annotate(record: logging.LogRecord) -> None:
    if (rid := _request_id.get()) is not None:
        record.request_id = rid
    if (job := running_job()) is not None:
        record.job_id, record.job = job
    if has_app_context():
        if (account_id := _identity(g.get("_login_user"))) is not None:
            record.account_id = account_id
        if (store_id := _identity(g.get("store"))) is not None:
            record.store_id = store_id


def install_record_context() -> None:
    """Make every log record carry the context of its request or job (once per process)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "ectix_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _annotate(record)
        return record

    factory.ectix_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# Formatters ------------------------------------------------------------------------------


def _cleaned(record: logging.LogRecord, formatter: logging.Formatter) -> tuple[str, str | None]:
    """The record's message and its traceback (with its stack), redacted."""
    message = record.getMessage()
    details = []
    if record.exc_info:
        details.append(record.exc_text or formatter.formatException(record.exc_info))
    elif record.exc_text:
        details.append(record.exc_text)
    if record.stack_info:
        details.append(formatter.formatStack(record.stack_info))
    tokens = tokens_in(message)
    detail = "\n".join(redact_detail(d, tokens) for d in details) if details else None
    return redact(message), detail


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context and
    access fields the record has, and `exception` (the traceback, as one string)."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        message, detail = _cleaned(record, self)
        log_data["time"] = (datetime.fromtimestamp(record.created, UTC)
                            .isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = message
        for name in FIELDS:
            if (value := record.__dict__.get(name)) is not None:
                log_data[name] = value
        if detail:
            log_data["exception"] = detail


class TextFormatter(logging.Formatter):
    """For a person at a terminal: `time level logger [context] message`, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message, detail = _cleaned(record, self)
        context = " ".join(f"{name}={value}" for name in CONTEXT
                           if (value := record.__dict__.get(name)) is not None)
        line = (f"{self.formatTime(record)} {record.levelname} {record.name}"
                f"{f' [{context}]' if context else ''} {message}")
        return f"{line}\n{detail}" if detail else line


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"ECTIX_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return JsonFormatter() if fmt == "json" else TextFormatter()


class StderrHandler(logging.StreamHandler):
    """Writes to the process's stderr of the moment (as logging's last resort does), so a
    stream swapped after start (pytest's capture, gunicorn's error log file) is followed."""

    def __init__(self, fmt: str = "json") -> None:
        logging.Handler.__init__(self)
        self.setFormatter(formatter(fmt))

    @property
    def stream(self):  # noqa: ANN201 - whatever sys.stderr is now
        return sys.stderr


def chosen_format(config: dict, *, debug: bool = False, testing: bool = False) -> str:
    """ECTIX_LOG_FORMAT, else text for a debug app and the tests and JSON for the rest."""
    return config.get("LOG_FORMAT") or ("text" if debug or testing else "json")


def configure(fmt: str, level: str | int = "INFO") -> logging.Handler:
    """The root logger writes through one StderrHandler in `fmt` at `level` (called again, it
    changes that handler: never a second one)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler(fmt)
        root.addHandler(handler)
    else:
        handler.setFormatter(formatter(fmt))
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def gunicorn_logconfig(settings: dict) -> dict:
    """gunicorn's `logconfig_dict`: the root logger writes through the app's handler (made here
    in the arbiter, kept by the workers it forks), gunicorn's error log goes to it, and its
    access log nowhere (`ectix.access` replaces it). No level for gunicorn.error, so its
    `--log-level` still holds."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": settings["LOG_LEVEL"], "handlers": ["ectix"]},
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
        "handlers": {"ectix": {"()": StderrHandler, "fmt": chosen_format(settings)}},
        "formatters": {},
    }


# Requests --------------------------------------------------------------------------------


# Each hook looks `g` and `request` up once (a LocalProxy lookup per read otherwise): they run
# on every request, the redemption's included.

def _begin() -> None:
    values = g._get_current_object()  # type: ignore[attr-defined]
    rid = request_id_from(request.headers.get(HEADER))
    values.request_id = rid
    values.request_log = (_request_id.set(rid), time.perf_counter())


def _echo(response: Response) -> Response:
    values = g._get_current_object()  # type: ignore[attr-defined]
    if rid := values.get("request_id"):
        response.headers[HEADER] = rid
    values.response_status = response.status_code
    return response


def _access_line(exc: BaseException | None) -> None:
    values = g._get_current_object()  # type: ignore[attr-defined]
    begun = values.pop("request_log", None)
    if begun is None:
        return  # the request ended before it began (its context pushed and popped by a test)
    token, started = begun
    try:
        req = request._get_current_object()  # type: ignore[attr-defined]
        status = values.pop("response_status", None) or 500  # none: an exception went up
        rule = req.url_rule.rule if req.url_rule is not None else None
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        access_log.info("%s %s %s %.1f ms", req.method, rule or "-", status, duration_ms,
                        extra={"method": req.method, "route": rule, "status": status,
                               "duration_ms": duration_ms})
    finally:
        try:
            _request_id.reset(token)
        except ValueError:  # torn down in another context than it began (a streamed response)
            _request_id.set(None)


def init_app(app: Flask) -> None:
    """Request ids, the context on every record, the access line, and (outside tests, or when
    ECTIX_LOG_FORMAT says so) the root handler in the chosen format."""
    install_record_context()
    if app.config.get("LOG_FORMAT") or not app.testing:
        configure(chosen_format(app.config, debug=app.debug, testing=app.testing),
                  app.config.get("LOG_LEVEL") or "INFO")
        app.logger.removeHandler(default_handler)  # the root handler writes its lines
    # First of the before-request functions, so whatever they log carries the id; last of the
    # after-request ones, so the status is the one sent.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request_funcs.setdefault(None, []).insert(0, _echo)
    app.teardown_request(_access_line)
