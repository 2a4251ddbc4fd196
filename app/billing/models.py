"""Fee rates (ECT作業處理費) and the charges that bills are made of (the bills: `app.bills`)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class FeeKind(enum.Enum):
    SERIAL = "serial"  # 序號處理費, per serial created
    SMS = "sms"  # 票券-簡訊服務費, per message
    PAPER_PRINT = "paper_print"  # 票券-紙本票券印製費, per platform-printed ticket
    RETURN = "return"  # 退貨作業費, per returned ticket (fixed or a percentage of face value)

    @property
    def label(self) -> str:
        return {"serial": "序號處理費", "sms": "票券-簡訊服務費", "paper_print": "票券-紙本票券印製費",
                "return": "退貨作業費"}[self.value]


class FeeRate(StoreScoped, db.Model):
    """A rate in force from `effective_from`; the rate of a day is the latest one in force."""

    __tablename__ = "fee_rates"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("percent_bp IS NULL OR percent_bp BETWEEN 0 AND 10000", name="percent_range"),
        Index("ix_fee_rates_store_id_kind_effective_from", "store_id", "kind", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[FeeKind] = mapped_column(enum_type(FeeKind, "fee_kind"))
    effective_from: Mapped[date]
    amount: Mapped[int] = mapped_column(default=0)  # NTD per unit (tax included)
    percent_bp: Mapped[int | None]  # or a percentage of face value, in basis points (return fee)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Charge(StoreScoped, db.Model):
    """One billable event: serials created, an SMS sent, a ticket platform-printed or returned."""

    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_store_id_day", "store_id", "day"),
        # the daily settlement writes one return and one SMS charge per store and day, once
        Index("uq_charges_settled_store_id_kind_day", "store_id", "kind", "day", unique=True,
              postgresql_where=text("kind = 'return' OR kind = 'sms'"),
              sqlite_where=text("kind = 'return' OR kind = 'sms'")),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[FeeKind] = mapped_column(enum_type(FeeKind, "charge_kind"))
    day: Mapped[date]  # the Taipei business day it belongs to
    quantity: Mapped[int]
    unit_amount: Mapped[int]  # the rate in force that day
    amount: Mapped[int]  # may be refined by the billing run (percentage return fees)
    reference: Mapped[str] = mapped_column(String(60), default="")  # batch:12, message:7, ...
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("fee_rates.id"))  # the rate applied
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
