"""select() builders for the product pages and the products API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app import clock
from app.db import db
from app.products.models import Product, ProductBranch, ProductKind, ProductPartner
from app.stores.models import Branch, PartnerRelation, RelationStatus, Store


@dataclass(frozen=True)
class ProductFilter:
    """The list's query (查詢商品): every part optional."""

    name: str = ""  # contains
    kind: ProductKind | None = None
    listed: bool | None = None
    start: date | None = None  # created on or after this Taipei day
    end: date | None = None  # created on or before this Taipei day


def with_lists(stmt: Select) -> Select:
    """Load what a product row shows: its image and its three lists (with their stores and
    branches) in a few queries, whatever the number of rows."""
    return stmt.options(
        selectinload(Product.image),
        selectinload(Product.partner_links).selectinload(ProductPartner.partner),
        selectinload(Product.branch_links).selectinload(ProductBranch.branch),
    )


def products(flt: ProductFilter, *, readable: bool = False) -> Select:
    """Products of the acting store (plus its children's when `readable`: a parent store's
    read-only view), newest first. Store scoping is applied by the ORM."""
    stmt = select(Product)
    if flt.name:
        stmt = stmt.where(Product.name.icontains(flt.name, autoescape=True))
    if flt.kind is not None:
        stmt = stmt.where(Product.kind == flt.kind)
    if flt.listed is not None:
        stmt = stmt.where(Product.listed.is_(flt.listed))
    if flt.start is not None:
        stmt = stmt.where(Product.created_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(Product.created_at <= clock.day_end(flt.end))
    stmt = with_lists(stmt).order_by(Product.created_at.desc(), Product.id.desc())
    if readable:
        stmt = stmt.execution_options(readable=True)
    return stmt


def open_partner_stores(store_id: int) -> list[Store]:
    """The stores this store has an open cross-store relation with (可核銷商店), by code."""
    stmt = (select(Store)
            .join(PartnerRelation, PartnerRelation.partner_store_id == Store.id)
            .where(PartnerRelation.store_id == store_id,
                   PartnerRelation.status == RelationStatus.OPEN)
            .order_by(Store.merchant_code))
    return list(db.session.scalars(stmt))


def store_branches(store_id: int) -> list[Branch]:
    """Every branch of the store (enabled or not), by code."""
    return list(db.session.scalars(
        select(Branch).where(Branch.store_id == store_id).order_by(Branch.code)))


def listed_products(store_id: int) -> list[Product]:
    """The store's own listed products still within their dates (what a batch may issue), by
    number: the issuance page's 我的商品 and its pre-filled template."""
    today = clock.business_day()
    found = db.session.scalars(select(Product).where(Product.store_id == store_id,
                                                     Product.listed.is_(True))
                               .order_by(Product.id))
    return [p for p in found if p.end_date is None or p.end_date >= today]
