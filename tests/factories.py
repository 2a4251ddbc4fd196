"""Factories for tests: rows with sensible defaults, created through the models directly.

Every test builds its stores, accounts, branches, relations, products and raw orders here (the
helper modules keep only what is particular to their tests, such as issuing through the real
services). Each factory flushes and never commits: the test decides when to commit."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from app import clock
from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.passwords import hash_password
from app.auth.permissions import Function, Level
from app.auth.protection_models import TwoFactor
from app.checkout.models import CardTransaction, CheckoutOrder, OrderStatus
from app.db import db
from app.ecpay import checkmac, keys
from app.installments.models import InstallmentOrder, InstallmentPeriod, UnissuedOrder
from app.installments.status import (
    PeriodGroup,
    PeriodStatus,
    default_first_date,
    expected_dates,
    split_face_values,
    split_fee,
)
from app.issuance.models import Batch, BatchStatus
from app.products.models import BranchRole, Product, ProductBranch, ProductKind, ProductPartner
from app.saved_filters.models import SavedFilter
from app.stores.models import (
    Branch,
    Contract,
    DeliveryMethod,
    DeliveryType,
    DissolvedBy,
    PartnerRelation,
    RedemptionMode,
    RelationStatus,
    Store,
)
from app.tickets import codes
from app.tickets.models import Order, Ticket
from app.unissued.models import TicketOrder, TicketOrderState

PASSWORD = "Passw0rd"
# A product's end date unless the test gives one: a year (pickup: 價金保管迄日) or 90 days
# (gift: 使用期限) after 2026/11/21, the business day most tests freeze the clock on.
PICKUP_END = date(2026, 11, 21) + timedelta(days=365)
GIFT_END = date(2026, 11, 21) + timedelta(days=90)
_seq = itertools.count(1)


def make_store(name: str | None = None, *, parent: Store | None = None,
               mode: RedemptionMode = RedemptionMode.REDEEM_AFTER_USE,
               issuance_active: bool = True, sms_enabled: bool = True,
               methods: list[DeliveryMethod] | None = None) -> Store:
    n = next(_seq)
    store = Store(merchant_code=f"{9000000 + n}", name=name or f"測試商店{n}", parent=parent,
                  tax_id=f"{10000000 + n}")
    store.contracts.append(Contract(
        start_date=date(2020, 1, 1), end_date=date(2099, 12, 31),
        issuance_active=issuance_active, redemption_mode=mode, sms_enabled=sms_enabled,
        enabled_methods=[m.value for m in (methods or list(DeliveryMethod))],
        **({"installment_period_count": 3, "installment_period_days": 30,
            "escrow_type": "信託"} if mode is RedemptionMode.INSTALLMENT else {}),
    ))
    db.session.add(store)
    db.session.flush()
    return store


def make_account(store: Store | None, *, kind: AccountKind = AccountKind.MAIN,
                 username: str | None = None, password: str = PASSWORD,
                 grants: dict[Function, Level] | None = None, remark: str = "") -> Account:
    account = Account(store=store, kind=kind, username=username or f"user{next(_seq)}x",
                      password_hash=hash_password(password), remark=remark)
    for fn, level in (grants or {}).items():
        account.grants.append(AccountGrant(function=fn.value, level=level))
    db.session.add(account)
    db.session.flush()
    return account


def make_sub(store: Store, username: str | None = None, *, branch: Branch | None = None,
             grants: dict[Function, Level] | None = None, remark: str = "",
             password: str = PASSWORD) -> Account:
    """A sub-account (子帳號) with these grants, bound to `branch` (None: the head office)."""
    account = make_account(store, kind=AccountKind.SUB, username=username, password=password,
                           grants=grants, remark=remark)
    account.branch = branch
    db.session.flush()
    return account


def make_operator(username: str = "op0001") -> Account:
    return make_account(None, kind=AccountKind.OPERATOR, username=username)


def make_totp(account: Account, secret: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") -> str:
    """Two-factor login by authenticator app, enabled for `account`; returns the TOTP secret."""
    db.session.add(TwoFactor(account_id=account.id, method="totp", secret=secret,
                             enabled_at=clock.now()))
    db.session.flush()
    return secret


def make_branch(store: Store, code: str | None = None, name: str | None = None, *,
                enabled: bool = True) -> Branch:
    n = next(_seq)
    branch = Branch(store_id=store.id, code=code or f"B{n:03d}", name=name or f"分店{n}",
                    enabled=enabled)
    db.session.add(branch)
    db.session.flush()
    return branch


def make_relation(issuer: Store, partner: Store, *, status: RelationStatus = RelationStatus.OPEN,
                  dissolved_by: DissolvedBy | None = None, blocked: bool = False) -> PartnerRelation:
    """A cross-store relation: `partner` may redeem the products `issuer` grants it."""
    relation = PartnerRelation(store_id=issuer.id, partner_store_id=partner.id, status=status,
                               dissolved_by=dissolved_by, blocked=blocked)
    db.session.add(relation)
    db.session.flush()
    return relation


def make_product(store: Store, name: str | None = None, *,
                 kind: ProductKind = ProductKind.PICKUP, face_value: int = 500,
                 end: date | None = None, listed: bool = True, partners: Sequence[Store] = (),
                 redeem: Sequence[Branch] = (), returns: Sequence[Branch] = ()) -> Product:
    """A product; `end` is its escrow end (pickup) or its valid-until date (gift)."""
    n = next(_seq)
    pickup = kind is ProductKind.PICKUP
    end = end or (PICKUP_END if pickup else GIFT_END)
    product = Product(store_id=store.id, name=name or f"商品{n}", kind=kind, face_value=face_value,
                      escrow_end=end if pickup else None, valid_until=None if pickup else end,
                      listed=listed)
    db.session.add(product)
    link_product(product, partners=partners, redeem=redeem, returns=returns)
    return product


def link_product(product: Product, *, partners: Sequence[Store] = (),
                 redeem: Sequence[Branch] = (),
                 returns: Sequence[Branch] = ()) -> list[ProductPartner | ProductBranch]:
    """Grant `partners` (可核銷商店) and list branches to redeem or take returns of an existing
    product; returns the new links, in that order."""
    links: list[ProductPartner | ProductBranch] = []
    for partner in partners:
        links.append(ProductPartner(partner_store_id=partner.id))
        product.partner_links.append(links[-1])
    for role, branches in ((BranchRole.REDEEM, redeem), (BranchRole.RETURN, returns)):
        for branch in branches:
            links.append(ProductBranch(branch_id=branch.id, role=role))
            product.branch_links.append(links[-1])
    db.session.flush()
    return links


def make_order(store: Store, *, product: Product | None = None,
               method: DeliveryMethod = DeliveryMethod.IMMEDIATE, quantity: int = 1) -> Order:
    """An order of `quantity` tickets of `product` (a new one if None), with its batch, written
    straight to the tables (no settings, no notices, no jobs): for tests that only need the rows
    to exist. Issuing for real is tests.orders.helpers.issue_order."""
    n = next(_seq)
    product = product or make_product(store)
    now = clock.now()
    batch = Batch(store_id=store.id, import_no=f"ROW{n:05d}", delivery_method=method.value,
                  status=BatchStatus.SUCCEEDED, kind=product.kind.value, rows=[],
                  ticket_count=quantity, issued_count=quantity)
    db.session.add(batch)
    db.session.flush()
    delivery = method.delivery_type
    order = Order(store_id=store.id, batch_id=batch.id, order_no=codes.new_order_no(clock.business_day()),
                  merchant_order_no=f"ROW{n:05d}", delivery_method=method.value,
                  purchaser_name="王小明", purchaser_mobile="0912345678",
                  purchaser_email="old@example.com",
                  **Order.new_secret_values(link=delivery is DeliveryType.ELECTRONIC,
                                            pickup=delivery is DeliveryType.CVS),
                  ticket_count=quantity, amount=product.face_value * quantity, created_at=now)
    db.session.add(order)
    db.session.flush()
    prefix = codes.new_serial_prefix()
    for i in range(quantity):
        serial = codes.serial(prefix, clock.business_day(), i)
        db.session.add(Ticket(
            store_id=store.id, product_id=product.id, order_id=order.id, batch_id=batch.id,
            serial=serial, **Ticket.new_secret_values(serial),
            kind=product.kind, face_value=product.face_value, delivery_method=method.value,
            expires_on=product.end_date, holder_name=order.purchaser_name,
            holder_mobile=order.purchaser_mobile, holder_email=order.purchaser_email))
    db.session.flush()
    return order


def login(client, username: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response


def make_installment_store(name: str | None = None, *, periods: int = 3, days: int = 30,
                           parent: Store | None = None, escrow_type: str = "信託") -> Store:
    """A store whose contract is in installment mode (分期核銷), `periods` periods of `days` days."""
    store = make_store(name, parent=parent, mode=RedemptionMode.INSTALLMENT)
    contract = store.contracts[0]
    contract.installment_period_count = periods
    contract.installment_period_days = days
    contract.escrow_type = escrow_type
    db.session.flush()
    return store


def make_installment_order(store: Store, total: int = 3000, periods: int | None = None, *,
                           statuses: Sequence[PeriodStatus] | None = None,
                           merchant_order_no: str | None = None, created_at: datetime | None = None,
                           first_date: date | None = None, days: int | None = None,
                           purchaser_name: str = "王小明", purchaser_mobile: str = "0912345678",
                           purchaser_email: str = "buyer@example.com",
                           returned_at: datetime | None = None, return_fee: int | None = None,
                           return_reason: str = "", refunded_at: datetime | None = None,
                           redeemed_at: datetime | None = None,
                           refund_notify_url: str = "") -> InstallmentOrder:
    """An order of `total` split over `periods` (the contract's count by default), its periods
    in `statuses` (the periods not named are unused). Periods in the returned group carry the order's
    return (its time, and `return_fee` split over them); periods in the redeemed group were
    redeemed on their expected date unless `redeemed_at` says when."""
    contract = store.current_contract
    periods = periods or (contract.installment_period_count if contract else None) or 3
    days = days or (contract.installment_period_days if contract else None) or 30
    statuses = list(statuses or [])
    statuses += [PeriodStatus.UNUSED] * (periods - len(statuses))  # the periods not named are unused
    assert len(statuses) == periods, "at most one status per period"
    created_at = created_at or clock.now()
    first_date = first_date or default_first_date(clock.business_day(created_at), days)
    n = next(_seq)
    returning = [i for i, s in enumerate(statuses) if s.group is PeriodGroup.RETURNED]
    if returning and returned_at is None:
        returned_at = created_at
    order = InstallmentOrder(
        store_id=store.id, order_no=codes.new_order_no(clock.business_day(created_at)),
        merchant_order_no=merchant_order_no or f"IO{n:06d}", purchaser_name=purchaser_name,
        purchaser_mobile=purchaser_mobile, purchaser_email=purchaser_email, total_amount=total,
        period_count=periods, period_days=days, first_date=first_date, created_at=created_at,
        returned_at=returned_at if returning else None, return_fee=return_fee if returning else None,
        return_reason=return_reason, refunded_at=refunded_at, refund_notify_url=refund_notify_url)
    db.session.add(order)
    db.session.flush()
    values = split_face_values(total, periods)
    shares = dict(zip(returning, split_fee(return_fee or 0, [values[i] for i in returning]),
                      strict=True)) if returning else {}
    for i, (value, expected, status) in enumerate(
            zip(values, expected_dates(first_date, periods, days), statuses, strict=True)):
        redeemed = status.group is PeriodGroup.REDEEMED
        db.session.add(InstallmentPeriod(
            store_id=store.id, order_id=order.id, number=i + 1, serial=f"IP{n:06d}{i + 1:08d}",
            face_value=value, expected_date=expected, status=status, status_changed_at=created_at,
            issued_at=created_at,
            redeemed_at=(redeemed_at or clock.day_start(expected) + timedelta(hours=1))
            if redeemed else None,
            returned_at=returned_at if i in shares else None,
            return_fee=(shares[i] if return_fee is not None else None) if i in shares else None))
    db.session.flush()
    db.session.expire(order, ["periods"])
    return order


def make_unissued_order(store: Store, total: int = 3000, *, merchant_order_no: str | None = None,
                        paid_at: datetime | None = None, **values: object) -> UnissuedOrder:
    """A paid card order not yet issued (未發行訂單), with its cardholder's details."""
    n = next(_seq)
    row = UnissuedOrder(
        store_id=store.id, merchant_order_no=merchant_order_no or f"UN{n:06d}",
        trade_no=f"2611{n:012d}", total_amount=total, purchaser_name="陳小華",
        purchaser_mobile="0987654321", purchaser_email="payer@example.com",
        cardholder_name="CHEN HSIAO HUA", card_first6="431195", card_last4="2222",
        auth_code="777777", paid_at=paid_at or clock.now(), reason="尚未發行")
    for key, value in values.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.flush()
    return row


def make_saved_filter(account: Account, store: Store | None, *, report: str = "reports.tickets",
                      name: str | None = None, query: str = "mode=date&q=1") -> SavedFilter:
    """A saved filter (儲存的篩選條件) of `account` in `store`, its query stored as given."""
    row = SavedFilter(store_id=store.id if store is not None else None, account_id=account.id,
                      report=report, name=name or f"篩選{next(_seq)}", query=query)
    db.session.add(row)
    db.session.flush()
    return row


# Checkout (AioCheckOut) ---------------------------------------------------------------------------

STAGE_KEYS = keys.Pair("pwFHCqoQZGmho4w6", "EkRm7iFT261dpevs")


def make_checkout_store(name: str | None = None, *, ticket: bool = False,
                        pair: keys.Pair = STAGE_KEYS) -> Store:
    """A store with integration keys (ECPay's stage pair by default); `ticket`: its contract has
    the issuance service on, so its checkouts are ticket orders."""
    store = make_store(name, issuance_active=ticket)
    keys.install_pair(store.id, pair)
    return store


def aio_form(store: Store, *, pair: keys.Pair = STAGE_KEYS, trade_no: str | None = None,
             amount: str = "1200", **extra: str) -> dict[str, str]:
    """A signed AioCheckOut form (as an SDK posts it) for the store; `extra` adds or replaces
    fields (an empty value is posted empty)."""
    fields = {
        "MerchantID": store.merchant_code,
        "MerchantTradeNo": trade_no or f"T{next(_seq):09d}",
        "MerchantTradeDate": "2026/11/21 14:05:00", "PaymentType": "aio",
        "TotalAmount": amount, "TradeDesc": "ectix 票券訂單", "ItemName": "咖啡兌換券 x2#蛋糕券 x1",
        "ReturnURL": "https://merchant.example/ecpay/return",
        "OrderResultURL": "https://merchant.example/ecpay/result",
        "ChoosePayment": "Credit", "EncryptType": "1", "CustomField1": "order:42",
    } | extra
    return checkmac.signed(fields, pair.hash_key, pair.hash_iv)


def make_checkout_order(store: Store, *, amount: int = 1200, paid: bool = False) -> CheckoutOrder:
    n = next(_seq)
    order = CheckoutOrder(
        store_id=store.id, merchant_trade_no=f"CK{n:08d}", trade_no=f"261121140500{n % 10000:04d}",
        token=f"tok{n:020d}", total_amount=amount, item_name="咖啡兌換券", trade_desc="測試",
        return_url="https://merchant.example/ecpay/return", merchant_trade_date="2026/11/21 14:05:00",
        fields=aio_form(store, amount=str(amount)), is_ticket_order=False,
        status=OrderStatus.PAID if paid else OrderStatus.PENDING,
        paid_at=clock.now() if paid else None)
    db.session.add(order)
    db.session.flush()
    return order


def make_ticket_order(store: Store, *, amount: int = 300, item_name: str = "咖啡券 x 2",
                      state: TicketOrderState = TicketOrderState.UNISSUED) -> TicketOrder:
    """A ticket order paid by card (now) and waiting in 未發行訂單, with its authorisation."""
    order = make_checkout_order(store, amount=amount, paid=True)
    order.is_ticket_order = True
    txn = CardTransaction(store_id=store.id, order_id=order.id, amount=amount,
                          card_first6="431195", card_last4="2222", brand="VISA",
                          auth_code="777777", auth_serial=f"{order.id:011d}", acquirer="sandbox",
                          holder_name="王小明", holder_mobile="0912345678", auto_close=False)
    db.session.add(txn)
    db.session.flush()
    row = TicketOrder(store_id=store.id, checkout_order_id=order.id, transaction_id=txn.id,
                      merchant_order_no=order.merchant_trade_no, trade_no=order.trade_no,
                      amount=amount, item_name=item_name, holder_name="王小明",
                      holder_mobile="0912345678", paid_at=order.paid_at,
                      paid_on=clock.business_day(order.paid_at), state=state)
    db.session.add(row)
    db.session.flush()
    return row
