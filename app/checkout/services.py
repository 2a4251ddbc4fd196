"""AioCheckOut use cases: accept a request (or refuse it with nothing stored), pay an order with
a card, and what the result page and QueryTradeInfo answer. They flush, never commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, credentials, history, jobs
from app.checkout import rules
from app.checkout.acquirer import Card, acquirer_named
from app.checkout.models import (
    CardTransaction,
    CheckoutOrder,
    NoticeStatus,
    OrderStatus,
    PaymentNotice,
    TransactionStatus,
)
from app.db import db, insert_ignoring_conflict
from app.ecpay import checkmac, keys
from app.stores.models import RedemptionMode, Store

UNSCOPED = {"unscoped": True}

# What else happens, in the same transaction, when an order is paid: features built on checkout
# register here (the unissued ticket orders will: a paid ticket order becomes 未發行訂單). Each is
# called with the paid order and its card transaction; they flush, never commit.
PAID_REACTIONS: list[Callable[[CheckoutOrder, CardTransaction], None]] = []

# Checks run before a card is authorised (the store's reject lists, app.credit.rejects, register
# here): each gets the order, the card and the consumer's IP and answers the refusal shown to
# the consumer, or None. A refused payment stores nothing but the order's decline count.
PAY_CHECKS: list[Callable[[CheckoutOrder, Card, str], str | None]] = []
CARD_DIGEST_KIND = "card"


def card_digest(number: str) -> str:
    """The keyed digest a card number is kept as (never the number itself)."""
    return credentials.digest(credentials.key(credentials.current_version()), CARD_DIGEST_KIND,
                              number)


@dataclass
class Accepted:
    order: CheckoutOrder | None = None
    error: rules.CheckoutError | None = None


def _store_of(merchant_id: str) -> Store | None:
    if not merchant_id or len(merchant_id) > 10:
        return None
    return db.session.scalar(select(Store).where(Store.merchant_code == merchant_id))


def verified_store(fields: dict[str, str]) -> tuple[Store | None, rules.CheckoutError | None]:
    """The store a signed request comes from: known, with keys (10000101), and the
    CheckMacValue right under its current pair or the pair retired less than 24 h ago
    (10200073)."""
    store = _store_of(fields.get("MerchantID", ""))
    pairs = keys.pairs_for(store.id) if store is not None else []
    if store is None or not pairs:
        return None, rules.merchant_unknown()
    tilde = current_app.config.get("ECPAY_ACCEPT_PY_TILDE", True) is not False
    if not any(checkmac.verify(fields, p.hash_key, p.hash_iv, accept_pysdk_tilde=tilde)
               for p in pairs):
        return None, rules.mac_error()
    return store, None


def form_fields(items: Iterable[tuple[str, str]]) -> tuple[dict[str, str], str | None]:
    """The posted form as a dict, or the name of a field posted twice."""
    fields: dict[str, str] = {}
    for name, value in items:
        if name in fields:
            return fields, name
        fields[name] = value
    return fields, None


def accept(items: Iterable[tuple[str, str]]) -> Accepted:
    """An AioCheckOut request: the order to pay, or the error (nothing stored). Re-posting the
    identical form of an order still unpaid re-opens it."""
    fields, repeated = form_fields(items)
    if repeated is not None:
        return Accepted(error=rules.invalid_parameter(repeated))
    store, error = verified_store(fields)
    if error is not None:
        return Accepted(error=error)
    assert store is not None
    error = rules.format_error(fields) or rules.value_error(fields)
    if error is not None:
        return Accepted(error=error)
    existing = db.session.scalar(
        select(CheckoutOrder).where(CheckoutOrder.store_id == store.id,
                                    CheckoutOrder.merchant_trade_no == fields["MerchantTradeNo"])
        .execution_options(**UNSCOPED))
    if existing is not None:
        if existing.status is OrderStatus.PENDING and existing.fields == fields:
            return Accepted(order=existing)
        return Accepted(error=rules.trade_no_reused())
    contract = store.current_contract
    ticket = rules.is_ticket_order(bool(contract and contract.issuance_active),
                                   installment_mode=installment_mode(store))
    now = clock.now()
    order_id = insert_ignoring_conflict(
        CheckoutOrder, store_id=store.id, merchant_trade_no=fields["MerchantTradeNo"],
        trade_no=rules.new_trade_no(now), token=secrets.token_urlsafe(32),
        total_amount=int(fields["TotalAmount"]), item_name=fields["ItemName"][:rules.ITEM_NAME_MAX],
        trade_desc=fields["TradeDesc"], return_url=fields["ReturnURL"],
        order_result_url=fields.get("OrderResultURL", ""),
        client_back_url=fields.get("ClientBackURL", ""),
        merchant_trade_date=fields["MerchantTradeDate"], store_code=fields.get("StoreID", ""),
        platform_id=fields.get("PlatformID", ""),
        need_extra_paid_info=fields.get("NeedExtraPaidInfo", "") == "Y",
        credit_installments=",".join(rules.merchant_installments(
            fields.get("CreditInstallment", ""), ticket_order=ticket)),
        is_ticket_order=ticket, fields=fields, status=OrderStatus.PENDING, created_at=now,
        failed_attempts=0)
    if order_id is None:  # a concurrent request took the number first
        return Accepted(error=rules.trade_no_reused())
    return Accepted(order=db.session.get(CheckoutOrder, order_id,
                                         execution_options=UNSCOPED))


def installment_mode(store: Store) -> bool:
    contract = store.current_contract
    return bool(contract and contract.redemption_mode is RedemptionMode.INSTALLMENT)


def asks_holder(order: CheckoutOrder) -> bool:
    """Whether the order's payment page asks for the cardholder (rules.asks_holder)."""
    store = db.session.get(Store, order.store_id)
    return rules.asks_holder(ticket_order=order.is_ticket_order,
                             installment_mode=store is not None and installment_mode(store))


