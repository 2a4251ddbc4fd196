"""Ticket branches (票券分店): internal units a sub-account can be bound to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.tenancy import StoreScoped


class Branch(StoreScoped, db.Model):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))  # 分店編號: unique in the store, immutable
    name: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(default=True)  # 啟用 / 停用
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def status_label(self) -> str:
        return "啟用" if self.enabled else "停用"
