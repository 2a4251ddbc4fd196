"""The 信用卡收單 queries: the store's card transactions by a date (授權日期, 關帳日期 …, at most
three months) or an order number, narrowed by status, the card's last four digits and the
amount. One statement for the page and its Excel; the order is joined (its numbers are shown and
searched) and loaded with the row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import contains_eager

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder, TransactionStatus
from app.credit.states import CLOSE_DAYS
from app.db import db

# What a date filter reads: the page's choices first (授權日期 / 關帳日期), then the lists' own.
DATE_COLUMNS = {
    "authorised": CardTransaction.authorised_at,
    "closed": CardTransaction.closed_at,
    "close_requested": CardTransaction.close_requested_at,
    "close_failed": CardTransaction.close_failed_at,
}
DATE_TYPES = (("authorised", "授權日期"), ("closed", "關帳日期"))
STATUSES = (("", "全部"), *((s.value, s.label) for s in TransactionStatus))


@dataclass(frozen=True)
class Filter:
    store_id: int
    start: date | None = None
    end: date | None = None
    date_type: str = "authorised"
    status: str = ""  # a TransactionStatus value, "" for any
    card_last4: str = ""
    order_no: str = ""  # 廠商訂單編號 (MerchantTradeNo) or 綠界交易編號 (TradeNo)
    amount: int | None = None
    failed_only: bool = False  # 關帳失敗: the last close failed


def transactions(flt: Filter) -> Select:
    column = DATE_COLUMNS[flt.date_type]
    stmt = (select(CardTransaction).join(CardTransaction.order)
            .where(CardTransaction.store_id == flt.store_id)
            .options(contains_eager(CardTransaction.order)))
    if flt.start:
        stmt = stmt.where(column >= clock.day_start(flt.start))
    if flt.end:
        stmt = stmt.where(column <= clock.day_end(flt.end))
    if flt.status:
        stmt = stmt.where(CardTransaction.status == TransactionStatus(flt.status))
    if flt.card_last4:
        stmt = stmt.where(CardTransaction.card_last4 == flt.card_last4)
    if flt.order_no:
        stmt = stmt.where(or_(CheckoutOrder.merchant_trade_no == flt.order_no,
                              CheckoutOrder.trade_no == flt.order_no))
    if flt.amount is not None:
        stmt = stmt.where(CardTransaction.amount == flt.amount)
    if flt.failed_only:
        stmt = stmt.where(CardTransaction.close_error != "")
    return stmt.order_by(column.desc(), CardTransaction.id.desc())


def owned(store_id: int, ids: list[int]) -> list[CardTransaction]:
    """The store's transactions among `ids` (others' and unknown ids are left out)."""
    if not ids:
        return []
    stmt = (select(CardTransaction).where(CardTransaction.store_id == store_id,
                                          CardTransaction.id.in_(ids))
            .order_by(CardTransaction.id))
    return list(db.session.scalars(stmt))


# Transactions no one closes from the back office, the page, the API or the operator's console:
# an unissued ticket order's authorisation is captured by issuing its tickets (app.unissued).
# A feature registers a condition on CardTransaction, true for such a transaction, and the
# message a close is refused with.
CLOSE_EXCLUSIONS: list[tuple[Callable[[], ColumnElement[bool]], str]] = []


def close_exclusion(txn_id: int) -> str | None:
    """Why the transaction may not be closed from the back office (None: nothing stops it)."""
    for condition, message in CLOSE_EXCLUSIONS:
        if db.session.scalar(select(exists().where(CardTransaction.id == txn_id, condition()))
                             .execution_options(unscoped=True)):
            return message
    return None


def over_date(store_id: int, today: date) -> Select:
    """The store's transactions still authorised more than CLOSE_DAYS Taipei days after their
    authorisation (error_overDate: only the operator may close them), oldest first; not those
    a close is refused for (CLOSE_EXCLUSIONS)."""
    return (select(CardTransaction).join(CardTransaction.order)
            .where(CardTransaction.store_id == store_id,
                   CardTransaction.status == TransactionStatus.AUTHORISED,
                   CardTransaction.authorised_at
                   < clock.day_start(today - timedelta(days=CLOSE_DAYS)),
                   *(~condition() for condition, _ in CLOSE_EXCLUSIONS))
            .options(contains_eager(CardTransaction.order))
            .order_by(CardTransaction.authorised_at, CardTransaction.id))