def order_by_token(token: str, *, lock: bool = False) -> CheckoutOrder | None:
    if not token or len(token) > 64:
        return None
    query = select(CheckoutOrder).where(CheckoutOrder.token == token)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(**UNSCOPED))


def offers(order: CheckoutOrder) -> dict[str, list]:
    """The payment choices of the page: one-time, merchant-paid periods, 自費分期 periods."""
    return {"merchant": [p for p in order.credit_installments.split(",") if p],
            "consumer": list(rules.consumer_installments(order.total_amount,
                                                         ticket_order=order.is_ticket_order))}


def parse_choice(order: CheckoutOrder, raw: str) -> tuple[int, int] | None:
    """(merchant-paid periods, consumer-paid periods) of the page's choice (`once`, `m6`,
    `c12`…), or None when it is not offered."""
    if raw in ("", "once"):
        return 0, 0
    offered = offers(order)
    if raw.startswith("m") and raw[1:] in offered["merchant"]:
        return int(raw[1:].rstrip("N")), 0
    if raw.startswith("c") and raw[1:].isdigit() and int(raw[1:]) in offered["consumer"]:
        return 0, int(raw[1:])
    return None


@dataclass
class Payment:
    order: CheckoutOrder
    approved: bool = False
    reason: str = ""
    problems: dict[str, str] = field(default_factory=dict)
    failed: bool = False  # the decline was the last the order takes: it is FAILED now


# Declines one order takes; the last one fails it (its result goes to the merchant's page).
MAX_DECLINES_PER_ORDER = 5
ORDER_LOCKED = "此訂單付款失敗次數過多，請返回商店重新下單"


def _declined(order: CheckoutOrder, reason: str) -> Payment:
    """Count a decline (the caller holds the order's row lock) and keep its reason; the
    MAX_DECLINES_PER_ORDER-th fails the order."""
    count = order.failed_attempts + 1
    db.session.execute(update(CheckoutOrder).where(CheckoutOrder.id == order.id)
                       .values(failed_attempts=CheckoutOrder.failed_attempts + 1,
                               last_decline=reason[:200])
                       .execution_options(synchronize_session=False, **UNSCOPED))
    set_committed_value(order, "failed_attempts", count)
    set_committed_value(order, "last_decline", reason[:200])
    history.record(order, "checkout_declined", reason=f"第 {count} 次付款失敗：{reason}")
    if count >= MAX_DECLINES_PER_ORDER:
        return Payment(order, reason=reason, failed=fail(order, ORDER_LOCKED))
    return Payment(order, reason=reason)


def may_give_up(order: CheckoutOrder) -> bool:
    """Whether the payment page offers 【放棄付款，返回商店】: an unpaid order after a decline."""
    return order.status is OrderStatus.PENDING and order.failed_attempts > 0


