"""Card refunds (退刷): negative entries against a closed (or close-requested) card
transaction, pending until the next daily close settles them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.checkout.models import CardTransaction
from app.db import db, enum_type
from app.tenancy import StoreScoped


class RefundStatus(enum.Enum):
    PENDING = "pending"  # 待結算: undone by a cancel close (E) until the next daily close
    SETTLED = "settled"  # 已結算: taken by a daily close, final
    CANCELLED = "cancelled"  # 已取消: undone by a cancel close

    @property
    def label(self) -> str:
        return {"pending": "待結算", "settled": "已結算", "cancelled": "已取消"}[self.value]


class CardRefund(StoreScoped, db.Model):
    """One refund of (part of) a card transaction. The non-cancelled refunds of a transaction
    never add up to more than its amount (app.credit.refunds locks the transaction to sum)."""

    __tablename__ = "card_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_card_refunds_transaction_status", "transaction_id", "status"),
        Index("ix_card_refunds_status_created", "status", "created_at"),
        # the card balance a refund is checked against (app.credit.balance): one store's
        # pending refunds and those settled since its last payout, however many it has made
        Index("ix_card_refunds_store_status_settled", "store_id", "status", "settled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("card_transactions.id"))
    amount: Mapped[int]
    status: Mapped[RefundStatus] = mapped_column(enum_type(RefundStatus, "card_refund_status"),
                                                 default=RefundStatus.PENDING)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    settled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    transaction: Mapped[CardTransaction] = relationship()
