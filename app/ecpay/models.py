"""A store's integration keys (系統介接設定): HashKey/HashIV pairs, sealed at rest, and the
allowed IPs for server-to-server calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.tenancy import StoreScoped


class KeyPair(StoreScoped, db.Model):
    """One HashKey/HashIV pair of a store. The current pair has no `retired_at`; a replaced pair
    keeps working for a grace period after it (app.ecpay.keys.GRACE)."""

    __tablename__ = "ecpay_key_pairs"
    __table_args__ = (Index("ix_ecpay_key_pairs_store_retired", "store_id", "retired_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "" the store's shared pair (card checkout, DoAction, and ECTicket when it has no own pair);
    # "ticket" a pair for the ECTicket API only (app.ecpay.keys.PURPOSES).
    purpose: Mapped[str] = mapped_column(String(10), default="", server_default="")
    sealed: Mapped[str] = mapped_column(Text)  # credentials.seal_secret: AES-GCM under the code key
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    retired_at: Mapped[datetime | None]


class IntegrationSettings(StoreScoped, db.Model):
    """Other integration settings of a store: the allowed source IPs of server-to-server calls
    (empty: any)."""

    __tablename__ = "ecpay_integration_settings"
    __table_args__ = (UniqueConstraint("store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    allowed_ips: Mapped[str] = mapped_column(String(2000), default="")  # one IP or CIDR a line
    # 自動關帳: authorised card transactions are closed each evening (20:15 Taipei).
    auto_close: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
