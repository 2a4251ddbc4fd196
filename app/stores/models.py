"""Stores (商店: a merchant on the platform), their contracts (合約及費率), their branches (票券分店)
and the cross-store relations between them (可核銷商店 / 聯合票券發行單位)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db, enum_type
from app.tenancy import StoreScoped


class RedemptionMode(enum.Enum):
    REDEEM_AFTER_USE = "redeem_after_use"  # 使用後核銷
    INSTALLMENT = "installment"  # 分期核銷

    @property
    def label(self) -> str:
        return {"redeem_after_use": "使用後核銷", "installment": "分期核銷"}[self.value]


class DeliveryType(enum.Enum):
    CVS = "cvs"  # 超商
    PAPER = "paper"  # 紙本
    ELECTRONIC = "electronic"  # 電子

    @property
    def label(self) -> str:
        return {"cvs": "超商票券", "paper": "紙本票券", "electronic": "電子票券"}[self.value]


class DeliveryMethod(enum.Enum):
    """A delivery method (發行方式); its value is `<type>:<method>` so it names both."""

    IBON = "cvs:ibon"
    PLATFORM_PRINT = "paper:platform_print"
    MERCHANT_PRINT = "paper:merchant_print"
    IMMEDIATE = "electronic:immediate"
    DEFERRED = "electronic:deferred"

    @property
    def delivery_type(self) -> DeliveryType:
        return DeliveryType(self.value.split(":")[0])

    @property
    def method(self) -> str:
        return self.value.split(":")[1]

    @property
    def label(self) -> str:
        return {
            "cvs:ibon": "ibon 超商票券",
            "paper:platform_print": "綠界列印",
            "paper:merchant_print": "廠商列印",
            "electronic:immediate": "即期票券",
            "electronic:deferred": "非即期票券",
        }[self.value]

    @property
    def full_label(self) -> str:
        """「電子票券／即期票券」: the delivery type and the method."""
        return f"{self.delivery_type.label}／{self.label}"

    @classmethod
    def of_type(cls, delivery_type: str) -> list[DeliveryMethod]:
        return [m for m in cls if m.delivery_type.value == delivery_type]


class Store(db.Model):
    """A merchant's store on the platform. Everything a merchant owns hangs off one of these."""

    __tablename__ = "stores"
    __table_args__ = (
        CheckConstraint("length(merchant_code) BETWEEN 7 AND 10", name="merchant_code_length"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_code: Mapped[str] = mapped_column(String(10), unique=True)  # 商店代號
    name: Mapped[str] = mapped_column(String(100))
    tax_id: Mapped[str] = mapped_column(String(8), default="")  # 統一編號
    responsible_person: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    finance_emails: Mapped[str] = mapped_column(String(500), default="")  # 帳務聯絡人, `;`-separated
    sales_emails: Mapped[str] = mapped_column(String(500), default="")
    technical_emails: Mapped[str] = mapped_column(String(500), default="")
    # each contact's name (at most 20 characters) and phone (mobile or landline, see app.phones)
    finance_name: Mapped[str] = mapped_column(String(20), default="", server_default="")
    finance_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    sales_name: Mapped[str] = mapped_column(String(20), default="", server_default="")
    sales_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    technical_name: Mapped[str] = mapped_column(String(20), default="", server_default="")
    technical_phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # 收付款通知設定 / 收款通知: the finance contacts get a mail on each day money is paid out
    payout_notice: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An ECTicket Issue call of this store asked for use-status or refund notices: only then do
    # its tickets' moves look for a notice URL (the redemption path stays one statement lighter).
    ticket_notices: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set by the operator: every back-office account of the store must use two-factor login.
    require_two_factor: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    parent: Mapped[Store | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Store]] = relationship(back_populates="parent", order_by="Store.id")
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="store", order_by="Contract.start_date.desc(), Contract.id.desc()"
    )

    @property
    def current_contract(self) -> Contract | None:
        """The latest contract (合約): the newest start date not in the future, else the newest."""
        today = clock.business_day()
        started = [c for c in self.contracts if c.start_date <= today]
        return (started or self.contracts or [None])[0]

    @property
    def label(self) -> str:
        return f"{self.merchant_code} {self.name}"


class Contract(StoreScoped, db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("payout_delay_days >= 0", name="payout_delay_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    issuance_active: Mapped[bool] = mapped_column(default=False)  # ECT發行服務狀態
    redemption_mode: Mapped[RedemptionMode] = mapped_column(
        enum_type(RedemptionMode, "redemption_mode"), default=RedemptionMode.REDEEM_AFTER_USE
    )
    enabled_methods: Mapped[list] = mapped_column(default=list)  # DeliveryMethod values
    sms_enabled: Mapped[bool] = mapped_column(default=False)
    payout_delay_days: Mapped[int] = mapped_column(default=7)  # 撥款天期
    escrow_bank: Mapped[str] = mapped_column(String(50), default="")
    escrow_type: Mapped[str] = mapped_column(String(50), default="")  # 價金保管類型 (installment)
    installment_period_days: Mapped[int | None]  # 核銷設定 (installment): days per period
    installment_period_count: Mapped[int | None]  # 核銷設定 (installment): periods per order
    note: Mapped[str] = mapped_column(Text, default="")

    store: Mapped[Store] = relationship(back_populates="contracts")

    @property
    def methods(self) -> list[DeliveryMethod]:
        return [DeliveryMethod(v) for v in self.enabled_methods]

    def enables(self, method: DeliveryMethod) -> bool:
        return method.value in self.enabled_methods


__all__ = ["Store", "Contract", "RedemptionMode", "DeliveryType", "DeliveryMethod"]


class Branch(StoreScoped, db.Model):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))  # 分店編號: unique in the store, immutable
    name: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(default=True)  # 啟用 / 停用
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def status_label(self) -> str:
        return "啟用" if self.enabled else "停用"


class RelationStatus(enum.Enum):
    OPEN = "open"  # 開啟
    DISSOLVED = "dissolved"  # 解除

    @property
    def label(self) -> str:
        return {"open": "開啟", "dissolved": "解除關聯"}[self.value]


class DissolvedBy(enum.Enum):
    ISSUER = "issuer"
    PARTNER = "partner"


class PartnerRelation(StoreScoped, db.Model):
    __tablename__ = "partner_relations"
    __table_args__ = (
        UniqueConstraint("store_id", "partner_store_id"),
        CheckConstraint("store_id <> partner_store_id", name="not_self"),
        Index("ix_partner_relations_partner_store_id", "partner_store_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)  # the issuer
    partner_store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    status: Mapped[RelationStatus] = mapped_column(
        enum_type(RelationStatus, "relation_status"), default=RelationStatus.OPEN)
    dissolved_by: Mapped[DissolvedBy | None] = mapped_column(enum_type(DissolvedBy, "dissolved_by"))
    # Set when the partner dissolves: the issuer cannot re-open until the operator unblocks.
    blocked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    issuer: Mapped[Store] = relationship(foreign_keys=[store_id])
    partner: Mapped[Store] = relationship(foreign_keys=[partner_store_id])

    @property
    def is_open(self) -> bool:
        return self.status is RelationStatus.OPEN
