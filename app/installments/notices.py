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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import exists, select
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
from app.notifications import outgoing
from app.notifications.outgoing import DEFAULT_TIMEOUT, MAX_TIMEOUT, Reply, post
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


# Use cases ----------------------------------------------------------------------------------

CREATE_BATCH = 500
SEND_BATCH = 200
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
    return outgoing.due_ids(RefundNotice, limit)


def _next_due(notice: RefundNotice, failed_tries: int, at: datetime) -> datetime | None:
    delay = retry_delay(failed_tries)
    return None if delay is None else at + delay


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
    """Take the next attempt of a notice (outgoing.claim; the caller commits before sending).
    None when it is not to be sent now or another worker took it first."""
    taken = outgoing.claim(RefundNotice, notice_id, trigger=trigger)
    if taken is None:
        return None
    notice, attempt = taken
    return Claim(notice.id, attempt, trigger, notice.url, form_body(notice.payload),
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
    """Log the attempt and write its outcome (outgoing.finish): "succeeded", "retry",
    "gave_up" or "superseded"."""
    return outgoing.finish(RefundNotice, NoticeAttempt, held.notice_id, held.attempt,
                           held.trigger, reply, _next_due)


def sweep() -> int:
    """Notices whose sender died are taken back (outgoing.sweep). How many."""
    return outgoing.sweep(RefundNotice, NoticeAttempt, _next_due)


# What the pages ask -------------------------------------------------------------------------

def notice_of(order: InstallmentOrder) -> RefundNotice | None:
    return db.session.scalar(select(RefundNotice).where(RefundNotice.order_id == order.id)
                             .execution_options(**UNSCOPED))


def attempts_of(notice: RefundNotice, limit: int = 100) -> list[NoticeAttempt]:
    """The notice's attempts, newest first."""
    return outgoing.attempts_of(NoticeAttempt, notice.id, limit)


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
