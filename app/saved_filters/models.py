"""A saved filter: one account's named query of one report page, in the store it was saved in
(none for an operator's console pages)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db
from app.tenancy import StoreScoped


class SavedFilter(StoreScoped, db.Model):
    __tablename__ = "saved_filters"
    __table_args__ = (
        UniqueConstraint("account_id", "report", "name"),
        Index("ix_saved_filters_account_id_report", "account_id", "report"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the store the filter was saved in (a merchant page); None on the operator console
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"),
                                                 index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    report: Mapped[str] = mapped_column(String(80))  # the page's endpoint, e.g. reports.tickets
    name: Mapped[str] = mapped_column(String(30))
    query: Mapped[str] = mapped_column(String(1000))  # sanitised (rules.sanitised), urlencoded
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
