"""The sending job: hand one Message to its transport, at most once, and record the outcome.

`send_message(message_id)` runs after the commit that queued the message.

- Claim (compare-and-set): `UPDATE messages SET attempts = attempts + 1, sent_at = now
  WHERE id = :id AND status IN ('queued', 'failed') AND attempts = :seen
  AND (sent_at IS NULL OR sent_at < now - CLAIM_TIMEOUT)`, committed before anything is sent.
  Only one run can win a given attempt; a run that loses, or finds the row SENT / RECORDED,
  does nothing. While an attempt is in flight the row is QUEUED with `sent_at` set to the time
  the attempt began (the model has no "sending" status): that claim is the attempt's lease
  (`app.jobs`), CLAIM_TIMEOUT long, longer than any transport timeout (SMTP 30 s, SMS 10 s).
  So a retried or duplicated job never sends twice while an attempt may still be in flight.
- An attempt whose lease ran out died with its worker (kill -9, out of memory, a deploy):
  `sweep_messages` (every minute) queues the message for its next attempt, or fails it after
  MAX_ATTEMPTS. Whether a dead attempt reached the server is unknown, so such a retry may
  deliver a message twice; the reference (`ectix-<id>`, the e-mail's Message-ID) is the same.
- Success: SENT (or RECORDED when no transport is configured), `sent_at`, `provider_ref`.
  Whether it then reached the recipient comes later, from the gateway's status callback or the
  mail server's delivery status notification (app.notifications.receipts).
- Failure: the reason goes to `error` ("第 n 次發送失敗：…"). Before the last attempt the row
  goes back to QUEUED and the job re-raises, so RQ retries it (SEND_RETRIES, 5 s / 30 s / ...).
  At the last attempt (MAX_ATTEMPTS), or when retrying cannot help (the server refused the
  recipient), the row becomes FAILED and the job returns normally: the failure is on the row,
  visible in the outbox (and in the order's history), and an SMS that was never delivered is
  not billable. A failed message is final (app.notifications.rules): it is never claimed again.
- JOBS_MODE=inline (tests) has no RQ to retry, and an exception would escape from the caller's
  commit; so inline, the job makes its attempts itself, one after the other, and never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import current_app
from sqlalchemy import or_, select, update

from app import clock, jobs
from app.db import db
from app.notifications import rules
from app.notifications.bounces import parse_dsn
from app.notifications.mailbox import bounce_mailbox_for
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.outcomes import record_outcome
from app.notifications.receipts import Applied, apply_bounce
from app.notifications.transports import SendFailed, mailer_for, sms_gateway_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
CLAIM_TIMEOUT = jobs.LEASE
ABANDONED = "發送中斷（系統程序終止），未確認是否送達"

Outcome = Literal["sent", "recorded", "failed", "skipped"]

_OPEN = (MessageStatus.QUEUED,)  # failed is final (app.notifications.rules): a re-send is new


def send_message(message_id: int, html: str | None = None) -> Outcome:
    """Job entry point. Returns what happened (for logs and tests)."""
    inline = current_app.config.get("JOBS_MODE") == "inline"
    while True:
        try:
            return attempt(message_id, html=html)
        except SendFailed as failure:
            if inline:
                continue  # the next attempt at once; `attempt` stops at MAX_ATTEMPTS
            raise SendFailed(failure.reason) from None  # RQ retries; no traceback of the cause


def attempt(message_id: int, *, html: str | None = None) -> Outcome:
    """One attempt to send. Raises SendFailed only when another attempt should follow."""
    message = db.session.scalar(
        select(Message).where(Message.id == message_id).execution_options(unscoped=True))
    if message is None:
        log.warning("message %s not found; nothing to send", message_id)
        return "skipped"
    if message.status not in _OPEN:
        return "skipped"
    started = clock.now()
    claimed = db.session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(_OPEN),
               Message.attempts == message.attempts,
               or_(Message.sent_at.is_(None), Message.sent_at < started - CLAIM_TIMEOUT))
        .values(attempts=Message.attempts + 1, sent_at=started, status=MessageStatus.QUEUED)
        .execution_options(synchronize_session=False, unscoped=True)
    ).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"  # another run holds or finished this message
    message = db.session.get(Message, message_id, populate_existing=True)
    assert message is not None
    reference = f"ectix-{message.id}"
    try:
        if message.channel is Channel.EMAIL:
            delivery = mailer_for(current_app).send(
                message.to_address, message.subject, message.revealed_body, html=html, reference=reference)
        else:
            delivery = sms_gateway_for(current_app).send(
                message.to_address, message.revealed_body, reference=reference)
    except SendFailed as failure:
        return _failed(message, failure.reason, permanent=failure.permanent)
    except Exception as exc:  # a transport bug must not leave the row silently in flight
        log.exception("message %s: unexpected error while sending", message_id)
        return _failed(message, f"發送時發生未預期的錯誤（{type(exc).__name__}）", permanent=False)
    message.status = rules.check(
        message.status, MessageStatus.RECORDED if delivery.recorded_only else MessageStatus.SENT)
    message.sent_at = clock.now()
    message.provider_ref = delivery.provider_ref[:100]
    message.billable = message.channel is Channel.SMS
    db.session.commit()
    return "recorded" if delivery.recorded_only else "sent"


def _failed(message: Message, reason: str, *, permanent: bool) -> Outcome:
    final = permanent or message.attempts >= MAX_ATTEMPTS
    message.error = f"第 {message.attempts} 次發送失敗：{reason}"
    message.sent_at = None
    if final:
        message.status = rules.check(message.status, MessageStatus.FAILED)
        message.billable = False
        message.failed_at = clock.now()
        record_outcome(message, MessageStatus.QUEUED, MessageStatus.FAILED, reason=message.error)
    else:
        message.status = rules.check(message.status, MessageStatus.QUEUED)
    message_id, attempts = message.id, message.attempts
    db.session.commit()
    if final:
        log.warning("message %s failed after %s attempt(s): %s", message_id, attempts, reason)
        return "failed"
    log.info("message %s attempt %s failed, will retry: %s", message_id, attempts, reason)
    raise SendFailed(reason)


def sweep_messages(slot: str) -> int:
    """Every minute: messages whose attempt was claimed over CLAIM_TIMEOUT ago and never
    answered (the worker died while sending) are queued for their next attempt, or failed after
    MAX_ATTEMPTS (not billed). Safe to run twice or in parallel. Returns how many were queued."""
    stuck = db.session.scalars(
        select(Message).where(Message.status == MessageStatus.QUEUED,
                              Message.sent_at < clock.now() - CLAIM_TIMEOUT)
        .order_by(Message.sent_at, Message.id).limit(100).execution_options(unscoped=True)).all()
    queued = []
    for message in stuck:
        final = message.attempts >= MAX_ATTEMPTS
        reason = ABANDONED if final else f"第 {message.attempts} 次發送中斷（系統程序終止），將重新發送"
        values = {"sent_at": None, "error": reason}
        if final:
            values |= {"status": rules.check(message.status, MessageStatus.FAILED),
                       "billable": False, "failed_at": clock.now()}
        taken = db.session.execute(
            update(Message).where(Message.id == message.id, Message.status == MessageStatus.QUEUED,
                                  Message.attempts == message.attempts,
                                  Message.sent_at == message.sent_at)
            .values(**values).execution_options(unscoped=True, synchronize_session=False)
        ).rowcount
        if taken and final:
            record_outcome(message, MessageStatus.QUEUED, MessageStatus.FAILED, reason=ABANDONED)
        elif taken:
            queued.append(message.id)
    for message_id in queued:
        jobs.enqueue(send_message, message_id, queue="notifications")
    db.session.commit()
    return len(queued)


BOUNCES_PER_RUN = 200


def read_bounces(slot: str) -> int:
    """Every 5 minutes: read the bounce mailbox (app.notifications.mailbox), apply every delivery
    status notification in it to the e-mail it is about (app.notifications.receipts), commit,
    then delete what was read. Nothing configured: nothing to do. A mailbox that cannot be
    opened fails the run (the operator's job list shows it); a run that fails part way deletes
    nothing, and the next one reads the same reports again, which change nothing twice.
    Returns how many messages moved."""
    mailbox = bounce_mailbox_for(current_app)
    if mailbox is None:
        return 0
    read = moved = 0
    with mailbox.session() as box:
        for mail in box.messages(BOUNCES_PER_RUN):
            read += 1
            for report in parse_dsn(mail.raw):
                if apply_bounce(report) is Applied.UPDATED:
                    moved += 1
            box.delete(mail.key)
        db.session.commit()  # the outcomes first: the mailbox deletes them only after this
    if read:
        log.info("bounce mailbox: %s read, %s message(s) moved", read, moved)
    return moved


# Merchant notices (payment results, refunds, ECTicket use-status): the two job steps every kind
# takes, with its own claim / deliver / finish (app.notifications.outgoing underneath).

def queue_due_notices(sweep: Callable[[], int], due_ids: Callable[[], list[int]],
                      enqueue_send: Callable[[int], object], label: str) -> int:
    """Take back tries whose sender died, queue the feature's sending job for every notice due
    (`enqueue_send`), commit. How many were queued."""
    taken_back = sweep()
    due = due_ids()
    for notice_id in due:
        enqueue_send(notice_id)
    db.session.commit()
    if taken_back:
        log.info("%s: %s taken back, %s queued", label, taken_back, len(due))
    return len(due)


def send_claimed_notice(notice_id: int, trigger: str, claim: Callable[..., Any],
                        deliver: Callable[[Any], Any], finish: Callable[[Any, Any], str],
                        label: str) -> str:
    """One try of one notice: claim it (committed before the POST), POST it outside any
    transaction, then write and log the outcome; "skipped" when it is not to be sent now or
    another worker holds it."""
    held = claim(notice_id, trigger=trigger)
    db.session.commit()
    if held is None:
        return "skipped"
    reply = deliver(held)
    outcome = finish(held, reply)
    db.session.commit()
    log.info("%s %s (%s): %s", label, notice_id, trigger, outcome)
    return outcome
