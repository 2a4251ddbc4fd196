"""Queueing e-mail and SMS: one Message row per recipient, sent by a job after the commit.

Callers (issuance, change of purchaser, re-send, reminders) call `queue_email` / `queue_sms`
inside their own transaction. These functions add rows and enqueue `send_message`, flush, and
never commit: nothing leaves before the caller's commit, and a rollback drops the messages too.

A bad address never raises (an issuance must not fail because one purchaser typed a wrong
number): the Message is created FAILED with the reason, is never sent, and shows in the outbox
(and in the merchant's SMS log). A message of an order that fails (here, or when it is sent, or
when its delivery report says so) or is delivered also gets an entry in the order's history
(app.notifications.outcomes).
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from app import clock, jobs
from app.db import db
from app.notifications.jobs import send_message
from app.notifications.kinds import KIND_LABELS, kind_label  # noqa: F401  (re-exported)
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.outcomes import record_outcome
from app.phones import normalise_mobile  # noqa: F401  (re-exported)

# Retry intervals (seconds) of the sending job under RQ; see app.notifications.jobs.
SEND_RETRIES: tuple[int, ...] = jobs.DEFAULT_RETRY_INTERVALS

ADDRESS_LIMIT = 200  # Message.to_address
SUBJECT_LIMIT = 200  # Message.subject
KIND_LIMIT = 40  # Message.kind


def split_addresses(field: str | None) -> list[str]:
    """The addresses of one e-mail field: separated by `;` (also `,` or line breaks)."""
    return [part.strip() for part in re.split(r"[;,\n\r]", field or "") if part.strip()]


def email_problem(address: str) -> str | None:
    """Why `address` cannot receive mail, or None."""
    if len(address) > ADDRESS_LIMIT:
        return f"電子郵件地址過長（超過 {ADDRESS_LIMIT} 字元）"
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"電子郵件地址格式錯誤：{exc}"
    return None


def _check_kind(kind: str) -> None:
    if not kind or len(kind) > KIND_LIMIT:
        raise ValueError(f"kind must be 1..{KIND_LIMIT} characters")


def _add(channel: Channel, store_id: int | None, to: str, subject: str, body: str, *,
         kind: str, order_id: int | None, problem: str | None) -> Message:
    message = Message(
        store_id=store_id, channel=channel, kind=kind, to_address=to[:ADDRESS_LIMIT],
        subject=subject, body=body, order_id=order_id, attempts=0, provider_ref="",
        created_at=clock.now(),
        status=MessageStatus.FAILED if problem else MessageStatus.QUEUED,
        error=problem or "",
        billable=channel is Channel.SMS and problem is None,
        failed_at=clock.now() if problem else None,
    )
    db.session.add(message)
    db.session.flush()
    if problem:
        record_outcome(message, MessageStatus.QUEUED, MessageStatus.FAILED, reason=problem)
    return message


def queue_email(store_id: int | None, to: str | None, subject: str, body: str, *, kind: str,
                order_id: int | None = None, html: str | None = None) -> list[Message]:
    """Queue one e-mail per address in `to` (`;`-separated). Returns the rows, in order.

    The HTML alternative travels with the job (the row keeps the plain text, which is what the
    outbox shows). An empty field or a malformed address gives a FAILED row, never an exception.
    """
    _check_kind(kind)
    subject = " ".join(subject.split())[:SUBJECT_LIMIT]
    addresses = split_addresses(to)
    if not addresses:
        return [_add(Channel.EMAIL, store_id, "", subject, body, kind=kind, order_id=order_id,
                     problem="未提供收件者電子郵件地址")]
    messages = []
    for address in dict.fromkeys(addresses):  # the same address twice gets one message
        problem = email_problem(address)
        message = _add(Channel.EMAIL, store_id, address, subject, body, kind=kind,
                       order_id=order_id, problem=problem)
        if problem is None:
            _enqueue(message.id, html)
        messages.append(message)
    return messages


def queue_sms(store_id: int | None, to: str | None, body: str, *, kind: str,
              order_id: int | None = None) -> Message:
    """Queue one SMS to a Taiwanese mobile number (stored as 09xxxxxxxx). Billable per message.

    A missing or malformed number gives a FAILED, non-billable row, never an exception.
    """
    _check_kind(kind)
    mobile = normalise_mobile(to)
    if mobile is None:
        shown = (to or "").strip()
        problem = (f"手機號碼格式錯誤：「{shown}」不是 09 開頭的 10 位數字手機號碼" if shown
                   else "未提供手機號碼")
        return _add(Channel.SMS, store_id, shown, "", body, kind=kind, order_id=order_id,
                    problem=problem)
    message = _add(Channel.SMS, store_id, mobile, "", body, kind=kind, order_id=order_id,
                   problem=None)
    _enqueue(message.id, None)
    return message


def _enqueue(message_id: int, html: str | None) -> None:
    args: tuple[int | str, ...] = (message_id,) if html is None else (message_id, html)
    jobs.enqueue(send_message, *args, retries=SEND_RETRIES, queue="notifications")
