"""付款結果通知: the result of a paid order POSTed to the merchant's ReturnURL, form-encoded with
its CheckMacValue, until the merchant answers `1|OK` (an answer that never changes the payment).

The notice is created with the payment (fields and MAC fixed then); its first try is queued
after that commit, and the per-minute job (app.checkout.jobs:payment_notices) takes back tries
whose worker died and queues those due. One try is `claim` (compare-and-set, committed before
sending) → `deliver` (outside any transaction, through the SSRF-guarded transport of
app.installments.notices: https only, public addresses only, no redirects, a short timeout) →
`finish` (logs the attempt; writes the outcome unless a later attempt claimed the notice).

Schedule: a failed first try is retried 5, 15 and 30 minutes after each failure, then at 09:00,
13:00, 17:00 and 21:00 Taipei on the next two days; then it is given up. The merchant may
re-send any notice (one manual try at once).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import select, update

from app import clock, history, jobs
from app.auth import access
from app.auth.permissions import Function
from app.checkout.models import CheckoutOrder, NoticeStatus, PaymentNotice, PaymentNoticeAttempt
from app.db import db
from app.errors import InvalidInput
from app.installments.notices import Reply, post

QUICK_RETRIES = (timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
DAILY_SLOTS = (time(9), time(13), time(17), time(21))
SLOT_DAYS = 2
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
USER_AGENT = "ectix-payment-notice/1"
INTERRUPTED = "發送中斷（系統程序終止），未確認是否送達"
RESEND_BUSY = "此通知正在發送中，請稍後再試"
NO_RIGHT = "您沒有重新發送付款結果通知的權限"
UNSCOPED = {"unscoped": True}
SEND_BATCH = 200


def next_try(created_at: datetime, failed_tries: int, now: datetime) -> datetime | None:
    """When the next try is due after `failed_tries` failed ones (the last just now); None:
    give up."""
    if failed_tries < 1:
        raise ValueError("a retry follows a failed try")
    if failed_tries <= len(QUICK_RETRIES):
        return now + QUICK_RETRIES[failed_tries - 1]
    first_day = clock.business_day(created_at)
    slots = [clock.taipei_datetime(day.year, day.month, day.day, slot.hour)
             for day in (first_day + timedelta(days=n) for n in range(1, SLOT_DAYS + 1))
             for slot in DAILY_SLOTS]
    later = [s for s in slots if s > now]
    if failed_tries >= len(QUICK_RETRIES) + 1 + len(slots) or not later:
        return None
    return later[0]


def body_of(payload: dict[str, str]) -> bytes:
    """The form body: the fields in name order, UTF-8, form-encoded (space `+`)."""
    return urlencode(sorted(payload.items())).encode("ascii")


def due_notice_ids(limit: int = SEND_BATCH) -> list[int]:
    return list(db.session.scalars(
        select(PaymentNotice.id).where(PaymentNotice.status == NoticeStatus.PENDING,
                                       PaymentNotice.next_attempt_at <= clock.now())
        .order_by(PaymentNotice.next_attempt_at, PaymentNotice.id).limit(limit)
        .execution_options(**UNSCOPED)))


def _after_failure(notice: PaymentNotice, tries: int, at: datetime) -> dict[str, Any]:
    if notice.succeeded_at is not None:
        return {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None}
    due = next_try(notice.created_at, tries, at)
    if due is None:
        return {"status": NoticeStatus.GAVE_UP, "next_attempt_at": None}
    return {"status": NoticeStatus.PENDING, "next_attempt_at": due}


def claim(notice_id: int, *, trigger: str = "auto") -> tuple[int, str, bytes] | None:
    """Take the next try (the caller commits before sending): (attempt, url, body), or None
    when it is not to be sent now or another worker holds it."""
    notice = db.session.scalar(select(PaymentNotice).where(PaymentNotice.id == notice_id)
                               .execution_options(**UNSCOPED))
    if notice is None or notice.status is NoticeStatus.SENDING:
        return None
    now = clock.now()
    conditions = [PaymentNotice.id == notice.id, PaymentNotice.attempts == notice.attempts,
                  PaymentNotice.status == notice.status]
    if trigger == "auto":
        if notice.status is not NoticeStatus.PENDING or notice.next_attempt_at is None \
                or notice.next_attempt_at > now:
            return None
        conditions.append(PaymentNotice.next_attempt_at <= now)
    taken = db.session.execute(
        update(PaymentNotice).where(*conditions)
        .values(status=NoticeStatus.SENDING, attempts=PaymentNotice.attempts + 1,
                lease_until=jobs.lease_end(now))
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not taken:
        return None
    return notice.attempts + 1, notice.url, body_of(notice.payload)


def deliver(url: str, body: bytes) -> Reply:
    """The POST (outside any transaction). Plain http to loopback only where the app's config
    allows it (the tests)."""
    allow = current_app.config.get("CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK") is True
    return post(url, body, {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT},
                timeout=10.0, allow_http_loopback=allow)


def finish(notice_id: int, attempt: int, trigger: str, reply: Reply) -> str:
    """Log the try and write its outcome unless a later try claimed the notice since:
    "succeeded", "retry", "gave_up" or "superseded"."""
    now = clock.now()
    db.session.add(PaymentNoticeAttempt(notice_id=notice_id, at=now, trigger=trigger,
                                        http_status=reply.http_status, body_excerpt=reply.excerpt,
                                        error=reply.reason, succeeded=reply.succeeded))
    notice = db.session.scalar(select(PaymentNotice).where(PaymentNotice.id == notice_id)
                               .execution_options(**UNSCOPED))
    assert notice is not None
    if reply.succeeded:
        values: dict[str, Any] = {"status": NoticeStatus.SUCCEEDED, "next_attempt_at": None,
                                  "succeeded_at": notice.succeeded_at or now}
    else:
        values = _after_failure(notice, attempt, now)
    written = db.session.execute(
        update(PaymentNotice).where(PaymentNotice.id == notice_id,
                                    PaymentNotice.attempts == attempt)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    db.session.flush()
    if not written:
        return "superseded"
    return {NoticeStatus.SUCCEEDED: "succeeded", NoticeStatus.PENDING: "retry",
            NoticeStatus.GAVE_UP: "gave_up"}[values["status"]]


def sweep() -> int:
    """Notices left SENDING by a dead worker (lease over): the try counts as failed."""
    now = clock.now()
    taken = 0
    for notice in jobs.abandoned(PaymentNotice, PaymentNotice.status == NoticeStatus.SENDING):
        values = _after_failure(notice, notice.attempts, now)
        if jobs.take_back(notice, PaymentNotice.status == NoticeStatus.SENDING,
                          lease_until=None, **values):
            db.session.add(PaymentNoticeAttempt(notice_id=notice.id, at=now, trigger="auto",
                                                error=INTERRUPTED))
            taken += 1
    db.session.flush()
    return taken


def notice_of(order: CheckoutOrder) -> PaymentNotice | None:
    return db.session.scalar(select(PaymentNotice).where(PaymentNotice.order_id == order.id))


def attempts_of(notice: PaymentNotice, limit: int = 100) -> list[PaymentNoticeAttempt]:
    return list(db.session.scalars(
        select(PaymentNoticeAttempt).where(PaymentNoticeAttempt.notice_id == notice.id)
        .order_by(PaymentNoticeAttempt.at.desc(), PaymentNoticeAttempt.id.desc()).limit(limit)))


def request_resend(actor, store, notice: PaymentNotice) -> None:  # noqa: ANN001
    """【重新發送】: one manual try at once (queued after the commit), in any state but SENDING."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    if notice.status is NoticeStatus.SENDING:
        raise InvalidInput(RESEND_BUSY)
    history.record(notice, "checkout_notice_resent", reason=f"重新發送前狀態：{notice.status.label}")
    jobs.enqueue("app.checkout.jobs:send_payment_notice", notice.id, "manual", retries=(),
                 queue="notifications")
