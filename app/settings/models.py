"""Operation settings (7-1 操作設定管理): basic settings and ticket-page information."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db
from app.tenancy import StoreScoped
from app.uploads.models import Upload


class StoreSettings(StoreScoped, db.Model):
    __tablename__ = "store_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), unique=True)
    # 基本設定
    sms_on: Mapped[bool] = mapped_column(default=False)
    online_return_application: Mapped[bool] = mapped_column(default=False)  # 電子票券申請退貨
    # 櫃台離線核銷: the counter keeps a signed snapshot to redeem from while the network is down
    offline_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    basic_completed_at: Mapped[datetime | None]
    # 票券頁面資訊
    cs_phone: Mapped[str] = mapped_column(String(30), default="")
    cs_email: Mapped[str] = mapped_column(String(200), default="")
    line_url: Mapped[str] = mapped_column(String(300), default="")
    facebook_url: Mapped[str] = mapped_column(String(300), default="")
    instagram_url: Mapped[str] = mapped_column(String(300), default="")
    rights_statement: Mapped[str] = mapped_column(Text, default="")  # 權益說明 (pickup vouchers)
    logo_upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    banner_upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    ticket_page_completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    logo: Mapped[Upload | None] = relationship(foreign_keys=[logo_upload_id])
    banner: Mapped[Upload | None] = relationship(foreign_keys=[banner_upload_id])
