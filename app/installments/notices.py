"""Refund notices (退款結果主動通知): when an installment order's refund completes, the platform
POSTs a signed form to the URL the order was issued with, until the merchant answers `1|OK`
(docs/installments.md, "Refund notifications").

The escrow sync sets `InstallmentOrder.refunded_at` when the bank has refunded every returned
period; the per-minute job (app.installments.jobs) then

1. creates one RefundNotice per refunded order with a URL and no notice yet (`create_notices`;
   the unique order_id makes it idempotent), its form fields fixed at creation;
2. takes back notices whose sender died (`sweep`, the lease of app.jobs);
3. queues a sending job for every notice due (`due_notice_ids`).

One attempt (`claim` → `post` → `finish`):

- `claim` is a compare-and-set on (status, attempts) that moves the notice to SENDING, counts
  the attempt and takes a lease; the job commits it before anything is sent, so no two workers
  send the same attempt, and an automatic attempt never touches a notice that succeeded.
- `post` is the HTTP request, outside any transaction: https only, to the stored host, every
  address it resolves to public, one short timeout, no redirect followed.
- `finish` writes the outcome if no later attempt claimed the notice meanwhile (attempts
  unchanged), and logs the attempt (NoticeAttempt). Success is HTTP 200 whose body, stripped,
  is exactly `1|OK`. A failure waits RETRY_DELAYS[n-1] after the n-th try; after the last
  delay the next failure is final (GAVE_UP).
- The operator may re-send any notice (`trigger="manual"`): one attempt at once, whatever its
  status (SENDING excepted). Its failure leaves a notice that had succeeded SUCCEEDED, and
  otherwise continues the schedule from the tries made so far.

The pure rules (the schedule, the form, the signature, the answer) come first; then the
transport; then the use cases, which flush and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import selectinload

from app import clock, history, jobs
from app.auth.models import Account
from app.db import db, insert_ignoring_conflict
from app.errors import Forbidden, InvalidInput
from app.installments.models import (
    InstallmentOrder,
    NoticeAttempt,
    NoticeStatus,
    RefundNotice,
)
from app.installments.settings import notice_secret_for
from app.installments.status import PeriodStatus
from app.stores.models import Store

# The schedule ---------------------------------------------------------------------------------

# How long after the n-th failed try the next one is made: 7 tries over 23 h 36 min, then the
# notice is given up (the operator can still re-send it).
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=6), timedelta(hours=15),
)
MAX_TRIES = len(RETRY_DELAYS) + 1


def retry_delay(failed_tries: int) -> timedelta | None:
    """The wait before the next try after `failed_tries` tries failed; None: give up."""
    if failed_tries < 1:
        raise ValueError("a retry follows at least one failed try")
    if failed_tries > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[failed_tries - 1]


# The form and its signature -------------------------------------------------------------------

SUCCESS_BODY = "1|OK"
REFUND_MESSAGE = "退款成功"
SIGNATURE_HEADER = "X-Ectix-Signature"
TIMESTAMP_HEADER = "X-Ectix-Timestamp"
CONTENT_TYPE = "application/x-www-form-urlencoded"
USER_AGENT = "ectix-refund-notice/1"


@dataclass(frozen=True)
class RefundedPeriod:
    face_value: int
    return_fee: int


def refund_fields(*, merchant_id: str, merchant_order_no: str, order_no: str, total_amount: int,
                  period_count: int, returned: list[RefundedPeriod],
                  refunded_at: datetime) -> dict[str, str]:
    """The notice's form fields (as sent, before signing). RefundAmount is what the consumer
    gets back: the returned periods' face values less their shares of the handling fee."""
    fee = sum(p.return_fee for p in returned)
    return {
        "MerchantID": merchant_id,
        "MerchantOrderNo": merchant_order_no,
        "OrderNo": order_no,
        "TotalAmount": str(total_amount),
        "RefundAmount": str(sum(p.face_value for p in returned) - fee),
        "HandlingFee": str(fee),
        "RefundDate": clock.taipei(refunded_at).strftime("%Y/%m/%d %H:%M:%S"),
        "PeriodCount": str(period_count),
        "ReturnedPeriods": str(len(returned)),
        "RtnCode": "1",
        "RtnMsg": REFUND_MESSAGE,
    }


def form_body(fields: Mapping[str, str]) -> bytes:
    """The request body: the fields URL-encoded (UTF-8) in name order, so a stored notice is
    sent byte for byte the same each time."""
    return urlencode(sorted(fields.items())).encode("ascii")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, under the store's key, of the timestamp, a dot and
    the exact body."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str, body: bytes, received: str, *, now: int,
           tolerance: int = 300) -> bool:
    """What a merchant checks (the docs show it): the signature, in constant time, of a
    timestamp at most `tolerance` seconds away."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), received)


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
    `allow_http_loopback` (tests: INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK) also lets http:// go
    to a loopback address, and only there."""
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


