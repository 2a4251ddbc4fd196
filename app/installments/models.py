"""Installment orders (分期核銷訂單), their periods (各期序號), the batches they are issued in, the
store's settings (the refund-notification URL and the domains the operator allowed for it), the
refund notices sent to that URL, and the paid orders not yet issued (未發行訂單)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db, enum_type
from app.installments.status import Amounts, PeriodStatus, guarantee_end_text
from app.issuance.models import BatchStatus
from app.notifications.models import NoticeAttemptColumns, NoticeColumns
from app.notifications.models import NoticeStatus as NoticeStatus  # re-exported
from app.tenancy import StoreScoped
from app.tickets.models import BigId


class InstallmentSettings(StoreScoped, db.Model):
    """One row per store: 發行前置設定."""

    __tablename__ = "installment_settings"
    __table_args__ = (UniqueConstraint("store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_notify_url: Mapped[str] = mapped_column(String(500), default="")  # 退款結果主動通知 URL
    # The key the refund notices are signed with (HMAC-SHA256), shown to the merchant.
    notify_secret: Mapped[str] = mapped_column(String(64), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class AllowedDomain(StoreScoped, db.Model):
    """A host the operator opened for a store's refund-notification URL (URL Domain 防火牆)."""

    __tablename__ = "installment_allowed_domains"
    __table_args__ = (UniqueConstraint("store_id", "host"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(253))  # lower case, no port
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class InstallmentBatch(StoreScoped, db.Model):
    """An upload or API call issuing installment orders, all-or-nothing."""

    __tablename__ = "installment_batches"
    __table_args__ = (UniqueConstraint("store_id", "import_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_no: Mapped[str] = mapped_column(String(30))  # 匯入單號
    source: Mapped[str] = mapped_column(String(10), default="upload")  # upload / api
    status: Mapped[BatchStatus] = mapped_column(
        enum_type(BatchStatus, "batch_status"), default=BatchStatus.PREVIEW)
    rows: Mapped[list] = mapped_column(default=list)  # the checked rows, each with its "errors"
    error_count: Mapped[int] = mapped_column(default=0)
    order_count: Mapped[int] = mapped_column(default=0)
    issued_count: Mapped[int] = mapped_column(default=0)  # progress while issuing
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_until: Mapped[datetime | None]


class InstallmentOrder(StoreScoped, db.Model):
    __tablename__ = "installment_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "merchant_order_no"),
        Index("ix_installment_orders_store_id_created_at", "store_id", "created_at"),
        Index("ix_installment_orders_store_id_returned_at", "store_id", "returned_at",
              postgresql_where=text("returned_at IS NOT NULL"),
              sqlite_where=text("returned_at IS NOT NULL")),
        # the refund-notice job: refunded orders with a notification URL
        Index("ix_installment_orders_refunded_at", "refunded_at",
              postgresql_where=text("refunded_at IS NOT NULL AND refund_notify_url <> ''"),
              sqlite_where=text("refunded_at IS NOT NULL AND refund_notify_url <> ''")),
        Index("ix_installment_orders_returned_at", "returned_at",
              postgresql_where=text("returned_at IS NOT NULL"),
              sqlite_where=text("returned_at IS NOT NULL")),
        CheckConstraint("total_amount >= period_count", name="total_covers_periods"),
        CheckConstraint("period_count > 0", name="period_count_positive"),
        CheckConstraint("return_fee IS NULL OR (return_fee >= 0 AND return_fee <= total_amount)",
                        name="return_fee_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("installment_batches.id"), index=True)
    order_no: Mapped[str] = mapped_column(String(24), unique=True)  # ECT訂單編號
    merchant_order_no: Mapped[str] = mapped_column(String(25))  # 廠商訂單編號
    purchaser_name: Mapped[str] = mapped_column(String(50), default="")
    purchaser_mobile: Mapped[str] = mapped_column(String(20), default="")
    purchaser_email: Mapped[str] = mapped_column(String(200), default="")
    total_amount: Mapped[int]
    period_count: Mapped[int]  # 期數, from the contract at issuance
    period_days: Mapped[int]  # days between periods, from the contract at issuance
    first_date: Mapped[date]  # the first period's expected redemption date
    refund_notify_url: Mapped[str] = mapped_column(String(500), default="")  # in force at issue
    source: Mapped[str] = mapped_column(String(10), default="upload")  # upload / api
    created_at: Mapped[datetime] = mapped_column(default=clock.now)  # issued
    # The order's return (訂單退貨): set by a return, cleared by its cancellation.
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    return_fee: Mapped[int | None]  # 退貨手續費 (the merchant's), split over the periods
    return_reason: Mapped[str] = mapped_column(Text, default="")
    refunded_at: Mapped[datetime | None]  # the bank refunded every returned period

    periods: Mapped[list[InstallmentPeriod]] = relationship(
        order_by="InstallmentPeriod.number", back_populates="order")

    @property
    def amounts(self) -> Amounts:
        return Amounts.of([(p.status, p.face_value) for p in self.periods])

    @property
    def guarantee_end_label(self) -> str:
        """履約保障到期日 (`status.guarantee_end_text`) from the loaded periods."""
        return guarantee_end_text(sum(p.status is PeriodStatus.REDEEMED for p in self.periods),
                                  len(self.periods),
                                  max((p.expected_date for p in self.periods), default=None))


class InstallmentPeriod(StoreScoped, db.Model):
    __tablename__ = "installment_periods"
    __table_args__ = (
        UniqueConstraint("order_id", "number"),
        # the daily job: unused periods by expected date, across stores
        Index("ix_installment_periods_due", "expected_date",
              postgresql_where=text("status = 'unused'"), sqlite_where=text("status = 'unused'")),
        Index("ix_installment_periods_store_id_status", "store_id", "status"),
        Index("ix_installment_periods_status_changed", "status", "status_changed_at"),
        # the home's 核銷統計 (redeemed in a period) and the report's 預計核銷日 query
        Index("ix_installment_periods_store_id_redeemed_at", "store_id", "redeemed_at",
              postgresql_where=text("redeemed_at IS NOT NULL"),
              sqlite_where=text("redeemed_at IS NOT NULL")),
        Index("ix_installment_periods_store_id_expected_date", "store_id", "expected_date"),
        CheckConstraint("face_value > 0", name="face_value_positive"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("return_fee IS NULL OR (return_fee >= 0 AND return_fee <= face_value)",
                        name="return_fee_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("installment_orders.id"))
    number: Mapped[int]  # 第幾期, from 1
    serial: Mapped[str] = mapped_column(String(16), unique=True)  # 序號
    face_value: Mapped[int]
    expected_date: Mapped[date]  # 預計核銷日
    status: Mapped[PeriodStatus] = mapped_column(
        enum_type(PeriodStatus, "period_status"), default=PeriodStatus.UNUSED)
    status_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)  # the order's, for the bank
    redeemed_at: Mapped[datetime | None]  # moved to 核銷中 by the daily job
    returned_at: Mapped[datetime | None]  # the order's return, while it holds
    return_fee: Mapped[int | None]  # this period's share of the order's handling fee

    order: Mapped[InstallmentOrder] = relationship(back_populates="periods")


class RefundNotice(NoticeColumns, StoreScoped, db.Model):
    """The refund notification of one order (退款結果主動通知), sent until the merchant says 1|OK.
    Its url, payload (the form fields, before signing), status and schedule: NoticeColumns."""

    __tablename__ = "installment_refund_notices"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_installment_refund_notices_due", "status", "next_attempt_at"),
    )
    notice_url_size = 500
    notice_status_name = "notice_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("installment_orders.id"))


class NoticeAttempt(NoticeAttemptColumns, db.Model):
    """One POST of a refund notice and what came back."""

    __tablename__ = "installment_notice_attempts"
    notice_table = "installment_refund_notices"
    attempt_error_size = 300  # connection error, timeout

    id: Mapped[int] = mapped_column(primary_key=True)


class UnissuedOrder(StoreScoped, db.Model):
    """A paid installment order not yet issued (8-2 未發行訂單), with its cardholder's details."""

    __tablename__ = "installment_unissued_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "merchant_order_no"),
        Index("ix_installment_unissued_orders_store_id_paid_at", "store_id", "paid_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_order_no: Mapped[str] = mapped_column(String(25))
    trade_no: Mapped[str] = mapped_column(String(20), default="")  # the card transaction's number
    total_amount: Mapped[int]
    purchaser_name: Mapped[str] = mapped_column(String(50), default="")
    purchaser_mobile: Mapped[str] = mapped_column(String(20), default="")
    purchaser_email: Mapped[str] = mapped_column(String(200), default="")
    cardholder_name: Mapped[str] = mapped_column(String(50), default="")
    card_first6: Mapped[str] = mapped_column(String(6), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    auth_code: Mapped[str] = mapped_column(String(10), default="")
    paid_at: Mapped[datetime] = mapped_column(default=clock.now)
    reason: Mapped[str] = mapped_column(String(200), default="")  # why it is not issued yet
    issued_order_id: Mapped[int | None] = mapped_column(ForeignKey("installment_orders.id"))
