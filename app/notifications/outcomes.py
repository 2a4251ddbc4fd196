"""A notice's outcome in its order's history: when a message of an order is delivered or fails
(the bad address at queueing, the last failed attempt, the gateway's receipt, a bounce), one
history entry on the order, in the same transaction as the change of status.

The order is named by its table and id (the order's own model lives in a layer above this one).
"""

from __future__ import annotations

from app import history
from app.history import Actor
from app.notifications.kinds import CHANNEL_NAMES, kind_label
from app.notifications.models import Message, MessageStatus
from app.notifications.rules import OUTCOME_ACTIONS

ORDERS = "orders"
REASON_LIMIT = 300


def describe(message: Message) -> str:
    """Which notice: 簡訊 0912345678（發行通知）."""
    return (f"{CHANNEL_NAMES[message.channel]} {message.to_address or '（無收件者）'}"
            f"（{kind_label(message.kind)}）")


def record_outcome(message: Message, old: MessageStatus, new: MessageStatus, *,
                   reason: str = "", actor: Actor | None = None) -> int:
    """One history entry on the message's order when it reached DELIVERED or FAILED; nothing
    for a message of no order or another status. How many entries were written (0 or 1)."""
    action = OUTCOME_ACTIONS.get(new)
    if action is None or message.order_id is None:
        return 0
    text = describe(message) + (f"：{reason}" if reason else "")
    return history.record_many(
        ORDERS, action,
        [{"subject_id": message.order_id, "store_id": message.store_id,
          "changes": {"status": [old.label, new.label]}}],
        actor=actor, reason=text[:REASON_LIMIT])
