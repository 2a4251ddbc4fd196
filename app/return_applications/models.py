"""A consumer's return application for one ticket; the merchant handles it with the normal
return (which marks the application returned) or declines it with a reason."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class ApplicationStatus(enum.Enum):
    PENDING = "pending"  # 待處理
    RETURNED = "returned"  # 已退貨
    DECLINED = "declined"  # 不予退貨

    @property
    def label(self) -> str:
        return {"pending": "待處理", "returned": "已退貨", "declined": "不予退貨"}[self.value]


class ReturnApplication(StoreScoped, db.Model):
    __tablename__ = "return_applications"
    __table_args__ = (
        Index("ix_return_applications_store_id_created_at", "store_id", "created_at"),
        Index("ix_return_applications_ticket_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    applicant_name: Mapped[str] = mapped_column(String(50), default="")
    applicant_mobile: Mapped[str] = mapped_column(String(20), default="")
    applicant_email: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "return_application_status"), default=ApplicationStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decline_reason: Mapped[str] = mapped_column(Text, default="")