# Use cases ----------------------------------------------------------------------------------

CREATE_BATCH = 500
SEND_BATCH = 200
INTERRUPTED = "發送中斷（系統程序終止），未確認是否送達"
RESEND_BUSY = "此通知正在發送中，請稍後再試"
OPERATOR_ONLY = "僅平台管理員可執行此操作"
UNSCOPED = {"unscoped": True}


def fields_for(order: InstallmentOrder, merchant_id: str) -> dict[str, str]:
    returned = [RefundedPeriod(p.face_value, p.return_fee or 0) for p in order.periods
                if p.status is PeriodStatus.RETURNED]
    assert order.refunded_at is not None
    return refund_fields(merchant_id=merchant_id, merchant_order_no=order.merchant_order_no,
                         order_no=order.order_no, total_amount=order.total_amount,
                         period_count=order.period_count, returned=returned,
                         refunded_at=order.refunded_at)


def create_notices(limit: int = CREATE_BATCH) -> int:
    """A notice for each refunded order with a URL and none yet (up to `limit` a run; the next
    run takes the rest). Safe to run twice or in parallel: an order's second notice is not
    inserted. How many were created."""
    orders = db.session.execute(
        select(InstallmentOrder, Store.merchant_code)
        .join(Store, Store.id == InstallmentOrder.store_id)
        .where(InstallmentOrder.refunded_at.is_not(None), InstallmentOrder.refund_notify_url != "",
               ~exists().where(RefundNotice.order_id == InstallmentOrder.id))
        .order_by(InstallmentOrder.refunded_at, InstallmentOrder.id).limit(limit)
        .options(selectinload(InstallmentOrder.periods)).execution_options(**UNSCOPED)).all()
    now = clock.now()
    created = 0
    for store_id in {order.store_id for order, _ in orders}:
        notice_secret_for(store_id)  # the key exists before the first try is signed
    for order, merchant_id in orders:
        created += insert_ignoring_conflict(
            RefundNotice, store_id=order.store_id, order_id=order.id, url=order.refund_notify_url,
            payload=fields_for(order, merchant_id), status=NoticeStatus.PENDING, attempts=0,
            next_attempt_at=now, created_at=now) is not None
    return created


def due_notice_ids(limit: int = SEND_BATCH) -> list[int]:
    """Notices waiting whose next try has come, the longest waiting first."""
    return list(db.session.scalars(
        select(RefundNotice.id).where(RefundNotice.status == NoticeStatus.PENDING,
                                      RefundNotice.next_attempt_at <= clock.now())
        .order_by(RefundNotice.next_attempt_at, RefundNotice.id).limit(limit)
        .execution_options(**UNSCOPED)))


def _after_failure(notice_attempts: int, succeeded_at: datetime | None,
                   at: datetime) -> dict[str, Any]:
    """A notice's status after a failed (or interrupted) try, its `notice_attempts`-th."""
    if succeeded_at is not None:  # a re-send of a notice the merchant had acknowledged
        return {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None}
    delay = retry_delay(notice_attempts)
    if delay is None:
        return {"status": NoticeStatus.GAVE_UP, "next_attempt_at": None}
    return {"status": NoticeStatus.PENDING, "next_attempt_at": at + delay}


@dataclass(frozen=True)
class Claim:
    """One attempt a worker holds: what it sends, and the attempt number its final write checks."""

    notice_id: int
    attempt: int
    trigger: str
    url: str
    body: bytes
    secret: str


