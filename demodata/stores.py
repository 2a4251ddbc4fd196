"""Demo data for `make run`: stores, contracts and the logins listed in the README.

Idempotent: rows are found by their natural keys (merchant code, username) and created only if
missing, so running it again changes nothing. Later features add their demo rows here.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.passwords import hash_password
from app.auth.permissions import Function, Level
from app.db import db
from app.ecpay import keys
from app.news.models import NewsItem
from app.products.models import BranchRole, Product, ProductBranch, ProductKind, ProductPartner
from app.settings.models import StoreSettings
from app.stores.models import Branch, Contract, DeliveryMethod, PartnerRelation, RedemptionMode, Store
from demodata.billing import load_demo_billing, load_demo_rates
from demodata.credit import load_demo_card_transactions
from demodata.installments import load_demo_installments
from demodata.ticket_orders import load_demo_ticket_orders
from demodata.tickets import load_demo_tickets

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
            installment_period_count=12 if mode is RedemptionMode.INSTALLMENT else None,
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


def _settings(store: Store, phone: str) -> None:
    if db.session.scalar(select(StoreSettings).where(StoreSettings.store_id == store.id)):
        return
    now = clock.now()
    db.session.add(StoreSettings(
        store_id=store.id, sms_on=True, online_return_application=True, basic_completed_at=now,
        cs_phone=phone, cs_email=f"service@{store.merchant_code}.example",
        line_url="https://line.me/R/ti/p/@ectix-demo", facebook_url="", instagram_url="",
        rights_statement="本票券為提貨券，價金由信託銀行保管。未使用之票券，得於價金保管期間內申請退貨退款；"
                         "逾期未使用者，仍可於門市兌換。",
        ticket_page_completed_at=now))


def _branch(store: Store, code: str, name: str, *, enabled: bool = True) -> Branch:
    branch = db.session.scalar(select(Branch).where(Branch.store_id == store.id, Branch.code == code))
    if branch is None:
        branch = Branch(store_id=store.id, code=code, name=name, enabled=enabled)
        db.session.add(branch)
        db.session.flush()
    return branch


def _product(store: Store, name: str, kind: ProductKind, face_value: int, *,
             partners: tuple[Store, ...] = (), redeem: tuple[Branch, ...] = (),
             returns: tuple[Branch, ...] = ()) -> Product:
    product = db.session.scalar(select(Product).where(Product.store_id == store.id,
                                                      Product.name == name))
    if product is not None:
        return product
    today = clock.business_day()
    product = Product(
        store_id=store.id, name=name, kind=kind, face_value=face_value,
        description=f"{name}（示範商品）",
        usage_instructions="請於櫃台出示核銷代碼，由店員輸入或掃描後兌換。",
        escrow_end=today + timedelta(days=365) if kind is ProductKind.PICKUP else None,
        valid_until=today + timedelta(days=180) if kind is ProductKind.GIFT else None,
        listed=True)
    product.partner_links = [ProductPartner(partner_store_id=p.id) for p in partners]
    product.branch_links = (
        [ProductBranch(branch_id=b.id, role=BranchRole.REDEEM) for b in redeem]
        + [ProductBranch(branch_id=b.id, role=BranchRole.RETURN) for b in returns])
    db.session.add(product)
    db.session.flush()
    return product


# ECPay's published stage test HashKey/HashIV of merchant 3002607 (public, for testing only).
STAGE_TEST_KEYS = ("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")
# ECPay's published ECTicket stage HashKey/HashIV (public, for testing only): issuer answers the
# ECTicket API with it (an ECTicket-only pair), its card checkout keeps the pair above.
STAGE_TICKET_KEYS = ("7b53896b742849d3", "37a0ad3c6ffa428b")


def load_demo() -> list[tuple[str, str]]:
    _account("operator", AccountKind.OPERATOR)
    issuer = _store("3002607", "示範票券發行商", mode=RedemptionMode.REDEEM_AFTER_USE,
                    tax_id="12345675", responsible_person="王大明",
                    address="台北市內湖區瑞光路 1 號", website="https://issuer.example",
                    finance_emails="finance@issuer.example", finance_name="林小美",
                    finance_phone="02-27001234#201")
    _account("issuer", AccountKind.MAIN, issuer)
    _account("clerk1", AccountKind.SUB, issuer, remark="A001 門市店員", grants={
        Function.REDEEM: Level.MODIFY,
        Function.CANCEL_REDEMPTION: Level.MODIFY,
        Function.REPORT_TICKETS: Level.VIEW,
    })
    _account("clerk2", AccountKind.SUB, issuer, remark="未綁定分店的店員", grants={
        Function.REDEEM: Level.MODIFY,
        Function.RETURN: Level.MODIFY,
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
    # 7-1 操作設定: settings complete, branches, clerk1 bound to A001, partner opened to issuer
    _settings(issuer, "(02) 2655-1775")
    _settings(partner, "(02) 2655-0000")
    _settings(child, "(04) 2222-3333")
    a001 = _branch(issuer, "A001", "台北門市")
    a002 = _branch(issuer, "A002", "台中門市")
    _branch(issuer, "A003", "高雄門市（暫停營業）", enabled=False)
    clerk1 = db.session.scalar(select(Account).where(Account.username == "clerk1"))
    if clerk1 is not None and clerk1.branch_id is None:
        clerk1.branch_id = a001.id
    if db.session.scalar(select(PartnerRelation).where(
            PartnerRelation.store_id == issuer.id,
            PartnerRelation.partner_store_id == partner.id)) is None:
        db.session.add(PartnerRelation(store_id=issuer.id, partner_store_id=partner.id))
        db.session.flush()
    # 系統介接設定: ECPay's published stage keys for 3002607, so ECPay's own SDK samples
    # (AioCheckOut, DoAction) work against a local ectix by changing only the URL
    if not keys.key_rows(issuer.id):
        keys.install_pair(issuer.id, keys.Pair(*STAGE_TEST_KEYS))
    if not keys.key_rows(issuer.id, keys.TICKET):
        keys.install_pair(issuer.id, keys.Pair(*STAGE_TICKET_KEYS), keys.TICKET)
    # 7-3 A 商品管理
    _product(issuer, "咖啡兌換券", ProductKind.PICKUP, 150, partners=(partner,))
    _product(issuer, "台北門市限定蛋糕券", ProductKind.PICKUP, 680, redeem=(a001,), returns=(a001,))
    _product(issuer, "甜點招待券", ProductKind.GIFT, 80, redeem=(a001, a002))
    _product(child, "子商店餐券", ProductKind.PICKUP, 300)
    load_demo_rates(issuer, installment)  # before the demo's activity, so its charges are priced
    db.session.commit()
    load_demo_tickets(issuer, partner)
    load_demo_installments(installment)
    load_demo_billing(issuer, installment)  # three months of bills and payments
    load_demo_ticket_orders(issuer)  # 未發行訂單: paid by card, waiting to be issued
    load_demo_card_transactions(issuer)  # 信用卡收單
    if db.session.scalar(select(NewsItem.id).limit(1)) is None:
        db.session.add(NewsItem(title="歡迎使用 ECTicket 發行管理平台",
                                body="這是示範環境的公告。平台維護、服務通知與最新消息會顯示在訊息中心。",
                                category="公告", published_at=clock.now()))
    db.session.flush()
    return [
        ("operator", "平台管理員（營運後台）"),
        ("issuer", "示範票券發行商 3002607 的管理者（使用後核銷）"),
        ("clerk1", "issuer 的子帳號，核銷權限（分店 A001）"),
        ("clerk2", "issuer 的子帳號，核銷與退貨權限（未綁定分店，視同總店）"),
        ("partner", "示範可核銷商店 3002608 的管理者"),
        ("parent", "示範母商店 3002609 的管理者（可切換子商店）"),
        ("child", "示範子商店 3002610 的管理者"),
        ("installment", "示範分期核銷商店 3002611 的管理者"),
    ]
