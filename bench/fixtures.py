"""Rows the benchmarks need, created directly through the models."""

from __future__ import annotations

from datetime import date, timedelta

from app import clock
from app.auth.models import Account, AccountKind
from app.auth.passwords import hash_password
from app.db import db
from app.installments.models import InstallmentSettings
from app.products.models import Product, ProductKind
from app.settings.models import StoreSettings
from app.stores.models import Contract, DeliveryMethod, RedemptionMode, Store
from bench.support import OWNER, PASSWORD


def issuer_with_product() -> tuple[Store, Account, Product]:
    store = Store(merchant_code="8000001", name="效能測試發行商", tax_id="80000001")
    store.contracts.append(Contract(
        start_date=date(2020, 1, 1), end_date=date(2099, 12, 31), issuance_active=True,
        redemption_mode=RedemptionMode.REDEEM_AFTER_USE, sms_enabled=True,
        enabled_methods=[m.value for m in DeliveryMethod]))
    db.session.add(store)
    db.session.flush()
    now = clock.now()
    db.session.add(StoreSettings(store_id=store.id, sms_on=True, basic_completed_at=now,
                                 cs_phone="02-1234-5678", rights_statement="權益說明",
                                 ticket_page_completed_at=now))
    owner = Account(store_id=store.id, kind=AccountKind.MAIN, username=OWNER,
                    password_hash=hash_password(PASSWORD))
    product = Product(store_id=store.id, name="效能測試提貨券", kind=ProductKind.PICKUP,
                      face_value=100, escrow_end=clock.business_day() + timedelta(days=365))
    db.session.add_all([owner, product])
    db.session.commit()
    return store, owner, product


def rows(product: Product, *, count: int, quantity: int, prefix: str) -> list[dict]:
    return [{"商品編號": product.id, "數量": quantity, "廠商訂單編號": f"{prefix}{i:05d}",
             "購買人姓名": f"測試{i}", "手機": "0912345678", "Email": f"b{i}@example.com",
             "使用起始日": None, "_row": i + 2} for i in range(count)]


def installment_issuer(period_count: int = 12, period_days: int = 30) -> tuple[Store, Account]:
    """A store in installment mode (its contract's 核銷設定: `period_count` periods of
    `period_days` days), its main account and its refund-notification URL."""
    store = Store(merchant_code="8000002", name="效能測試分期核銷商店", tax_id="80000002")
    store.contracts.append(Contract(
        start_date=date(2020, 1, 1), end_date=date(2099, 12, 31), issuance_active=True,
        redemption_mode=RedemptionMode.INSTALLMENT, escrow_type="信託",
        installment_period_count=period_count, installment_period_days=period_days))
    db.session.add(store)
    db.session.flush()
    owner = Account(store_id=store.id, kind=AccountKind.MAIN, username="benchinstall",
                    password_hash=hash_password(PASSWORD))
    db.session.add_all([owner, InstallmentSettings(store_id=store.id,
                                                   refund_notify_url="https://bench.example/refund")])
    db.session.commit()
    return store, owner
