"""The bounce mailbox: where mail servers send their delivery status notifications.

Every e-mail leaves with MAIL_RETURN_PATH as its envelope sender, so a report that a message
could not be delivered (or, with MAIL_DSN_SUCCESS, that it was) lands in that address's
mailbox, at any mail provider. The job `read_bounces` (app.notifications.jobs) reads it over
POP3 every few minutes and deletes what it has read once the outcome is committed. The mailbox
is the platform's own: everything in it is read and deleted (what is not a report, too).

Settings (app.config first, then the environment): BOUNCE_POP3_HOST (unset: no mailbox is
read), BOUNCE_POP3_PORT (default 995 with TLS, else 110), BOUNCE_POP3_USERNAME,
BOUNCE_POP3_PASSWORD, BOUNCE_POP3_TLS (`ssl`, the default: TLS from the start; `starttls`;
`none`: plain text, for a server on the same host only), BOUNCE_POP3_TIMEOUT (seconds, 30).

A session (`with mailbox.session() as box`) reads at most `limit` messages; deletions take
effect only when the block ends without an exception (POP3's QUIT), so a run that fails part
way deletes nothing and the next run reads the same reports again (applying a report twice
changes nothing: app.notifications.rules). The password never appears in a reason or a log.
"""

from __future__ import annotations

import logging
import poplib
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from flask import Flask

from app.notifications.transports import _number, _scrub, _setting

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
TLS_MODES = ("ssl", "starttls", "none")
MAX_BYTES = 512 * 1024  # a report is small; a larger message is read in part (its first lines)
TOP_LINES = 400  # lines of the body of a large message: the report and the original's headers


class MailboxUnavailable(Exception):
    """The mailbox could not be opened or read; `reason` is fit for a log line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InboundMail:
    key: int  # its number in this session
    raw: bytes


@runtime_checkable
class MailboxSession(Protocol):
    def messages(self, limit: int) -> Iterator[InboundMail]: ...

    def delete(self, key: int) -> None: ...


@runtime_checkable
class BounceMailbox(Protocol):
    def session(self) -> AbstractContextManager[MailboxSession]: ...


@dataclass(frozen=True)
class Pop3Settings:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: str
    timeout: float

    @property
    def configured(self) -> bool:
        return bool(self.host)


def pop3_settings(app: Flask) -> Pop3Settings:
    tls = str(_setting(app, "BOUNCE_POP3_TLS", "ssl")).strip().lower()
    if tls not in TLS_MODES:
        log.warning("BOUNCE_POP3_TLS is not one of %s; using ssl", ", ".join(TLS_MODES))
        tls = "ssl"
    default_port = 995 if tls == "ssl" else 110
    return Pop3Settings(
        host=str(_setting(app, "BOUNCE_POP3_HOST", "")).strip(),
        port=int(_number(_setting(app, "BOUNCE_POP3_PORT", default_port), default_port,
                         "BOUNCE_POP3_PORT")),
        username=str(_setting(app, "BOUNCE_POP3_USERNAME", "")),
        password=str(_setting(app, "BOUNCE_POP3_PASSWORD", "")),
        tls=tls,
        timeout=_number(_setting(app, "BOUNCE_POP3_TIMEOUT", DEFAULT_TIMEOUT), DEFAULT_TIMEOUT,
                        "BOUNCE_POP3_TIMEOUT"),
    )


def bounce_mailbox_for(app: Flask) -> BounceMailbox | None:
    """The configured bounce mailbox, or None (no BOUNCE_POP3_HOST: no reports are read)."""
    settings = pop3_settings(app)
    return Pop3Mailbox(settings) if settings.configured else None


class Pop3Mailbox:
    """A mailbox over POP3 (RFC 1939): USER/PASS, STAT, LIST, RETR (TOP for a large one), DELE,
    QUIT; TLS from the start or by STLS unless `none`."""

    def __init__(self, settings: Pop3Settings) -> None:
        self.settings = settings

    @contextmanager
    def session(self) -> Iterator[_Pop3Session]:
        box = _Pop3Session(self, self.connect())
        try:
            yield box
        except BaseException:
            box.abandon()  # no QUIT: the server deletes nothing
            raise
        box.finish()

    def connect(self) -> poplib.POP3:
        settings = self.settings
        where = f"{settings.host}:{settings.port}"
        try:
            if settings.tls == "ssl":
                conn: poplib.POP3 = poplib.POP3_SSL(settings.host, settings.port,
                                                    timeout=settings.timeout,
                                                    context=ssl.create_default_context())
            else:
                conn = poplib.POP3(settings.host, settings.port, timeout=settings.timeout)
            try:
                if settings.tls == "starttls":
                    conn.stls(context=ssl.create_default_context())
                conn.user(settings.username)
                conn.pass_(settings.password)
            except BaseException:
                conn.close()
                raise
        except poplib.error_proto as exc:
            raise MailboxUnavailable(self._reason(f"退信信箱 {where} 拒絕登入：{_text(exc)}")) from exc
        except TimeoutError as exc:
            raise MailboxUnavailable(self._reason(f"連線退信信箱 {where} 逾時")) from exc
        except (ssl.SSLError, OSError) as exc:
            raise MailboxUnavailable(self._reason(
                f"無法連線退信信箱 {where}：{type(exc).__name__}: {exc}")) from exc
        return conn

    def _reason(self, text: str) -> str:
        return _scrub(text, self.settings.password)


class _Pop3Session:
    def __init__(self, mailbox: Pop3Mailbox, conn: poplib.POP3) -> None:
        self.mailbox = mailbox
        self.conn = conn
        self.deleted: list[int] = []
        self.unreadable: int | None = None  # a message that broke the connection

    def messages(self, limit: int) -> Iterator[InboundMail]:
        count, _ = self.conn.stat()
        for number in range(1, min(count, limit) + 1):
            try:
                raw = self._read(number)
            except poplib.error_proto as exc:
                if _text(exc).startswith("-ERR"):  # the server refused this one: the next
                    log.warning("bounce mailbox: message %s refused: %s", number, _text(exc))
                    continue
                # a line too long, the connection cut: what follows cannot be read any more
                log.warning("bounce mailbox: message %s unreadable (%s); deleted", number,
                            _text(exc))
                self.unreadable = number
                return
            yield InboundMail(number, raw)

    def _read(self, number: int) -> bytes:
        answer = self.conn.list(number)  # b"+OK 3 1200"
        parts = answer.split()
        size = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else 0
        if size > MAX_BYTES:
            _, lines, _ = self.conn.top(number, TOP_LINES)
        else:
            _, lines, _ = self.conn.retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def delete(self, key: int) -> None:
        self.deleted.append(key)

    def finish(self) -> None:
        """Delete what was read and QUIT (the deletions happen now)."""
        if self.unreadable is not None:
            # the connection is out of step: a fresh one deletes what this one read, and the
            # unreadable message, so it does not stop every later run
            self.abandon()
            self.conn = self.mailbox.connect()
            self.deleted.append(self.unreadable)
        try:
            for key in self.deleted:
                self.conn.dele(key)
            self.conn.quit()
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
