"""The daily return-fee settlement, monthly bills and their lines, adjustments and payments.
All money is whole NTD in integer columns; a settlement's exact (unrounded) sum is kept in
ten-thousandths of a dollar, also an integer."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.billing.models import FeeKind
from app.db import db, enum_type
from app.tenancy import StoreScoped
from app.tickets.models import BigId

E4 = 10_000  # exact amounts are kept in units of 1/10,000 NTD


class SettlementRun(db.Model):
    """One business day's return-fee settlement, claimed once (the unique day)."""

    __tablename__ = "settlement_runs"
    __table_args__ = (UniqueConstraint("day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    stores: Mapped[int] = mapped_column(default=0)
    lines: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ReturnFeeLine(StoreScoped, db.Model):
    """One returned pickup voucher (or installment order) in a day's return processing fee:
    what it was charged on and its exact, unrounded share. The day's charge is their sum,
    rounded half up once (6-3 退貨作業費報表 lists these)."""

    __tablename__ = "return_fee_lines"
    __table_args__ = (
        Index("ix_return_fee_lines_store_id_day", "store_id", "day"),
        UniqueConstraint("ticket_id"),
        UniqueConstraint("installment_order_id", "day"),
        CheckConstraint("(ticket_id IS NULL) <> (installment_order_id IS NULL)", name="one_subject"),
        CheckConstraint("base_amount >= 0 AND fee_e4 >= 0", name="amounts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    day: Mapped[date]  # the day of the return
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    installment_order_id: Mapped[int | None] = mapped_column(ForeignKey("installment_orders.id"))
    base_amount: Mapped[int]  # the face value, or the order's returned amount
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("fee_rates.id"))
    fee_e4: Mapped[int] = mapped_column(BigInteger)  # exact fee in 1/10,000 NTD


class Bill(StoreScoped, db.Model):
    """A store's bill for one month (出帳日: the 1st of the next month). Immutable once issued:
    a correction is an adjustment line on a later bill."""

    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("store_id", "month"),
        Index("ix_bills_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date]  # the first day of the month billed
    bill_day: Mapped[date]  # 出帳日
    amount: Mapped[int]  # the sum of its lines (may be negative after a credit adjustment)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    lines: Mapped[list[BillLine]] = relationship(order_by="BillLine.id", back_populates="bill")


class BillLine(db.Model):
    __tablename__ = "bill_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    kind: Mapped[FeeKind | None] = mapped_column(enum_type(FeeKind, "bill_line_kind"))  # None: adjustment
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("fee_rates.id"))
    unit_amount: Mapped[int | None]  # a fixed rate's amount per unit
    percent_bp: Mapped[int | None]  # or a percentage rate
    first_day: Mapped[date | None]  # the rate period within the month
    last_day: Mapped[date | None]
    quantity: Mapped[int] = mapped_column(default=0)
    amount: Mapped[int]
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("bill_adjustments.id"))
    label: Mapped[str] = mapped_column(String(200), default="")

    bill: Mapped[Bill] = relationship(back_populates="lines")


class BillAdjustment(StoreScoped, db.Model):
    """A correction recorded by the operator (who, why), carried on the store's next bill."""

    __tablename__ = "bill_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[int]  # positive: charged; negative: credited
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))  # the bill carrying it


class Payment(StoreScoped, db.Model):
    """A payment the operator recorded; payments settle the oldest bills first."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payments_store_id_paid_on", "store_id", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[int]
    paid_on: Mapped[date]
    reference: Mapped[str] = mapped_column(String(60), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class BillStatus(enum.Enum):
    PAID = "paid"
    UNPAID = "unpaid"

    @property
    def label(self) -> str:
        return {"paid": "已繳費", "unpaid": "未繳費"}[self.value]
