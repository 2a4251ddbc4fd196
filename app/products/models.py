"""Voucher products (7-3 A 商品管理): pickup vouchers (提貨券) and gift vouchers (贈品券)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import db, enum_type
from app.stores.models import Branch, Store
from app.tenancy import StoreScoped
from app.uploads.models import Upload


class ProductKind(enum.Enum):
    PICKUP = "pickup"  # 提貨券: paid, price in bank escrow until the escrow end
    GIFT = "gift"  # 贈品券: free, expires at its validity end

    @property
    def label(self) -> str:
        return {"pickup": "提貨券", "gift": "贈品券"}[self.value]


class BranchRole(enum.Enum):
    REDEEM = "redeem"  # 核銷分店
    RETURN = "return"  # 退貨分店


class Product(StoreScoped, db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("face_value > 0", name="face_value_positive"),
        CheckConstraint(
            "(kind = 'pickup' AND escrow_end IS NOT NULL AND valid_until IS NULL) OR "
            "(kind = 'gift' AND valid_until IS NOT NULL AND escrow_end IS NULL)",
            name="end_date_matches_kind",
        ),
        Index("ix_products_store_id_created_at", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ProductKind] = mapped_column(enum_type(ProductKind, "product_kind"))
    face_value: Mapped[int]  # 面額, whole NTD
    description: Mapped[str] = mapped_column(Text, default="")
    usage_instructions: Mapped[str] = mapped_column(Text, default="")  # 使用說明
    image_upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    escrow_end: Mapped[date | None]  # 價金保管迄日 (pickup): escrow runs through 23:59:59 Taipei
    valid_until: Mapped[date | None]  # 使用期限 (gift)
    listed: Mapped[bool] = mapped_column(default=True)  # 上架
    # Set by the first issuance; from then on only the partner and branch lists may change.
    first_issued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    image: Mapped[Upload | None] = relationship()
    partner_links: Mapped[list[ProductPartner]] = relationship(
        back_populates="product", cascade="all, delete-orphan")
    branch_links: Mapped[list[ProductBranch]] = relationship(
        back_populates="product", cascade="all, delete-orphan")

    @property
    def has_issued(self) -> bool:
        return self.first_issued_at is not None

    @property
    def partner_store_ids(self) -> frozenset[int]:
        return frozenset(link.partner_store_id for link in self.partner_links)

    def branch_ids(self, role: BranchRole) -> frozenset[int]:
        return frozenset(link.branch_id for link in self.branch_links if link.role is role)

    @property
    def end_date(self) -> date:
        return self.escrow_end if self.kind is ProductKind.PICKUP else self.valid_until  # type: ignore[return-value]


class ProductPartner(db.Model):
    """A partner store (可核銷商店) granted the right to redeem this product's tickets."""

    __tablename__ = "product_partners"
    __table_args__ = (UniqueConstraint("product_id", "partner_store_id"),
                      Index("ix_product_partners_partner_store_id", "partner_store_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    partner_store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))

    product: Mapped[Product] = relationship(back_populates="partner_links")
    partner: Mapped[Store] = relationship()


class ProductBranch(db.Model):
    """A branch listed to redeem (核銷分店) or return (退貨分店) this product's tickets."""

    __tablename__ = "product_branches"
    __table_args__ = (UniqueConstraint("product_id", "branch_id", "role"),
                      Index("ix_product_branches_branch_id", "branch_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    role: Mapped[BranchRole] = mapped_column(enum_type(BranchRole, "branch_role"))

    product: Mapped[Product] = relationship(back_populates="branch_links")
    branch: Mapped[Branch] = relationship()


class ProductSales(StoreScoped, db.Model):
    """商品銷量 kept as counters: a product's tickets sold (issued, not in the returned group)
    and their face value. Written by app.tickets.sales in the same transaction as the
    issuance, return or cancelled return that moves them, so the home dashboard reads five
    rows instead of counting a store's every ticket."""

    __tablename__ = "product_sales"
    __table_args__ = (
        CheckConstraint("sold_count >= 0", name="sold_count_not_negative"),
        Index("ix_product_sales_store_id_kind_sold", "store_id", "kind", "sold_count"),
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[ProductKind] = mapped_column(enum_type(ProductKind, "product_kind"))
    sold_count: Mapped[int] = mapped_column(default=0)
    sold_amount: Mapped[int] = mapped_column(default=0)  # face value, whole NTD
