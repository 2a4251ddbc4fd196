"""Lists of the installment pages: 8-3 C 分期核銷訂單報表 (orders with their money by group, and
every period's serial) and 8-2 未發行訂單. `select()` builders only; every amount and count is
summed by the database, one row per order (GROUP BY the order, over the periods' (order_id,
number) unique index), never by walking periods in Python.

An order's state (訂單狀態) follows from its periods:

| state | periods |
|---|---|
| 履約中 (active) | none in the returned group, not all redeemed yet |
| 核銷完成 (completed) | every period 已核銷 (the 履約保障到期日 shows 核銷完成) |
| 待退貨 (return pending) | returned and still cancellable: some period 待退貨 |
| 已退貨 (returned) | returned and sent to the bank: periods 退貨中 or 已退貨, none 待退貨 |
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, case, func, select

from app import clock
from app.db import db
from app.installments.models import InstallmentOrder, InstallmentPeriod, UnissuedOrder
from app.installments.status import PeriodGroup, PeriodStatus

Order = InstallmentOrder
P = InstallmentPeriod


class OrderState(enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    RETURN_PENDING = "return_pending"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return {"active": "履約中", "completed": "核銷完成", "return_pending": "待退貨",
                "returned": "已退貨"}[self.value]


def state_of(period_count: int, done_periods: int, returned_periods: int,
             pending_periods: int) -> OrderState:
    """The order's state from its counts (the table above; `order_state_is` says it in SQL)."""
    if pending_periods:
        return OrderState.RETURN_PENDING
    if returned_periods:
        return OrderState.RETURNED
    if done_periods == period_count:
        return OrderState.COMPLETED
    return OrderState.ACTIVE


def refund_state(returned_periods: int, pending_periods: int, refunded_periods: int) -> str:
    """退款狀態 of a returned order: 待退貨 (may still be cancelled that day), 退款中 (sent to
    the bank), 已退款 (the bank refunded every returned period); "" for an order not returned."""
    if not returned_periods:
        return ""
    if pending_periods:
        return "待退貨"
    return "已退款" if refunded_periods == returned_periods else "退款中"


# Aggregates of one order's periods ------------------------------------------------------------

def in_group(group: PeriodGroup) -> ColumnElement[bool]:
    return P.status.in_(group.members)


def amount_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, P.face_value), else_=0)), 0)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _order_figures() -> list[ColumnElement]:
    return [
        amount_where(in_group(PeriodGroup.RETURNED)).label("returned_amount"),
        count_where(in_group(PeriodGroup.RETURNED)).label("returned_periods"),
        amount_where(in_group(PeriodGroup.REDEEMED)).label("redeemed_amount"),
        count_where(in_group(PeriodGroup.REDEEMED)).label("redeemed_periods"),
        amount_where(in_group(PeriodGroup.UNUSED)).label("unused_amount"),
        count_where(in_group(PeriodGroup.UNUSED)).label("unused_periods"),
        count_where(P.status == PeriodStatus.RETURN_PENDING).label("pending_periods"),
        count_where(P.status == PeriodStatus.RETURNED).label("refunded_periods"),
        count_where(P.status == PeriodStatus.REDEEMED).label("done_periods"),
        func.max(P.expected_date).label("last_expected"),
    ]


def order_state_is(state: OrderState) -> ColumnElement[bool]:
    """The HAVING condition of an order state (over the grouped periods)."""
    pending = count_where(P.status == PeriodStatus.RETURN_PENDING)
    returned = count_where(in_group(PeriodGroup.RETURNED))
    done = count_where(P.status == PeriodStatus.REDEEMED)
    return {
        OrderState.RETURN_PENDING: pending > 0,
        OrderState.RETURNED: and_(returned > 0, pending == 0),
        OrderState.COMPLETED: and_(returned == 0, done == func.count(P.id)),
        OrderState.ACTIVE: and_(returned == 0, done < func.count(P.id)),
    }[state]


# 訂單明細 -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderFilter:
    store_id: int
    start: date | None = None  # issued (發行日), Taipei days, inclusive
    end: date | None = None
    merchant_order_no: str = ""  # exact
    order_no: str = ""  # ECT訂單編號, exact
    purchaser_name: str = ""  # containing
    purchaser_mobile: str = ""  # containing
    state: OrderState | None = None


