"""A hand-worked installment store for the report and home tests: its orders (built with
tests/factories.py, straight through the models) and the figures they must add up to."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from app import clock
from app.installments.models import InstallmentOrder
from app.installments.status import (
    PeriodStatus,
)
from app.stores.models import Store
from tests.factories import (
    make_installment_order,
    make_installment_store,
)

_seq = itertools.count(1)
P = PeriodStatus


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
