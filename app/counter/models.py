"""Offline redemptions (離線核銷): what a counter device redeemed from its snapshot while the
network was down, as the server heard it when the device came back.

One row per redemption the device queued, keyed by the device's idempotency key (unique per
acting store), so a queue replayed twice redeems once and answers the same. The row keeps both
sides' facts: what the device did and when (its clock, its device id, the snapshot it used),
and what the server had when it heard of it (synced, or the conflict and the ticket's status
and the refusal's words). The merchant's 離線核銷衝突 list reads the conflicts.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Account
from app.db import db, enum_type
from app.stores.models import Branch
from app.tenancy import StoreScoped
from app.tickets.models import BigId, Ticket


class Outcome(enum.Enum):
    SYNCED = "synced"  # redeemed on the server as the device did
    CONFLICT = "conflict"  # the server refused it: see `conflict`

    @property
    def label(self) -> str:
        return {"synced": "已同步", "conflict": "衝突"}[self.value]


class Conflict(enum.Enum):
    """Why the server refused a redemption a device made offline."""

    REDEEMED_ELSEWHERE = "redeemed_elsewhere"  # redeemed meanwhile (another counter, the API)
    RETURNED = "returned"  # returned meanwhile
    WINDOW_CLOSED = "window_closed"  # expired, or not yet valid, when the server heard of it
    NOT_ALLOWED = "not_allowed"  # this branch (store, account) may not redeem it (any more)
    UNKNOWN_TICKET = "unknown_ticket"  # no ticket this store may see has that id
    OTHER = "other"

    @property
    def label(self) -> str:
        return CONFLICT_LABELS[self]


CONFLICT_LABELS = {
    Conflict.REDEEMED_ELSEWHERE: "已在他處核銷", Conflict.RETURNED: "已退貨",
    Conflict.WINDOW_CLOSED: "不在可核銷期間", Conflict.NOT_ALLOWED: "無權核銷此票券",
    Conflict.UNKNOWN_TICKET: "查無此票券", Conflict.OTHER: "其他",
}


class OfflineRedemption(StoreScoped, db.Model):
    __tablename__ = "offline_redemptions"
    __table_args__ = (
        UniqueConstraint("store_id", "key"),
        Index("ix_offline_redemptions_store_id_outcome_received_at",
              "store_id", "outcome", "received_at"),
        Index("ix_offline_redemptions_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))  # the acting (redeeming) store
    key: Mapped[str] = mapped_column(String(64))  # the device's idempotency key
    device_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))  # the clerk
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))  # None: head office
    # What the device sent: the ticket id of its snapshot (kept as sent, even when it names no
    # ticket this store may see) and, when it names one, the ticket.
    claimed_ticket_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id"))
    offline_at: Mapped[datetime]  # when the device redeemed it (the device's clock)
    snapshot_at: Mapped[datetime | None]  # when the snapshot it used was made
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, "offline_outcome"))
    conflict: Mapped[Conflict | None] = mapped_column(enum_type(Conflict, "offline_conflict"))
    server_status: Mapped[str | None] = mapped_column(String(30))  # the ticket's, when heard
    server_said: Mapped[str] = mapped_column(Text, default="")  # the refusal, when, where, who
    handled_at: Mapped[datetime | None]  # the merchant marked the conflict handled
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    ticket: Mapped[Ticket | None] = relationship()
    account: Mapped[Account] = relationship(foreign_keys=[account_id])
    branch: Mapped[Branch | None] = relationship()
