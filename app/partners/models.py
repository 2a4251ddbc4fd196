"""Cross-store relations (可核銷商店 / 聯合票券發行單位): issuer `store_id` lets `partner_store_id`
redeem the products it grants."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db, enum_type
from app.stores.models import Store
from app.tenancy import StoreScoped


class RelationStatus(enum.Enum):
    OPEN = "open"  # 開啟
    DISSOLVED = "dissolved"  # 解除

    @property
    def label(self) -> str:
        return {"open": "開啟", "dissolved": "解除關聯"}[self.value]


class DissolvedBy(enum.Enum):
    ISSUER = "issuer"
    PARTNER = "partner"


class PartnerRelation(StoreScoped, db.Model):
    __tablename__ = "partner_relations"
    __table_args__ = (
        UniqueConstraint("store_id", "partner_store_id"),
        CheckConstraint("store_id <> partner_store_id", name="not_self"),
        Index("ix_partner_relations_partner_store_id", "partner_store_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)  # the issuer
    partner_store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    status: Mapped[RelationStatus] = mapped_column(
        enum_type(RelationStatus, "relation_status"), default=RelationStatus.OPEN)
    dissolved_by: Mapped[DissolvedBy | None] = mapped_column(enum_type(DissolvedBy, "dissolved_by"))
    # Set when the partner dissolves: the issuer cannot re-open until the operator unblocks.
    blocked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    issuer: Mapped[Store] = relationship(foreign_keys=[store_id])
    partner: Mapped[Store] = relationship(foreign_keys=[partner_store_id])

    @property
    def is_open(self) -> bool:
        return self.status is RelationStatus.OPEN
