"""An unissued ticket order: one paid checkout order of a store with the issuance service, from
its payment until its tickets are issued or its authorisation is given up."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder
from app.db import db, enum_type
from app.tenancy import StoreScoped


class TicketOrderState(enum.Enum):
    UNISSUED = "unissued"  # paid, waiting to be issued
    ISSUED = "issued"  # its tickets were issued; the authorisation was captured
    ABANDONED = "abandoned"  # the merchant abandoned the authorisation
    CANCELLED = "cancelled"  # not issued in time: the platform abandoned it on T+30


class TicketOrder(StoreScoped, db.Model):
    __tablename__ = "ticket_orders"
    __table_args__ = (
        UniqueConstraint("checkout_order_id"),
        UniqueConstraint("store_id", "merchant_order_no"),
        Index("ix_ticket_orders_store_state_paid", "store_id", "state", "paid_on"),
        Index("ix_ticket_orders_state_paid", "state", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checkout_order_id: Mapped[int] = mapped_column(ForeignKey("checkout_orders.id"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("card_transactions.id"))
    merchant_order_no: Mapped[str] = mapped_column(String(20))  # the MerchantTradeNo
    trade_no: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    item_name: Mapped[str] = mapped_column(String(400))
    holder_name: Mapped[str] = mapped_column(String(50), default="")
    holder_mobile: Mapped[str] = mapped_column(String(20), default="")
    holder_email: Mapped[str] = mapped_column(String(100), default="")
    paid_at: Mapped[datetime] = mapped_column(default=clock.now)
    paid_on: Mapped[date]  # T: the Taipei date of the transaction, which every deadline counts from
    state: Mapped[TicketOrderState] = mapped_column(enum_type(TicketOrderState, "ticket_order_state"),
                                                    default=TicketOrderState.UNISSUED)
    state_changed_at: Mapped[datetime | None]
    issued_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    reminded_7_at: Mapped[datetime | None]  # 待發行通知信, T+7
    reminded_19_at: Mapped[datetime | None]  # 待發行通知信, T+19
    exported_at: Mapped[datetime | None]  # last 【輸出票券發行檔】

    checkout_order: Mapped[CheckoutOrder] = relationship()
    transaction: Mapped[CardTransaction] = relationship()