def _leave_pending(order: CheckoutOrder, to: OrderStatus, stamp: str) -> datetime | None:
    """PENDING → `to` (compare-and-set), the time in the column `stamp`: that time, or None
    when the order left PENDING meanwhile."""
    now = clock.now()
    taken = db.session.execute(
        update(CheckoutOrder).where(CheckoutOrder.id == order.id,
                                    CheckoutOrder.status == OrderStatus.PENDING)
        .values(status=to, **{stamp: now})
        .execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not taken:
        return None
    set_committed_value(order, "status", to)
    set_committed_value(order, stamp, now)
    return now


def fail(order: CheckoutOrder, why: str) -> bool:
    """PENDING → FAILED (the caller holds the row lock): the consumer gave up after a decline,
    or the order took its last decline. Its result (RtnCode FAILED_CODE, RtnMsg the last
    decline) is posted to OrderResultURL by the browser; no ReturnURL notice is sent for an
    unpaid order. Whether it changed."""
    if _leave_pending(order, OrderStatus.FAILED, "failed_at") is None:
        return False
    history.record(order, "checkout_failed", from_status=OrderStatus.PENDING.value,
                   to_status=OrderStatus.FAILED.value,
                   reason=f"{why}（最後一次失敗：{order.last_decline}）" if order.last_decline
                   else why)
    return True


GAVE_UP = "消費者放棄付款"


def give_up(order: CheckoutOrder) -> bool:
    """【放棄付款，返回商店】 (the caller holds the row lock): an unpaid order after a decline
    fails; otherwise nothing changes. Whether it failed."""
    if not may_give_up(order):
        return False
    return fail(order, GAVE_UP)


def pay(order: CheckoutOrder, card: Card, *, periods: int = 0, consumer_periods: int = 0,
        holder: rules.Holder | None = None, ip: str = "") -> Payment:
    """Authorise the card for the order (locked by the caller, still unpaid): on approval the
    order is paid, its card transaction written (authorised), its result notice created and its
    first try queued after the commit; on a decline (or a PAY_CHECKS refusal, before the
    acquirer is asked), nothing but the count of declines and the last one's reason — and the
    MAX_DECLINES_PER_ORDER-th fails the order (`fail`)."""
    refusal = next((r for r in (check(order, card, ip) for check in PAY_CHECKS) if r), None)
    if refusal is not None:
        return _declined(order, refusal)
    acquirer = acquirer_named(current_app.config.get("CHECKOUT_ACQUIRER", "sandbox"))
    result = acquirer.authorise(card, order.total_amount, reference=order.trade_no)
    if not result.approved:
        return _declined(order, result.reason)
    now = _leave_pending(order, OrderStatus.PAID, "paid_at")
    if now is None:  # paid meanwhile (the row lock makes this rare)
        return Payment(order, approved=True)
    txn = CardTransaction(store_id=order.store_id, order_id=order.id, amount=order.total_amount,
                          card_first6=card.first6, card_last4=card.last4,
                          card_digest=card_digest(card.number), brand=card.brand,
                          auth_code=result.auth_code, auth_serial=result.serial, eci=result.eci,
                          acquirer=acquirer.name, installment_periods=periods,
                          consumer_installment_periods=consumer_periods,
                          charge_fee=rules.charge_fee(order.total_amount), authorised_at=now,
                          holder_name=holder.name if holder else "",
                          holder_mobile=holder.mobile if holder else "",
                          holder_email=holder.email if holder else "")
    if card.brand == "UnionPay":  # UnionPay closes at authorisation
        txn.status, txn.closed_at = TransactionStatus.CLOSED, now
    db.session.add(txn)
    db.session.flush()
    history.record(order, "checkout_paid", from_status=OrderStatus.PENDING.value,
                   to_status=OrderStatus.PAID.value,
                   reason=f"{card.brand} {card.first6}******{card.last4} 授權碼 {result.auth_code}")
    notice = PaymentNotice(store_id=order.store_id, order_id=order.id,
                           url=order.return_url.strip(), payload=signed_result(order, txn),
                           status=NoticeStatus.PENDING, attempts=0, next_attempt_at=now,
                           created_at=now)
    db.session.add(notice)
    db.session.flush()
    for react in PAID_REACTIONS:
        react(order, txn)
    jobs.enqueue("app.checkout.jobs:send_payment_notice", notice.id, retries=(),
                 queue="notifications")
    return Payment(order, approved=True)


def _result_facts(order: CheckoutOrder, txn: CardTransaction | None,
                  payment_date: datetime) -> rules.Paid:
    """The result notice's facts of an order: its card transaction's if it has one (paid),
    none otherwise (failed: no fee, no authorisation)."""
    f = order.fields
    return rules.Paid(
        merchant_id=f["MerchantID"], merchant_trade_no=order.merchant_trade_no,
        store_code=order.store_code,
        custom_fields=(f.get("CustomField1", ""), f.get("CustomField2", ""),
                       f.get("CustomField3", ""), f.get("CustomField4", "")),
        trade_no=order.trade_no, amount=order.total_amount, trade_date=order.created_at,
        payment_date=payment_date, charge_fee=txn.charge_fee if txn else 0,
        card_first6=txn.card_first6 if txn else "", card_last4=txn.card_last4 if txn else "",
        auth_code=txn.auth_code if txn else "", auth_serial=txn.auth_serial if txn else "",
        eci=txn.eci if txn else "", periods=txn.installment_periods if txn else 0)


def paid_facts(order: CheckoutOrder, txn: CardTransaction) -> rules.Paid:
    assert order.paid_at is not None
    return _result_facts(order, txn, order.paid_at)


def signed_result(order: CheckoutOrder, txn: CardTransaction) -> dict[str, str]:
    """The result fields with their CheckMacValue under the store's current key pair."""
    pair = keys.current_pair(order.store_id)
    assert pair is not None
    fields = rules.result_fields(paid_facts(order, txn), extra=order.need_extra_paid_info)
    return checkmac.signed(fields, pair.hash_key, pair.hash_iv)


def failed_facts(order: CheckoutOrder) -> rules.Paid:
    """A failed order's result facts: no card transaction, the time it failed as PaymentDate."""
    assert order.failed_at is not None
    return _result_facts(order, None, order.failed_at)


def signed_failure(order: CheckoutOrder) -> dict[str, str]:
    """A failed order's result (RtnCode FAILED_CODE, RtnMsg its last decline) with its
    CheckMacValue under the store's current key pair."""
    pair = keys.current_pair(order.store_id)
    assert pair is not None
    fields = rules.result_fields(failed_facts(order), extra=order.need_extra_paid_info,
                                 rtn_code=rules.FAILED_CODE,
                                 rtn_msg=order.last_decline or rules.FAILED_MESSAGE)
    return checkmac.signed(fields, pair.hash_key, pair.hash_iv)


def result_for_browser(order: CheckoutOrder) -> dict[str, str] | None:
    """What the browser posts to OrderResultURL: a paid order's notice fields (same MAC), a
    failed order's failure result; None for an order still unpaid."""
    if order.status is OrderStatus.FAILED:
        return signed_failure(order)
    notice = db.session.scalar(select(PaymentNotice).where(PaymentNotice.order_id == order.id)
                               .execution_options(**UNSCOPED))
    return dict(notice.payload) if notice is not None else None


def transaction_of(order: CheckoutOrder) -> CardTransaction | None:
    return db.session.scalar(select(CardTransaction).where(CardTransaction.order_id == order.id)
                             .execution_options(**UNSCOPED))


# QueryTradeInfo/V5 --------------------------------------------------------------------------------

QUERY_TIMESTAMP_WINDOW = 180  # seconds, as ECPay's TimeStamp


def query_trade_info(fields: dict[str, str], remote_ip: str) -> dict[str, str]:
    """The order's state, signed, for a server-to-server QueryTradeInfo/V5 call; a refusal is
    `{"TradeStatus": <code>, "RtnMsg": <text>}` unsigned."""
    store, error = verified_store(fields)
    if error is None and store is not None and not keys.ip_allowed(keys.allowed_ips_of(store.id),
                                                                   remote_ip):
        error = rules.CheckoutError("10000103", "IP not allowed", "來源 IP 不在允許清單")
    if error is None:
        stamp = fields.get("TimeStamp", "")
        if not stamp.isdigit() or abs(int(stamp) - int(clock.now().timestamp())) \
                > QUERY_TIMESTAMP_WINDOW:
            error = rules.invalid_parameter("TimeStamp")
    if error is not None:
        return {"TradeStatus": error.code, "RtnMsg": error.message}
    assert store is not None
    order = db.session.scalar(
        select(CheckoutOrder).where(CheckoutOrder.store_id == store.id,
                                    CheckoutOrder.merchant_trade_no
                                    == fields.get("MerchantTradeNo", ""))
        .execution_options(**UNSCOPED))
    if order is None:
        return {"TradeStatus": "10200047", "RtnMsg": "Cant not find the trade data."}
    txn = transaction_of(order)
    f = order.fields
    answer = {
        "MerchantID": f["MerchantID"], "MerchantTradeNo": order.merchant_trade_no,
        "StoreID": order.store_code, "TradeNo": order.trade_no,
        "TradeAmt": str(order.total_amount),
        "PaymentDate": rules.ecpay_time(order.paid_at) if order.paid_at else "",
        "PaymentType": rules.PAYMENT_TYPE if txn else "", "HandlingCharge": "0",
        "PaymentTypeChargeFee": str(txn.charge_fee) if txn else "0",
        "TradeDate": rules.ecpay_time(order.created_at),
        "TradeStatus": "1" if order.status is OrderStatus.PAID else "0",
        "ItemName": order.item_name,
        "CustomField1": f.get("CustomField1", ""), "CustomField2": f.get("CustomField2", ""),
        "CustomField3": f.get("CustomField3", ""), "CustomField4": f.get("CustomField4", ""),
    }
    pair = keys.current_pair(store.id)
    assert pair is not None
    return checkmac.signed(answer, pair.hash_key, pair.hash_iv)
