"""Demo data for `make run`: stores, contracts and the logins listed in the README.

Idempotent: rows are found by their natural keys (merchant code, username) and created only if
missing, so running it again changes nothing. Later features add their demo rows here.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app import clock
from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.passwords import hash_password
from app.auth.permissions import Function, Level
from app.db import db
from app.news.models import NewsItem
from app.stores.models import Contract, DeliveryMethod, RedemptionMode, Store

DEMO_PASSWORD = "Demo1234"

ALL_METHODS = [m.value for m in DeliveryMethod]


def _store(code: str, name: str, *, parent: Store | None = None, mode: RedemptionMode,
           **fields: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.merchant_code == code))
    if store is None:
        store = Store(merchant_code=code, name=name, parent=parent, **fields)
        db.session.add(store)
        today = clock.business_day()
        store.contracts.append(Contract(
            start_date=date(today.year, 1, 1), end_date=date(today.year + 2, 12, 31),
            issuance_active=True, redemption_mode=mode, enabled_methods=ALL_METHODS,
            sms_enabled=True, payout_delay_days=7, escrow_bank="示範信託銀行",
            escrow_type="信託" if mode is RedemptionMode.INSTALLMENT else "",
            installment_period_days=30 if mode is RedemptionMode.INSTALLMENT else None,
        ))
        db.session.flush()
    return store


def _account(username: str, kind: AccountKind, store: Store | None = None, *, remark: str = "",
             grants: dict[Function, Level] | None = None) -> Account:
    account = db.session.scalar(select(Account).where(Account.username == username))
    if account is None:
        account = Account(username=username, kind=kind, store=store, remark=remark,
                          password_hash=hash_password(DEMO_PASSWORD))
        for fn, level in (grants or {}).items():
            account.grants.append(AccountGrant(function=fn.value, level=level))
        db.session.add(account)
        db.session.flush()
    return account


def load_demo() -> list[tuple[str, str]]:
    _account("operator", AccountKind.OPERATOR)
    issuer = _store("3002607", "示範票券發行商", mode=RedemptionMode.REDEEM_AFTER_USE,
                    tax_id="12345675", responsible_person="王大明",
                    address="台北市內湖區瑞光路 1 號", website="https://issuer.example",
                    finance_emails="finance@issuer.example")
    _account("issuer", AccountKind.MAIN, issuer)
    _account("clerk1", AccountKind.SUB, issuer, remark="A001 門市店員", grants={
        Function.REDEEM: Level.MODIFY,
        Function.CANCEL_REDEMPTION: Level.MODIFY,
        Function.REPORT_TICKETS: Level.VIEW,
    })
    partner = _store("3002608", "示範可核銷商店", mode=RedemptionMode.REDEEM_AFTER_USE,
                     tax_id="23456789", responsible_person="李小華")
    _account("partner", AccountKind.MAIN, partner)
    parent = _store("3002609", "示範母商店", mode=RedemptionMode.REDEEM_AFTER_USE,
                    tax_id="34567890")
    _account("parent", AccountKind.MAIN, parent)
    child = _store("3002610", "示範子商店", parent=parent, mode=RedemptionMode.REDEEM_AFTER_USE,
                   tax_id="45678901")
    _account("child", AccountKind.MAIN, child)
    installment = _store("3002611", "示範分期核銷商店", mode=RedemptionMode.INSTALLMENT,
                         tax_id="56789012")
    _account("installment", AccountKind.MAIN, installment)
    if db.session.scalar(select(NewsItem.id).limit(1)) is None:
        db.session.add(NewsItem(title="歡迎使用 ECTicket 發行管理平台",
                                body="這是示範環境的公告。平台維護、服務通知與最新消息會顯示在訊息中心。",
                                category="公告", published_at=clock.now()))
    db.session.flush()
    return [
        ("operator", "平台管理員（營運後台）"),
        ("issuer", "示範票券發行商 3002607 的管理者（使用後核銷）"),
        ("clerk1", "issuer 的子帳號，核銷權限（分店 A001）"),
        ("partner", "示範可核銷商店 3002608 的管理者"),
        ("parent", "示範母商店 3002609 的管理者（可切換子商店）"),
        ("child", "示範子商店 3002610 的管理者"),
        ("installment", "示範分期核銷商店 3002611 的管理者"),
    ]
