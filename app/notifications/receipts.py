"""Delivery receipts: whether a message handed over actually reached its recipient.

Two sources, one use case (`apply_report`):

- The SMS gateway's status callback, `POST /notifications/sms/status` (app.notifications.views):
  a JSON body `{"id": "<the gateway's id of the SMS>", "status": "delivered" | "failed" | …,
  "reason": "…"}` signed like the platform's other notices: `X-Ectix-Timestamp` (Unix seconds,
  at most TOLERANCE seconds from now) and `X-Ectix-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>." + the exact body under SMS_STATUS_SECRET>`, compared in constant time.
  `parse_callback` checks all of it and never raises on junk.
- Delivery status notifications read from the bounce mailbox (app.notifications.bounces and
  .mailbox; the job in app.notifications.jobs).

A report finds its message by the provider's reference (the gateway's id; the e-mail's
Message-ID, with the recipient it names), never by our id, so no caller can name another
store's message. It moves the message only forward (app.notifications.rules) with a
compare-and-set on the status it read, and writes the order's history entry in the same
transaction: the same report twice, or a late one, changes nothing.

A failed SMS stays billable: the gateway took (and charged for) it. Flushes, never commits.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from app import clock
from app.db import db
from app.history import Actor
from app.notifications import rules
from app.notifications.bounces import BounceReport
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.outcomes import record_outcome
from app.notifications.rules import GATEWAY_STATUSES, Report

SIGNATURE_HEADER = "X-Ectix-Signature"
TIMESTAMP_HEADER = "X-Ectix-Timestamp"
TOLERANCE = 300  # seconds between the callback's timestamp and our clock
MAX_BODY = 16 * 1024
REF_LIMIT = 100  # Message.provider_ref
REASON_LIMIT = 300

GATEWAY = Actor.system("簡訊閘道")
MAIL_SERVER = Actor.system("郵件伺服器退信")


class Applied(enum.Enum):
    UPDATED = "updated"  # the message moved
    UNCHANGED = "unchanged"  # known, but the report changes nothing (again, late, on its way)
    UNKNOWN = "unknown"  # no message has this reference (for this recipient)
    AMBIGUOUS = "ambiguous"  # more than one has it: none is changed


# The signature -----------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, under the secret, of the timestamp, a dot, the body."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers a gateway sends with its callback (the simulator uses this too)."""
    return {"Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verified(secret: str, timestamp: str, body: bytes, received: str, *, now: int) -> bool:
    """The signature, in constant time, of a timestamp at most TOLERANCE seconds away."""
    if not secret or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > TOLERANCE:
        return False
    expected = signature(secret, int(timestamp), body).encode("ascii")
    return hmac.compare_digest(expected, received.encode("utf-8", "replace"))


# The callback's body --------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusCallback:
    provider_ref: str
    status: str  # the gateway's word
    reason: str

    @property
    def report(self) -> Report:
        return GATEWAY_STATUSES[self.status]


class BadCallback(Exception):
    """A body that is not a status callback; `message` says why (for the gateway's log)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_callback(body: bytes) -> StatusCallback:
    """The callback's fields, checked; BadCallback for anything else (never another error)."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadCallback("body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadCallback("body is not a JSON object")
    ref, status, reason = data.get("id"), data.get("status"), data.get("reason", "")
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not 0 < len(ref) <= REF_LIMIT or not ref.isprintable():
        raise BadCallback(f"id must be 1..{REF_LIMIT} printable characters")
    if not isinstance(status, str) or status.lower() not in GATEWAY_STATUSES:
        raise BadCallback("status must be one of " + ", ".join(GATEWAY_STATUSES))
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or "\x00" in reason:
        raise BadCallback("reason must be text")
    return StatusCallback(ref, status.lower(), " ".join(reason.split())[:REASON_LIMIT])


# Applying a report ---------------------------------------------------------------------------

def apply_report(channel: Channel, provider_ref: str, report: Report, *, reason: str = "",
                 recipient: str | None = None, actor: Actor | None = None) -> Applied:
    """Move the message of `channel` the provider knows as `provider_ref` (and, when given,
    sent to `recipient`) as `report` says, with the order's history entry. Flushes."""
    if not provider_ref:
        return Applied.UNKNOWN
    stmt = select(Message).where(Message.channel == channel, Message.provider_ref == provider_ref)
    found = [m for m in db.session.scalars(
        stmt.limit(3).execution_options(unscoped=True, populate_existing=True))
        if recipient is None or m.to_address.casefold() == recipient.casefold()]
    if not found:
        return Applied.UNKNOWN
    if len(found) > 1:
        return Applied.AMBIGUOUS
    message = found[0]
    old = message.status
    new = rules.after_report(old, report)
    if new is None:
        return Applied.UNCHANGED
    now = clock.now()
    values: dict[str, Any] = {"status": new}
    if new is MessageStatus.DELIVERED:
        values["delivered_at"] = now
    else:
        values |= {"failed_at": now, "error": _failure(channel, reason)}
    moved = db.session.execute(
        update(Message).where(Message.id == message.id, Message.status == old).values(**values)
        .execution_options(synchronize_session=False, unscoped=True)).rowcount
    if not moved:
        return Applied.UNCHANGED  # another report moved it first
    record_outcome(message, old, new, reason=values.get("error", ""), actor=actor)
    db.session.flush()
    db.session.expire(message)  # read again as the UPDATE left it
    return Applied.UPDATED


def _failure(channel: Channel, reason: str) -> str:
    if channel is Channel.SMS:
        return f"簡訊閘道回報未送達：{reason or '未說明原因'}"[:REASON_LIMIT]
    return reason[:REASON_LIMIT] or "郵件伺服器退信：無法投遞"


def apply_callback(callback: StatusCallback) -> Applied:
    """The gateway's status callback, applied."""
    return apply_report(Channel.SMS, callback.provider_ref, callback.report,
                        reason=callback.reason, actor=GATEWAY)


def apply_bounce(report: BounceReport) -> Applied:
    """One recipient's report of a DSN, applied to the e-mail it is about."""
    return apply_report(Channel.EMAIL, report.message_id, report.report,
                        reason=report.reason, recipient=report.recipient, actor=MAIL_SERVER)
