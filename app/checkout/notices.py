"""付款結果通知: the result of a paid order POSTed to the merchant's ReturnURL, form-encoded with
its CheckMacValue, until the merchant answers `1|OK` (an answer that never changes the payment).

The notice is created with the payment (fields and MAC fixed then); its first try is queued
after that commit, and the per-minute job (app.checkout.jobs:payment_notices) takes back tries
whose worker died and queues those due. One try is `claim` (compare-and-set, committed before
sending) → `deliver` (outside any transaction, through the SSRF-guarded transport of
app.notifications.outgoing: https only, public addresses only, no redirects, a short timeout)
→ `finish` (logs the attempt; writes the outcome unless a later attempt claimed the notice).

Schedule: a failed first try is retried 5, 15 and 30 minutes after each failure, then at 09:00,
13:00, 17:00 and 21:00 Taipei on the next two days; then it is given up. The merchant may
re-send any notice (one manual try at once).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import select

from app import clock, history, jobs
from app.auth import access
from app.auth.permissions import Function
from app.checkout.models import CheckoutOrder, NoticeStatus, PaymentNotice, PaymentNoticeAttempt
from app.db import db
from app.errors import InvalidInput
from app.notifications import outgoing
from app.notifications.outgoing import Reply, post

QUICK_RETRIES = (timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
DAILY_SLOTS = (time(9), time(13), time(17), time(21))
SLOT_DAYS = 2
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
USER_AGENT = "ectix-payment-notice/1"
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
    return outgoing.due_ids(PaymentNotice, limit)


def _next_due(notice: PaymentNotice, failed_tries: int, at: datetime) -> datetime | None:
    return next_try(notice.created_at, failed_tries, at)


def claim(notice_id: int, *, trigger: str = "auto") -> tuple[int, str, bytes] | None:
    """Take the next try (outgoing.claim; the caller commits before sending): (attempt, url,
    body), or None when it is not to be sent now or another worker holds it."""
    taken = outgoing.claim(PaymentNotice, notice_id, trigger=trigger)
    if taken is None:
        return None
    notice, attempt = taken
    return attempt, notice.url, body_of(notice.payload)


def deliver(url: str, body: bytes) -> Reply:
    """The POST (outside any transaction). Plain http to loopback only where the app's config
    allows it (the tests; the `make run` debug server for its sample shop)."""
    allow = current_app.config.get("CHECKOUT_NOTICE_ALLOW_HTTP_LOOPBACK") is True
    return post(url, body, {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT},
                timeout=10.0, allow_http_loopback=allow)


def finish(notice_id: int, attempt: int, trigger: str, reply: Reply) -> str:
    """Log the try and write its outcome (outgoing.finish): "succeeded", "retry", "gave_up" or
    "superseded"."""
    return outgoing.finish(PaymentNotice, PaymentNoticeAttempt, notice_id, attempt, trigger,
                           reply, _next_due)


def sweep() -> int:
    """Notices left SENDING by a dead worker (lease over): the try counts as failed."""
    return outgoing.sweep(PaymentNotice, PaymentNoticeAttempt, _next_due)


def notice_of(order: CheckoutOrder) -> PaymentNotice | None:
    return db.session.scalar(select(PaymentNotice).where(PaymentNotice.order_id == order.id))


def attempts_of(notice: PaymentNotice, limit: int = 100) -> list[PaymentNoticeAttempt]:
    return outgoing.attempts_of(PaymentNoticeAttempt, notice.id, limit)


def request_resend(actor, store, notice: PaymentNotice) -> None:  # noqa: ANN001
    """【重新發送】: one manual try at once (queued after the commit), in any state but SENDING."""
    access.check(actor, store, Function.SYSTEM_INTEGRATION, no_right=NO_RIGHT)
    if notice.status is NoticeStatus.SENDING:
        raise InvalidInput(RESEND_BUSY)
    history.record(notice, "checkout_notice_resent", reason=f"重新發送前狀態：{notice.status.label}")
    jobs.enqueue("app.checkout.jobs:send_payment_notice", notice.id, "manual", retries=(),
                 queue="notifications")
