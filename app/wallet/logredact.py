"""Keep credentials and personal data out of the logs: e-ticket link tokens (and convenience-store
kiosk tokens) first, and whatever else a message or a traceback may carry.

The token in `/t/<token>` is the consumer's credential (with the mobile's last four digits), so
request logs must not keep it. `redact(text)` replaces what follows `/t/` or `/cvs/` up to the
next `/`, `?`, space or quote with `***`, and masks as well e-mail addresses, Taiwanese mobile
numbers, card numbers (15 to 19 digits), bearer and basic credentials and the value after a
secret's name (`password=…`, `HashKey: …`, `csrf_token=…`, `api_key=…`): these reach a message
through an error text (an SMTP refusal names its recipient, an SQL error its parameters), never
on purpose, and a log line is read by more people than the database.

Two places apply it. `install()` puts the `RedactSecrets` filter on the loggers that write
request lines or request paths: werkzeug's request log (the development server), gunicorn's
access and error logs and the app's own logger (Flask logs `Exception on /t/... [GET]`). The
formatters of app.observability.logs apply it to every line they write, whatever its logger.
When a line names a link token, every occurrence of the token in its traceback is masked as
well (an SQL error names its parameters, without the `/t/`).
"""

from __future__ import annotations

import logging
import re

from flask import Flask

_SECRET_PATH = re.compile(r"(/(?:t|cvs)/)[^/\s?\"'#]+")
MASK = "***"
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# 09xx-xxx-xxx, +886 9xx xxx xxx, 886-9…, 00886…: as app.phones reads a mobile number.
_MOBILE = re.compile(r"(?<![\w+])(?:(?:\+|00)?886[\s-]?0?|0)9\d{2}[\s-]?\d{3}[\s-]?\d{3}(?!\w)")
# A card number: 15 to 19 digits, in groups or not; no Luhn check (test cards fail it), so a long
# reference number is masked too, which costs a log reader little (a date-based order number of
# 14 digits is kept).
_CARD = re.compile(r"(?<![\w-])[2-6]\d{3}(?:[\s-]?\d){11,15}(?![\w-])")
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")
_NAMED_SECRET = re.compile(
    r"(?i)\b((?:password|passwd|secret|token|api[_-]?key|hash_?key|hash_?iv|csrf[_-]?token|"
    r"authorization|cookie|session)\w*)(\W{0,2}\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic)\s+)?[^\s'\"&,;]+")


def redact(text: str) -> str:
    text = _SECRET_PATH.sub(lambda m: m.group(1) + MASK, text)
    text = _NAMED_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _EMAIL.sub(MASK, text)
    text = _CARD.sub(MASK, text)
    return _MOBILE.sub(MASK, text)


def tokens_in(text: str) -> set[str]:
    return {m.group(0)[len(m.group(1)):] for m in _SECRET_PATH.finditer(text)}


def redact_detail(text: str, tokens: set[str]) -> str:
    """A traceback or stack under a line: the line's link tokens wherever they stand, then the
    rest as `redact` masks it."""
    for token in sorted(tokens, key=len, reverse=True):
        text = text.replace(token, MASK)
    return redact(text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        tokens = tokens_in(message)
        if record.exc_text:
            record.exc_text = redact_detail(record.exc_text, tokens)
        if record.stack_info:
            record.stack_info = redact_detail(record.stack_info, tokens)
        return True


def install(app: Flask) -> None:
    """Add the filter (once) to the request-logging loggers and the app's logger."""
    for logger in (*(logging.getLogger(name) for name in LOGGERS), app.logger):
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
