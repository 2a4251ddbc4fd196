"""Notices posted to a merchant's server (webhooks): one mechanism for every kind (installment
refund notices, card-payment result notices, and whatever comes next).

- The transport: `post` sends one form over https to the stored host only, every address it
  resolves to public (the connection goes to those very addresses, so a second lookup cannot
  point elsewhere), one short timeout, no redirect followed, at most READ_LIMIT bytes read.
  Success is HTTP 200 whose body, stripped, is exactly `1|OK`.
- The life of a notice row (a model with status, attempts, next_attempt_at, lease_until,
  succeeded_at and created_at; its attempts logged in an attempt model with notice_id, at,
  trigger, http_status, body_excerpt, error, succeeded):
  `claim` is a compare-and-set on (status, attempts) that moves the notice to SENDING, counts
  the attempt and takes a lease of app.jobs (the caller commits before sending, so no two
  workers send the same attempt, and an automatic attempt never touches a notice that
  succeeded); `finish` logs the attempt and writes its outcome unless a later attempt claimed
  the notice meanwhile; `sweep` takes back notices whose sender died (the try counts as failed).
  When a failed try is retried is the kind's own schedule (`next_due`). A manual re-send of a
  notice that had succeeded leaves it SUCCEEDED whatever happens.

Use cases flush and never commit.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update

from app import clock, jobs
from app.db import db
from app.notifications.models import NoticeStatus

UNSCOPED = {"unscoped": True}
SUCCESS_BODY = "1|OK"
INTERRUPTED = "發送中斷（系統程序終止），未確認是否送達"


def answered_ok(http_status: int | None, body: str) -> bool:
    return http_status == 200 and body.strip() == SUCCESS_BODY


# The transport ----------------------------------------------------------------------------------

BODY_EXCERPT = 200
ERROR_MAX = 300
READ_LIMIT = 64 * 1024
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 30.0  # a try (connect, then read within twice this) stays well within its lease
MAX_ADDRESSES = 3  # addresses of the host tried in turn, so one try stays well within its lease


@dataclass(frozen=True)
class Reply:
    """What one POST came to: the HTTP status and the start of the body, or why there was none."""

    http_status: int | None = None
    body: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error and answered_ok(self.http_status, self.body)

    @property
    def excerpt(self) -> str:
        return self.body[:BODY_EXCERPT]

    @property
    def reason(self) -> str:
        """The attempt log's error column: the transport's reason, or why the answer is not 1|OK."""
        if self.error:
            return self.error[:ERROR_MAX]
        if self.succeeded:
            return ""
        if self.http_status is not None and 300 <= self.http_status < 400:
            return f"HTTP {self.http_status} 轉址不予跟隨，請設定最終網址"
        if self.http_status != 200:
            return f"HTTP {self.http_status}，未回應 {SUCCESS_BODY}"
        return f"回應內容不是 {SUCCESS_BODY}"


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


class Refused(Exception):
    """The URL may not be posted to (scheme, host, an address inside the network)."""


Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: str, *, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global or (allow_loopback and ip.is_loopback)


def destination(url: str, *, allow_http_loopback: bool = False,
                resolve: Resolver = _resolve) -> Destination:
    """Where a notice may go: an https URL whose host resolves to public addresses only (the
    connection is made to those very addresses, so a second lookup cannot point elsewhere).
    `allow_http_loopback` (the tests' config only) also lets http:// go to a loopback address,
    and only there."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("網址格式不正確") from exc
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http_loopback):
        raise Refused("通知網址須為 https://")
    if not host or "@" in parts.netloc:
        raise Refused("網址格式不正確")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"無法解析網域 {host}：{exc}") from exc
    if not addresses:
        raise Refused(f"無法解析網域 {host}")
    if scheme == "http":
        if not all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses):
            raise Refused("通知網址須為 https://")
    elif not all(_public(a, allow_loopback=allow_http_loopback) for a in addresses):
        raise Refused(f"網域 {host} 解析為內部網路位址，不予發送")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme, host, port, target, tuple(addresses))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to one checked address; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to one checked address, the certificate verified for the host's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT,
         allow_http_loopback: bool = False, resolve: Resolver = _resolve) -> Reply:
    """One POST of a notice: never raises, never follows a redirect, gives up after `timeout`
    seconds without an answer (and reads at most READ_LIMIT bytes within twice that)."""
    try:
        where = destination(url, allow_http_loopback=allow_http_loopback, resolve=resolve)
    except Refused as refused:
        return Reply(error=str(refused))
    last_error = ""
    for address in where.addresses[:MAX_ADDRESSES]:
        if where.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
                where.host, where.port, address, timeout, ssl.create_default_context())
        else:
            conn = _PinnedHTTPConnection(where.host, where.port, address, timeout)
        try:
            try:
                conn.connect()
            except (ssl.SSLError, TimeoutError):
                raise
            except OSError as exc:  # refused, unreachable: the host's next address
                last_error = f"無法連線 {where.host}：{exc}"
                continue
            conn.request("POST", where.target, body=body, headers=dict(headers))
            response = conn.getresponse()
            raw = _read(response, deadline=time.monotonic() + 2 * timeout)
            return Reply(response.status, raw.decode("utf-8", "replace"))
        except TimeoutError:
            return Reply(error=f"逾時（{timeout:g} 秒未回應）")
        except ssl.SSLError as exc:
            return Reply(error=f"TLS 連線失敗：{exc.reason or exc}"[:ERROR_MAX])
        except (http.client.HTTPException, OSError) as exc:
            return Reply(error=f"連線中斷：{type(exc).__name__}: {exc}"[:ERROR_MAX])
        finally:
            conn.close()
    return Reply(error=last_error[:ERROR_MAX] or f"無法連線 {where.host}")


