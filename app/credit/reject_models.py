"""拒絕名單 (reject lists): card numbers and client IPs a store refuses at its checkout.

A card number is never kept: only its keyed digest (app.credentials.digest, kind "card", under
the code key) and its last four digits for the page. Each entry has a problem category and an
on/off switch (啟用 = refused)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class RejectCategory(enum.Enum):
    FRAUD = "fraud"
    DISPUTE = "dispute"
    ABNORMAL = "abnormal"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"fraud": "盜刷", "dispute": "爭議款", "abnormal": "異常交易", "other": "其他"}[self.value]

    @classmethod
    def by_label(cls, text: str) -> RejectCategory | None:
        return next((c for c in cls if c.label == text or c.value == text), None)


class RejectedCard(StoreScoped, db.Model):
    __tablename__ = "credit_rejected_cards"
    __table_args__ = (UniqueConstraint("store_id", "card_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_digest: Mapped[str] = mapped_column(String(64))  # credentials.digest(key, "card", number)
    card_last4: Mapped[str] = mapped_column(String(4))
    category: Mapped[RejectCategory] = mapped_column(enum_type(RejectCategory,
                                                               "credit_reject_category"))
    active: Mapped[bool] = mapped_column(default=True)
    declines: Mapped[int] = mapped_column(default=0)  # checkouts refused because of it
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class RejectedIp(StoreScoped, db.Model):
    __tablename__ = "credit_rejected_ips"
    __table_args__ = (UniqueConstraint("store_id", "ip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(45))  # normalised (ipaddress)
    category: Mapped[RejectCategory] = mapped_column(enum_type(RejectCategory,
                                                               "credit_reject_category"))
    active: Mapped[bool] = mapped_column(default=True)
    declines: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
