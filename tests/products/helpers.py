"""Small helpers for the product tests: the frozen day, images, the form, reading rows back."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image
from sqlalchemy import select

from app import clock
from app.db import db
from app.history import HistoryEntry
from app.products.models import Product

TODAY = date(2026, 11, 21)  # the frozen Taipei business day of these tests


def freeze_today() -> None:
    clock.freeze(clock.day_start(TODAY) + timedelta(hours=10))


def png(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (20, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def product_form(**overrides: object) -> dict:
    """A valid 新增商品 form (a pickup voucher) with the given fields changed."""
    data: dict = {
        "kind": "pickup",
        "name": "招牌牛肉麵兌換券",
        "face_value": "280",
        "escrow_end": (TODAY + timedelta(days=365)).isoformat(),
        "valid_until": "",
        "description": "牛肉麵一碗",
        "usage_instructions": "請於櫃台出示票券",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def reload(product_id: int) -> Product:
    db.session.expire_all()
    return db.session.get(Product, product_id)


def product_named(name: str) -> Product | None:
    db.session.expire_all()
    return db.session.scalar(select(Product).where(Product.name == name))


def entries(product_id: int) -> list[HistoryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == "products",
                                   HistoryEntry.subject_id == product_id)
        .order_by(HistoryEntry.id)))