def claim(notice_id: int, *, trigger: str = "auto") -> Claim | None:
    """Take the next attempt of a notice (compare-and-set; the caller commits before sending):
    an automatic one only when it is waiting and due, a manual one in any state but SENDING.
    None when it is not to be sent now or another worker took it first."""
    notice = db.session.scalar(select(RefundNotice).where(RefundNotice.id == notice_id)
                               .execution_options(**UNSCOPED))
    if notice is None or notice.status is NoticeStatus.SENDING:
        return None
    now = clock.now()
    conditions = [RefundNotice.id == notice.id, RefundNotice.attempts == notice.attempts,
                  RefundNotice.status == notice.status]
    if trigger == "auto":
        if notice.status is not NoticeStatus.PENDING or notice.next_attempt_at is None \
                or notice.next_attempt_at > now:
            return None
        conditions.append(RefundNotice.next_attempt_at <= now)
    taken = db.session.execute(
        update(RefundNotice).where(*conditions)
        .values(status=NoticeStatus.SENDING, attempts=RefundNotice.attempts + 1,
                lease_until=jobs.lease_end(now))
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not taken:
        return None
    return Claim(notice.id, notice.attempts + 1, trigger, notice.url, form_body(notice.payload),
                 notice_secret_for(notice.store_id))


def notice_timeout() -> float:
    """INSTALLMENT_NOTICE_TIMEOUT from the app's config, else the environment, else 10 s."""
    raw = current_app.config.get("INSTALLMENT_NOTICE_TIMEOUT")
    if raw is None:
        raw = os.environ.get("INSTALLMENT_NOTICE_TIMEOUT")
    try:
        value = float(raw) if raw is not None else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if 0 < value <= MAX_TIMEOUT else DEFAULT_TIMEOUT


def deliver(held: Claim) -> Reply:
    """The POST of a claimed attempt, signed now (call it outside any transaction). Plain http
    to loopback only where the app's config (never the environment) allows it: the tests."""
    headers = signed_headers(held.secret, int(clock.now().timestamp()), held.body)
    allow = current_app.config.get("INSTALLMENT_NOTICE_ALLOW_HTTP_LOOPBACK") is True
    return post(held.url, held.body, headers, timeout=notice_timeout(), allow_http_loopback=allow)


def finish(held: Claim, reply: Reply) -> str:
    """Log the attempt and write its outcome, unless a later attempt claimed the notice since
    (then only the log). "succeeded", "retry", "gave_up" or "superseded"."""
    now = clock.now()
    db.session.add(NoticeAttempt(notice_id=held.notice_id, at=now, trigger=held.trigger,
                                 http_status=reply.http_status, body_excerpt=reply.excerpt,
                                 error=reply.reason, succeeded=reply.succeeded))
    notice = db.session.scalar(select(RefundNotice).where(RefundNotice.id == held.notice_id)
                               .execution_options(**UNSCOPED))
    assert notice is not None
    if reply.succeeded:
        values: dict[str, Any] = {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None,
                                  "succeeded_at": notice.succeeded_at or now}
    else:
        values = _after_failure(held.attempt, notice.succeeded_at, now)
    written = db.session.execute(
        update(RefundNotice).where(RefundNotice.id == held.notice_id,
                                   RefundNotice.attempts == held.attempt)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    db.session.flush()
    if not written:
        return "superseded"
    return {NoticeStatus.SUCCEEDED: "succeeded", NoticeStatus.PENDING: "retry",
            NoticeStatus.GAVE_UP: "gave_up"}[values["status"]]


def sweep() -> int:
    """Notices left SENDING by a worker that died (lease run out) count that try as failed and
    wait for the next (or are given up, or stay SUCCEEDED after a re-send); the try is logged
    as interrupted. How many were taken back."""
    now = clock.now()
    taken = 0
    for notice in jobs.abandoned(RefundNotice, RefundNotice.status == NoticeStatus.SENDING):
        values = _after_failure(notice.attempts, notice.succeeded_at, now)
        if jobs.take_back(notice, RefundNotice.status == NoticeStatus.SENDING,
                          lease_until=None, **values):
            db.session.add(NoticeAttempt(notice_id=notice.id, at=now, trigger="auto",
                                         error=INTERRUPTED))
            taken += 1
    db.session.flush()
    return taken


# What the pages ask -------------------------------------------------------------------------

def notice_of(order: InstallmentOrder) -> RefundNotice | None:
    return db.session.scalar(select(RefundNotice).where(RefundNotice.order_id == order.id)
                             .execution_options(**UNSCOPED))


def attempts_of(notice: RefundNotice, limit: int = 100) -> list[NoticeAttempt]:
    """The notice's attempts, newest first."""
    return list(db.session.scalars(
        select(NoticeAttempt).where(NoticeAttempt.notice_id == notice.id)
        .order_by(NoticeAttempt.at.desc(), NoticeAttempt.id.desc()).limit(limit)))


def request_resend(actor: Account, notice: RefundNotice) -> None:
    """The operator's 【重新發送】: one manual attempt at once (queued after the commit), for a
    notice in any state but one being sent. Recorded in the notice's history."""
    if not actor.is_operator:
        raise Forbidden(OPERATOR_ONLY)
    if notice.status is NoticeStatus.SENDING:
        raise InvalidInput(RESEND_BUSY)
    history.record(notice, "refund_notice_resent", reason=f"重新發送前狀態：{notice.status.label}")
    jobs.enqueue("app.installments.jobs:send_refund_notice", notice.id, "manual", retries=(),
                 queue="notifications")
