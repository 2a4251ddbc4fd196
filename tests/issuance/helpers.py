"""Builders for the issuance tests: a store ready to issue, products, rows."""

from __future__ import annotations

from app.auth.models import Account
from app.db import db
from app.products.models import Product, ProductKind
from app.stores.models import Store
from tests.factories import make_account, make_product, make_store
from tests.settings.helpers import mark_complete


def ready_store(username: str = "issuer01", **store_kw) -> tuple[Store, Account, Product, Product]:
    """A store whose settings are complete, its main account, a pickup and a gift product."""
    store = make_store(**store_kw)
    owner = make_account(store, username=username)
    mark_complete(store)
    pickup = make_product(store, "咖啡券", kind=ProductKind.PICKUP, face_value=150)
    gift = make_product(store, "甜點券", kind=ProductKind.GIFT, face_value=80)
    db.session.commit()
    return store, owner, pickup, gift


def rows(product: Product, *, count: int = 1, quantity: int = 1, prefix: str = "M",
         mobile: str = "0912345678", email: str = "buyer@example.com") -> list[dict]:
    return [{"商品編號": product.id, "數量": quantity, "廠商訂單編號": f"{prefix}{i:04d}",
             "購買人姓名": f"購買人{i}", "手機": mobile, "Email": email, "使用起始日": None,
             "_row": i + 2} for i in range(count)]