def _read(response: http.client.HTTPResponse, *, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < READ_LIMIT and time.monotonic() < deadline:
        chunk = response.read1(min(8192, READ_LIMIT - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


# The life of a notice ------------------------------------------------------------------------

NextDue = Callable[[Any, int, datetime], "datetime | None"]  # (notice, failed tries, now)


def due_ids(model: type, limit: int) -> list[int]:
    """Notices waiting whose next try has come, the longest waiting first."""
    return list(db.session.scalars(
        select(model.id).where(model.status == NoticeStatus.PENDING,
                               model.next_attempt_at <= clock.now())
        .order_by(model.next_attempt_at, model.id).limit(limit)
        .execution_options(**UNSCOPED)))


def claim(model: type, notice_id: int, *, trigger: str = "auto") -> tuple[Any, int] | None:
    """Take the next attempt of a notice: (the notice, the attempt's number), or None when it is
    not to be sent now or another worker took it first. An automatic attempt only when it is
    waiting and due, a manual one in any state but SENDING."""
    notice = db.session.scalar(select(model).where(model.id == notice_id)
                               .execution_options(**UNSCOPED))
    if notice is None or notice.status is NoticeStatus.SENDING:
        return None
    now = clock.now()
    conditions = [model.id == notice.id, model.attempts == notice.attempts,
                  model.status == notice.status]
    if trigger == "auto":
        if notice.status is not NoticeStatus.PENDING or notice.next_attempt_at is None \
                or notice.next_attempt_at > now:
            return None
        conditions.append(model.next_attempt_at <= now)
    taken = db.session.execute(
        update(model).where(*conditions)
        .values(status=NoticeStatus.SENDING, attempts=model.attempts + 1,
                lease_until=jobs.lease_end(now))
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not taken:
        return None
    return notice, notice.attempts + 1


def _after_failure(notice: Any, tries: int, at: datetime, next_due: NextDue) -> dict[str, Any]:
    if notice.succeeded_at is not None:  # a re-send of a notice the merchant had acknowledged
        return {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None}
    due = next_due(notice, tries, at)
    if due is None:
        return {"status": NoticeStatus.GAVE_UP, "next_attempt_at": None}
    return {"status": NoticeStatus.PENDING, "next_attempt_at": due}


def finish(model: type, attempt_model: type, notice_id: int, attempt: int, trigger: str,
           reply: Reply, next_due: NextDue) -> str:
    """Log the attempt and write its outcome, unless a later attempt claimed the notice since
    (then only the log): "succeeded", "retry", "gave_up" or "superseded"."""
    now = clock.now()
    db.session.add(attempt_model(notice_id=notice_id, at=now, trigger=trigger,
                                 http_status=reply.http_status, body_excerpt=reply.excerpt,
                                 error=reply.reason, succeeded=reply.succeeded))
    notice = db.session.scalar(select(model).where(model.id == notice_id)
                               .execution_options(**UNSCOPED))
    assert notice is not None
    if reply.succeeded:
        values: dict[str, Any] = {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None,
                                  "succeeded_at": notice.succeeded_at or now}
    else:
        values = _after_failure(notice, attempt, now, next_due)
    written = db.session.execute(
        update(model).where(model.id == notice_id, model.attempts == attempt)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    db.session.flush()
    if not written:
        return "superseded"
    return {NoticeStatus.SUCCEEDED: "succeeded", NoticeStatus.PENDING: "retry",
            NoticeStatus.GAVE_UP: "gave_up"}[values["status"]]


def sweep(model: type, attempt_model: type, next_due: NextDue) -> int:
    """Notices left SENDING by a worker that died (lease run out) count that try as failed and
    wait for the next (or are given up, or stay SUCCEEDED after a re-send); the try is logged
    as interrupted. How many were taken back."""
    now = clock.now()
    taken = 0
    for notice in jobs.abandoned(model, model.status == NoticeStatus.SENDING):
        values = _after_failure(notice, notice.attempts, now, next_due)
        if jobs.take_back(notice, model.status == NoticeStatus.SENDING, lease_until=None,
                          **values):
            db.session.add(attempt_model(notice_id=notice.id, at=now, trigger="auto",
                                         error=INTERRUPTED))
            taken += 1
    db.session.flush()
    return taken


def attempts_of(attempt_model: type, notice_id: int, limit: int = 100) -> list[Any]:
    """A notice's attempts, newest first."""
    return list(db.session.scalars(
        select(attempt_model).where(attempt_model.notice_id == notice_id)
        .order_by(attempt_model.at.desc(), attempt_model.id.desc()).limit(limit)))