def _issued_between(start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    out = []
    if start is not None:
        out.append(Order.created_at >= clock.day_start(start))
    if end is not None:
        out.append(Order.created_at <= clock.day_end(end))
    return out


def order_rows(flt: OrderFilter) -> Select:
    """The store's orders matching `flt`, newest first, each with its money and periods by
    group (returned / redeemed / unused) and the counts its state and refund state need: the
    rows of the 訂單明細 tab and of its Excel."""
    stmt = (select(Order, *_order_figures())
            .join(P, P.order_id == Order.id)
            .where(Order.store_id == flt.store_id, P.store_id == flt.store_id,
                   *_issued_between(flt.start, flt.end)))
    if flt.merchant_order_no:
        stmt = stmt.where(Order.merchant_order_no == flt.merchant_order_no)
    if flt.order_no:
        stmt = stmt.where(Order.order_no == flt.order_no)
    if flt.purchaser_name:
        stmt = stmt.where(Order.purchaser_name.icontains(flt.purchaser_name, autoescape=True))
    if flt.purchaser_mobile:
        stmt = stmt.where(Order.purchaser_mobile.contains(flt.purchaser_mobile, autoescape=True))
    stmt = stmt.group_by(Order.id)
    if flt.state is not None:
        stmt = stmt.having(order_state_is(flt.state))
    return stmt.order_by(Order.created_at.desc(), Order.id.desc())


def order_figures(order: InstallmentOrder):  # noqa: ANN201 - a Row of _order_figures
    """One order's figures (the same aggregates as a row of the report)."""
    return db.session.execute(
        select(*_order_figures()).where(P.order_id == order.id, P.store_id == order.store_id)
    ).one()


def order_periods(order: InstallmentOrder) -> list[InstallmentPeriod]:
    """The order's periods by number, read through the order (its store, its id)."""
    return list(db.session.scalars(
        select(P).where(P.order_id == order.id, P.store_id == order.store_id).order_by(P.number)))


# 各期序號明細 ---------------------------------------------------------------------------------

class PeriodDate(enum.Enum):
    ISSUED = "issued"  # 發行日
    EXPECTED = "expected"  # 預計核銷日

    @property
    def label(self) -> str:
        return {"issued": "發行日", "expected": "預計核銷日"}[self.value]


@dataclass(frozen=True)
class PeriodFilter:
    store_id: int
    date_type: PeriodDate = PeriodDate.ISSUED
    start: date | None = None  # Taipei days, inclusive
    end: date | None = None
    serial: str = ""  # exact
    merchant_order_no: str = ""  # exact
    statuses: Sequence[PeriodStatus] = ()  # any of these (empty: every status)


def period_rows(flt: PeriodFilter) -> Select:
    """Every period (serial) matching `flt` with what its row shows of its order: the rows of
    the 各期序號明細 tab and of its Excel. By issue date: newest orders first; by expected
    date: the earliest expected first."""
    stmt = (select(P, Order.order_no, Order.merchant_order_no, Order.created_at.label("order_issued_at"),
                   Order.purchaser_name, Order.purchaser_mobile, Order.purchaser_email, Order.period_count,
                   Order.returned_at.label("order_returned_at"), Order.return_reason,
                   Order.return_fee.label("order_return_fee"))
            .join(Order, Order.id == P.order_id)
            .where(P.store_id == flt.store_id, Order.store_id == flt.store_id))
    if flt.date_type is PeriodDate.EXPECTED:
        if flt.start is not None:
            stmt = stmt.where(P.expected_date >= flt.start)
        if flt.end is not None:
            stmt = stmt.where(P.expected_date <= flt.end)
        sort = (P.expected_date, Order.id, P.number)
    else:
        stmt = stmt.where(*_issued_between(flt.start, flt.end))
        sort = (Order.created_at.desc(), Order.id.desc(), P.number)
    if flt.serial:
        stmt = stmt.where(P.serial == flt.serial)
    if flt.merchant_order_no:
        stmt = stmt.where(Order.merchant_order_no == flt.merchant_order_no)
    if flt.statuses:
        stmt = stmt.where(P.status.in_(list(flt.statuses)))
    return stmt.order_by(*sort)


# 未發行訂單 -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnissuedFilter:
    store_id: int
    start: date | None = None  # paid (付款日), Taipei days, inclusive
    end: date | None = None
    merchant_order_no: str = ""  # exact


def unissued_orders(flt: UnissuedFilter) -> Select:
    """Paid orders not (yet) issued, the latest paid first."""
    stmt = select(UnissuedOrder).where(UnissuedOrder.store_id == flt.store_id,
                                       UnissuedOrder.issued_order_id.is_(None))
    if flt.start is not None:
        stmt = stmt.where(UnissuedOrder.paid_at >= clock.day_start(flt.start))
    if flt.end is not None:
        stmt = stmt.where(UnissuedOrder.paid_at <= clock.day_end(flt.end))
    if flt.merchant_order_no:
        stmt = stmt.where(UnissuedOrder.merchant_order_no == flt.merchant_order_no)
    return stmt.order_by(UnissuedOrder.paid_at.desc(), UnissuedOrder.id.desc())
