"""Checkout orders (one AioCheckOut request each), the card transactions they create, and the
result notices (付款結果通知) sent to the merchant's ReturnURL."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db, enum_type
from app.notifications.models import NoticeAttemptColumns, NoticeColumns
from app.notifications.models import NoticeStatus as NoticeStatus  # re-exported
from app.tenancy import StoreScoped


class OrderStatus(enum.Enum):
    PENDING = "pending"  # waiting for the consumer's card
    PAID = "paid"  # a card transaction was authorised
    FAILED = "failed"  # declined and given up (by the consumer, or locked after too many declines)

    @property
    def label(self) -> str:
        return {"pending": "待付款", "paid": "已付款", "failed": "付款失敗"}[self.value]


class CheckoutOrder(StoreScoped, db.Model):
    """One accepted AioCheckOut request: the merchant's fields as posted and what became of it.

    `is_ticket_order` is fixed when the order is accepted (app.checkout.rules.is_ticket_order):
    ticket orders are paid in one go and, once paid, wait to be issued (未發行訂單)."""

    __tablename__ = "checkout_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "merchant_trade_no"),
        UniqueConstraint("trade_no"),
        UniqueConstraint("token"),
        CheckConstraint("total_amount > 0", name="amount_positive"),
        Index("ix_checkout_orders_store_created", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_trade_no: Mapped[str] = mapped_column(String(20))
    trade_no: Mapped[str] = mapped_column(String(20))  # ours: yyMMddHHmmss + 4 digits
    token: Mapped[str] = mapped_column(String(64))  # the cashier page's unguessable address
    total_amount: Mapped[int]
    item_name: Mapped[str] = mapped_column(String(400))
    trade_desc: Mapped[str] = mapped_column(String(200))
    return_url: Mapped[str] = mapped_column(String(200))
    order_result_url: Mapped[str] = mapped_column(String(200), default="")
    client_back_url: Mapped[str] = mapped_column(String(200), default="")
    merchant_trade_date: Mapped[str] = mapped_column(String(20))
    store_code: Mapped[str] = mapped_column(String(20), default="")  # the request's StoreID
    platform_id: Mapped[str] = mapped_column(String(10), default="")
    need_extra_paid_info: Mapped[bool] = mapped_column(default=False)
    credit_installments: Mapped[str] = mapped_column(String(20), default="")  # offered periods
    is_ticket_order: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[dict] = mapped_column(default=dict)  # the request as posted (CheckMacValue too)
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus, "checkout_order_status"),
                                                default=OrderStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)  # TradeDate
    paid_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    # The last decline's reason as the consumer saw it: the RtnMsg of a failed order's result.
    last_decline: Mapped[str] = mapped_column(String(200), default="", server_default="")
    failed_at: Mapped[datetime | None]  # when it became FAILED (its result's PaymentDate)

    transaction: Mapped[CardTransaction | None] = relationship(back_populates="order",
                                                               uselist=False)
    # The ReturnURL notice of a paid order (read only here: app.checkout.notices writes it);
    # a list loads it with its rows (app.checkout.queries).
    notice: Mapped[PaymentNotice | None] = relationship(uselist=False, viewonly=True)


class TransactionStatus(enum.Enum):
    """A card transaction's state (app.credit.states holds the moves)."""

    AUTHORISED = "authorised"  # 已授權
    CLOSE_REQUESTED = "close_requested"  # 要關帳: captured at the next close
    CLOSED = "closed"  # 已關帳
    ABANDONED = "abandoned"  # 已放棄: the authorisation released

    @property
    def label(self) -> str:
        return {"authorised": "已授權", "close_requested": "要關帳", "closed": "已關帳",
                "abandoned": "已放棄"}[self.value]


class CardTransaction(StoreScoped, db.Model):
    """A card authorisation. Never the full card number nor the CVV: the first six and last four
    digits, the brand, the acquirer's authorisation code and serial."""

    __tablename__ = "card_transactions"
    __table_args__ = (
        UniqueConstraint("order_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_card_transactions_store_authorised", "store_id", "authorised_at"),
        Index("ix_card_transactions_store_closed", "store_id", "closed_at"),  # 已關帳列表
        # the card balance (app.credit.balance): one store's close-requested transactions and
        # those closed since its last payout, without reading its whole history
        Index("ix_card_transactions_store_status_closed", "store_id", "status", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("checkout_orders.id"))
    status: Mapped[TransactionStatus] = mapped_column(
        enum_type(TransactionStatus, "card_transaction_status"),
        default=TransactionStatus.AUTHORISED)
    amount: Mapped[int]
    card_first6: Mapped[str] = mapped_column(String(6))
    card_last4: Mapped[str] = mapped_column(String(4))
    # The keyed digest of the full number (app.credentials.digest, kind "card"), so that the
    # card can be put on a reject list later; "" for transactions paid before it was kept.
    card_digest: Mapped[str] = mapped_column(String(64), default="", server_default="")
    brand: Mapped[str] = mapped_column(String(20))
    auth_code: Mapped[str] = mapped_column(String(6))
    auth_serial: Mapped[str] = mapped_column(String(20))  # gwsr
    eci: Mapped[str] = mapped_column(String(2), default="0")
    acquirer: Mapped[str] = mapped_column(String(20))
    installment_periods: Mapped[int] = mapped_column(default=0)  # merchant-paid (stage)
    consumer_installment_periods: Mapped[int] = mapped_column(default=0)  # 自費分期
    charge_fee: Mapped[int] = mapped_column(default=0)  # PaymentTypeChargeFee
    authorised_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The cardholder as typed on the payment page (ticket orders ask for them: the issuance
    # file of 未發行訂單 is made from them).
    holder_name: Mapped[str] = mapped_column(String(50), default="", server_default="")
    holder_mobile: Mapped[str] = mapped_column(String(20), default="", server_default="")
    holder_email: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # False: the daily auto-close leaves it alone (a ticket order until it is issued; any
    # transaction after a cancelled close).
    auto_close: Mapped[bool] = mapped_column(default=True, server_default=true())
    close_requested_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    # The last close that failed (e.g. error_overDate) and when; "" once a close succeeds.
    close_error: Mapped[str] = mapped_column(String(100), default="", server_default="")
    close_failed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")  # 備註
    # When the day-80 notice (the authorisation will be abandoned on day 91) was queued.
    expiry_noticed_at: Mapped[datetime | None]

    order: Mapped[CheckoutOrder] = relationship(back_populates="transaction")


class PaymentNotice(NoticeColumns, StoreScoped, db.Model):
    """The payment result notice of one paid order to its ReturnURL, until `1|OK`. Its url,
    payload (the fields, CheckMacValue included), status and schedule: NoticeColumns."""

    __tablename__ = "checkout_notices"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_checkout_notices_due", "status", "next_attempt_at"),
    )
    notice_url_size = 200
    notice_status_name = "checkout_notice_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("checkout_orders.id"))


class PaymentNoticeAttempt(NoticeAttemptColumns, db.Model):
    """One POST of a payment notice and what came back."""

    __tablename__ = "checkout_notice_attempts"
    notice_table = "checkout_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
