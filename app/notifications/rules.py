"""The life of a message (MessageStatus) and what a delivery report does to it. Pure: no Flask,
no database.

    queued ──attempt claimed / retry──▶ queued
    queued ──handed to SMTP or the gateway──▶ sent ──receipt: delivered──▶ delivered
    queued ──no transport configured──▶ recorded          └──receipt: failed, bounce──▶ failed
    queued ──attempts used up, refused, bad address──▶ failed

Recorded, delivered and failed are final: nothing moves them again. A delivery report only
moves a message forward, so a report that comes twice, late or out of order changes nothing.
A failed notice is not sent again; a re-send (補發) is a new message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from app.notifications.models import MessageStatus

Q, S, R, D, F = (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.RECORDED,
                 MessageStatus.DELIVERED, MessageStatus.FAILED)

# Every allowed move, from → to. Anything not here is refused.
TRANSITIONS: Mapping[MessageStatus, frozenset[MessageStatus]] = MappingProxyType({
    Q: frozenset({Q, S, R, F}),
    S: frozenset({D, F}),
    R: frozenset(),
    D: frozenset(),
    F: frozenset(),
})
FINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)

# The history action written on the message's order when it reaches one of these.
OUTCOME_ACTIONS: Mapping[MessageStatus, str] = MappingProxyType({
    D: "notice_delivered",
    F: "notice_failed",
})


class IllegalMove(Exception):
    """A move the table does not allow (a bug in the caller, never a user's input)."""


def allowed(current: MessageStatus, new: MessageStatus) -> bool:
    return new in TRANSITIONS[current]


def check(current: MessageStatus, new: MessageStatus) -> MessageStatus:
    """`new`, when the move from `current` is allowed; IllegalMove otherwise."""
    if not allowed(current, new):
        raise IllegalMove(f"message status {current.value} → {new.value} is not allowed")
    return new


def may_resend(status: MessageStatus) -> bool:
    """A notice is offered again (as a new message) only when it failed."""
    return status is F


class Report(enum.Enum):
    """What a provider says about a message it took."""

    ON_ITS_WAY = "on_its_way"  # accepted, queued, handed to the carrier, delayed
    DELIVERED = "delivered"
    FAILED = "failed"


_REPORTED = {Report.ON_ITS_WAY: None, Report.DELIVERED: D, Report.FAILED: F}


def after_report(current: MessageStatus, report: Report) -> MessageStatus | None:
    """The status `report` moves a message at `current` to, or None when it changes nothing:
    the message is still on its way, it is already there (the same report again), or it is
    final (a late or contrary report). Reports only move a message forward."""
    target = _REPORTED[report]
    if target is None or target is current or not allowed(current, target):
        return None
    return target


# The words of the SMS gateway's status callback (its `status` field).
GATEWAY_STATUSES: Mapping[str, Report] = MappingProxyType({
    "accepted": Report.ON_ITS_WAY, "queued": Report.ON_ITS_WAY, "sent": Report.ON_ITS_WAY,
    "buffered": Report.ON_ITS_WAY,
    "delivered": Report.DELIVERED,
    "failed": Report.FAILED, "undelivered": Report.FAILED, "rejected": Report.FAILED,
    "expired": Report.FAILED,
})

# The Action field of a delivery status notification (RFC 3464 §2.3.3), per recipient.
DSN_ACTIONS: Mapping[str, Report] = MappingProxyType({
    "failed": Report.FAILED,
    "delayed": Report.ON_ITS_WAY,  # still trying
    "relayed": Report.ON_ITS_WAY,  # passed on to a system that gives no reports: not known yet
    "delivered": Report.DELIVERED,
    "expanded": Report.DELIVERED,  # delivered to a list, which passes it on
})
