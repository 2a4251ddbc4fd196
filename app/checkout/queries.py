"""The 信用卡付款紀錄 query: the store's checkout orders by 建立日期 (at most three months) or an
order number, narrowed by status. One statement for the page and its Excel; each order's card
transaction and ReturnURL notice are joined in the same statement (the Excel's columns read
them), never loaded row by row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload

from app import clock
from app.checkout.models import CheckoutOrder, OrderStatus

STATUSES = (("", "全部"), *((s.value, s.label) for s in OrderStatus))


@dataclass(frozen=True)
class Filter:
    store_id: int
    start: date | None = None  # 建立日期 (Taipei), inclusive
    end: date | None = None
    status: str = ""  # an OrderStatus value, "" for any
    order_no: str = ""  # 特店訂單編號 (MerchantTradeNo) or 交易編號 (TradeNo)


def orders(flt: Filter) -> Select:
    stmt = (select(CheckoutOrder).where(CheckoutOrder.store_id == flt.store_id)
            .options(joinedload(CheckoutOrder.transaction), joinedload(CheckoutOrder.notice)))
    if flt.start:
        stmt = stmt.where(CheckoutOrder.created_at >= clock.day_start(flt.start))
    if flt.end:
        stmt = stmt.where(CheckoutOrder.created_at <= clock.day_end(flt.end))
    if flt.status:
        stmt = stmt.where(CheckoutOrder.status == OrderStatus(flt.status))
    if flt.order_no:
        stmt = stmt.where(or_(CheckoutOrder.merchant_trade_no == flt.order_no,
                              CheckoutOrder.trade_no == flt.order_no))
    return stmt.order_by(CheckoutOrder.created_at.desc(), CheckoutOrder.id.desc())
