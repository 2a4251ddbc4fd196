"""Issued orders (7-3 C 已發行訂單): one merchant order of a batch (its rows: one or more
products, one purchaser) and its tickets. One order per store and merchant order number: the
database holds rule e (app/issuance/rules.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db
from app.tenancy import StoreScoped
from app.tickets.models import Ticket


class Order(StoreScoped, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "merchant_order_no"),
        Index("ix_orders_store_id_created_at", "store_id", "created_at"),
        Index("ix_orders_purchaser_mobile", "purchaser_mobile"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    order_no: Mapped[str] = mapped_column(String(24), unique=True)  # ECT訂單編號
    merchant_order_no: Mapped[str] = mapped_column(String(25))  # 廠商訂單編號
    delivery_method: Mapped[str] = mapped_column(String(30))
    purchaser_name: Mapped[str] = mapped_column(String(50), default="")
    purchaser_mobile: Mapped[str] = mapped_column(String(20), default="")
    purchaser_email: Mapped[str] = mapped_column(String(200), default="")
    link_token: Mapped[str | None] = mapped_column(String(64), unique=True)  # e-ticket link
    pickup_code: Mapped[str | None] = mapped_column(String(20), unique=True)  # 超商取票代碼
    platform_id: Mapped[str | None] = mapped_column(String(20))
    ticket_count: Mapped[int] = mapped_column(default=0)
    amount: Mapped[int] = mapped_column(default=0)  # the tickets' face values, summed
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    tickets: Mapped[list[Ticket]] = relationship(order_by="Ticket.id")
