"""Installment rows for the report, unissued and home tests, written straight to the tables
through the models (no issuing service, no jobs): an installment-mode store with its contract's
redemption settings, orders whose periods are in whatever statuses a test needs, and paid
orders not yet issued."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app import clock
from app.db import db
from app.installments.models import InstallmentOrder, InstallmentPeriod, UnissuedOrder
from app.installments.status import (
    PeriodGroup,
    PeriodStatus,
    default_first_date,
    expected_dates,
    split_face_values,
    split_fee,
)
from app.stores.models import RedemptionMode, Store
from app.tickets import codes
from tests.factories import make_store

_seq = itertools.count(1)
P = PeriodStatus


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


def make_installment_order(store: Store, total: int, periods: int | None = None, *,
                           statuses: Sequence[PeriodStatus] | None = None,
                           merchant_order_no: str | None = None, created_at: datetime | None = None,
                           first_date: date | None = None, days: int | None = None,
                           purchaser_name: str = "王小明", purchaser_mobile: str = "0912345678",
                           purchaser_email: str = "buyer@example.com",
                           returned_at: datetime | None = None, return_fee: int | None = None,
                           return_reason: str = "", refunded_at: datetime | None = None,
                           redeemed_at: datetime | None = None) -> InstallmentOrder:
    """An order of `total` split over `periods` (the contract's count by default), its periods
    in `statuses` (all unused by default). Periods in the returned group carry the order's
    return (its time, and `return_fee` split over them); periods in the redeemed group were
    redeemed on their expected date unless `redeemed_at` says when."""
    contract = store.current_contract
    periods = periods or (contract.installment_period_count if contract else None) or 3
    days = days or (contract.installment_period_days if contract else None) or 30
    statuses = list(statuses or [P.UNUSED] * periods)
    assert len(statuses) == periods, "one status per period"
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
        return_reason=return_reason, refunded_at=refunded_at)
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


# A store for the report and home tests ---------------------------------------------------------

T = clock.taipei_datetime
TODAY = date(2026, 11, 21)
NOW = T(2026, 11, 21, 10, 0)


@dataclass
class World:
    """The store below, its orders by name, and another store beside it.

    Today is 2026/11/21 (Taipei); the default 30-day window is 10/23-11/21. Three periods each.

    | order      | issued      | total (faces)     | periods (expected)                      | return           |
    |------------|-------------|-------------------|-----------------------------------------|------------------|
    | o1 MO-A    | 11/01 10:00 | 1000 (334/333/333)| 已核銷 11/05, 未使用 12/05, 未使用 01/04   |                  |
    | o2 MO-B    | 10/25 10:00 | 900 (300 each)    | 已核銷 10/26, 11/05, 11/15 (every 10 d)  |                  |
    | o3 MO-C    | 11/20 10:00 | 1200 (400 each)   | 待退貨 ×3 (12/20 …)                     | 11/21 09:00, 90  |
    | o4 MO-D    | 11/10 10:00 | 1000 (334/333/333)| 已核銷 11/11, 已退貨 12/11, 退貨中 01/10   | 11/15 12:00, 100 |
    | o5 MO-E    | 11/15 10:00 | 600 (200 each)    | 核銷中 11/21, 未使用 12/21, 未使用 01/20   |                  |
    | old MO-OLD | 07/01 10:00 | 300 (100 each)    | 已核銷 08/25, 09/24, 10/24               |                  |

    Periods in the redeemed group were redeemed at 01:00 of their expected date. The other store
    issues an order with merchant order number MO-A on 11/20 and returns it; it never shows.
    """

    store: Store
    other: Store
    orders: dict[str, InstallmentOrder]


def build_world() -> World:
    clock.freeze(NOW)
    store = make_installment_store("分期示範店", periods=3, days=30)
    other = make_installment_store("分期別家店", periods=3, days=30)
    o = {
        "o1": make_installment_order(store, 1000, merchant_order_no="MO-A",
                                     created_at=T(2026, 11, 1, 10), first_date=date(2026, 11, 5),
                                     statuses=[P.REDEEMED, P.UNUSED, P.UNUSED]),
        "o2": make_installment_order(store, 900, merchant_order_no="MO-B",
                                     created_at=T(2026, 10, 25, 10), first_date=date(2026, 10, 26),
                                     days=10, statuses=[P.REDEEMED] * 3),
        "o3": make_installment_order(store, 1200, merchant_order_no="MO-C",
                                     created_at=T(2026, 11, 20, 10), statuses=[P.RETURN_PENDING] * 3,
                                     returned_at=T(2026, 11, 21, 9), return_fee=90,
                                     return_reason="客人取消"),
        "o4": make_installment_order(store, 1000, merchant_order_no="MO-D",
                                     created_at=T(2026, 11, 10, 10), first_date=date(2026, 11, 11),
                                     statuses=[P.REDEEMED, P.RETURNED, P.RETURNING],
                                     returned_at=T(2026, 11, 15, 12), return_fee=100,
                                     return_reason="課程取消"),
        "o5": make_installment_order(store, 600, merchant_order_no="MO-E",
                                     created_at=T(2026, 11, 15, 10), first_date=date(2026, 11, 21),
                                     statuses=[P.REDEEMING, P.UNUSED, P.UNUSED],
                                     purchaser_name="陳大文", purchaser_mobile="0922000111"),
        "old": make_installment_order(store, 300, merchant_order_no="MO-OLD",
                                      created_at=T(2026, 7, 1, 10), first_date=date(2026, 8, 25),
                                      statuses=[P.REDEEMED] * 3),
        "other": make_installment_order(other, 5000, merchant_order_no="MO-A",
                                        created_at=T(2026, 11, 20, 10),
                                        statuses=[P.REDEEMED, P.RETURN_PENDING, P.RETURN_PENDING],
                                        returned_at=T(2026, 11, 20, 11), return_fee=10),
    }
    return World(store, other, o)


# What the table above adds up to (the report's rows, and the home's figures for 10/23-11/21).
# Per order: (returned amount, periods, redeemed amount, periods, unused amount, periods).
ORDER_FIGURES = {
    "o1": (0, 0, 334, 1, 666, 2), "o2": (0, 0, 900, 3, 0, 0), "o3": (1200, 3, 0, 0, 0, 0),
    "o4": (666, 2, 334, 1, 0, 0), "o5": (0, 0, 200, 1, 400, 2), "old": (0, 0, 300, 3, 0, 0),
}
ORDER_STATES = {"o1": "履約中", "o2": "核銷完成", "o3": "待退貨", "o4": "已退貨", "o5": "履約中",
                "old": "核銷完成"}
GUARANTEE_ENDS = {"o1": "2027/01/04", "o2": "核銷完成", "o3": "2027/02/18", "o4": "2027/01/10",
                  "o5": "2027/01/20", "old": "核銷完成"}
REFUND_STATES = {"o3": "待退貨", "o4": "退款中"}
LAST_30_DAYS = ["o3", "o5", "o4", "o1", "o2"]  # newest first
