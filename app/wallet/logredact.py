"""Keep e-ticket link tokens (and convenience-store kiosk tokens) out of the logs.

The token in `/t/<token>` is the consumer's credential (with the mobile's last four digits), so
request logs must not keep it. `install()` puts a filter on the loggers that write request
lines or request paths: werkzeug's request log (the development server), gunicorn's access log
and the app's own logger (Flask logs `Exception on /t/... [GET]`). The filter formats the
record once and replaces what follows `/t/` or `/cvs/` up to the next `/`, `?`, space or quote
with `***`; when such a line carries a traceback (Flask's `Exception on /t/<token>`), every
occurrence of the token in it is masked as well (an SQL error names its parameters).
"""

from __future__ import annotations

import logging
import re

from flask import Flask

_SECRET_PATH = re.compile(r"(/(?:t|cvs)/)[^/\s?\"'#]+")
MASK = "***"
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def redact(text: str) -> str:
    return _SECRET_PATH.sub(lambda m: m.group(1) + MASK, text)


def tokens_in(text: str) -> set[str]:
    return {m.group(0)[len(m.group(1)):] for m in _SECRET_PATH.finditer(text)}


class RedactLinkTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        tokens = tokens_in(message)
        if not tokens:
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # "Exception on /t/<token>": the traceback may name the token too (SQL parameters)
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for token in sorted(tokens, key=len, reverse=True):
            if record.exc_text:
                record.exc_text = record.exc_text.replace(token, MASK)
            if record.stack_info:
                record.stack_info = record.stack_info.replace(token, MASK)
        return True


def install(app: Flask) -> None:
    """Add the filter (once) to the request-logging loggers and the app's logger."""
    for logger in (*(logging.getLogger(name) for name in LOGGERS), app.logger):
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())
