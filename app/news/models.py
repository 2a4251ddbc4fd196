"""Operator news (最新消息), shown in every merchant's message centre (訊息中心)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db


class NewsItem(db.Model):
    __tablename__ = "news"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20), default="公告")  # 公告 / 維護 / 服務通知
    published_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


def published():  # noqa: ANN201 - a select() of the news merchants may see now
    """News whose publication time has come, newest first (future items are scheduled)."""
    from sqlalchemy import select

    return (select(NewsItem).where(NewsItem.published_at <= clock.now())
            .order_by(NewsItem.published_at.desc(), NewsItem.id.desc()))
