"""What the home dashboard's figures mean (docs/reports.md): pure, no Flask, no DB.

使用後核銷 home, per figure:

- 近90天發行狀況 (the last 90 Taipei days, today included):
  - 核銷 redeemed: the store's tickets now in the redeemed group (已使用, 核銷中, 已核銷,
    逾期兌回) whose redemption time falls in the window, whoever redeemed them (a partner
    store's redemption of our ticket counts for us, the issuer);
  - 退貨 returned: tickets now in the returned group whose return time falls in the window;
  - 未使用 unused: tickets issued in the window that are still unused now, as every screen shows
    them (未使用 and 未使用且價金保管逾期); a gift voucher past its validity end is already
    expired (失效), so it is not unused even before the nightly job writes it.
  The window of "unused" is the issue date, as the seed calls the card 發行狀況; all tickets
  unused whenever they were issued (流通在外) is the circulation report's figure.
  Face value summed (面額) or tickets counted (張數), switchable.
- 已發行訂單: orders issued per Taipei day of a chosen period (≤ three months, default the last
  30 days): their amount (金額) or how many (筆數); the table also gives the tickets.
- 商品銷量: since the service opened, the five products with the most tickets sold (銷量 is a
  number of tickets; ties go to the larger face value sold, then the older product), pickup
  and gift vouchers apart; a ticket sold is one issued and not (now) returned: a return
  refunds the sale, a cancelled return counts it again; expired tickets stay sold.

Who sees what: a sub-account bound to a branch sees only what its branch did: the tickets its
branch redeemed and returned in the 90 days; store-wide figures (unused, orders, sales) are
not shown to it. A parent store sees its own and its children's figures summed, or one store
picked from a list, read-only.

分期核銷 home, over a chosen period (更新區間: at most three months, default the last 30 Taipei
days), of the acting store (installment orders have no branch; the figures need the
分期核銷訂單報表 view right, as the report they summarise):

- 發行統計: the orders issued in the period and their periods (序號), split by the group each
  period is in now: 已發行 (all of them), 核銷 (核銷中, 已核銷), 退貨 (待退貨, 退貨中, 已退貨),
  未使用; face value summed (金額) or periods counted (期數), switchable. 已發行 is always the
  sum of the other three.
- 核銷統計: the periods redeemed in the period (the daily job moved them to 核銷中 on their
  expected date), whenever their order was issued: 核銷中 and 已核銷 apart, amount and periods.
- 退貨統計: the orders returned in the period (their return time; a cancelled return takes
  the order out again) and their returned periods: amount, periods and orders.
The message centre and the contract (its dates, 價金保管類型, 核銷設定 and the installment
fees) are as for every store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

STATUS_DAYS = 90
ORDERS_DEFAULT_DAYS = 30
ORDERS_MAX_MONTHS = 3
TOP_PRODUCTS = 5
INSTALLMENT_DEFAULT_DAYS = 30
INSTALLMENT_MAX_MONTHS = 3


class Measure(enum.Enum):
    AMOUNT = "amount"  # 面額 / 金額
    COUNT = "count"  # 張數 / 筆數


def parse_measure(value: object) -> Measure:
    """The measure a toggle asks for; anything else (empty, unknown) is the face value."""
    try:
        return Measure(str(value or "").strip())
    except ValueError:
        return Measure.AMOUNT


@dataclass(frozen=True)
class Figure:
    """How many tickets (or orders) and their face value (or amount)."""

    count: int = 0
    amount: int = 0

    def of(self, measure: Measure) -> int:
        return self.amount if measure is Measure.AMOUNT else self.count


ZERO = Figure()


@dataclass(frozen=True)
class OrderFigure:
    """Issued orders: how many, their tickets and their amount."""

    orders: int = 0
    tickets: int = 0
    amount: int = 0

    def of(self, measure: Measure) -> int:
        return self.amount if measure is Measure.AMOUNT else self.orders


def status_since(today: date) -> date:
    """The first day of the last STATUS_DAYS Taipei days ending today."""
    return today - timedelta(days=STATUS_DAYS - 1)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def daily(start: date, end: date,
          totals: Mapping[date, OrderFigure]) -> list[tuple[date, OrderFigure]]:
    """Every day of [start, end] with its figure; days without orders are zero."""
    return [(day, totals.get(day, OrderFigure())) for day in days(start, end)]


def total(series: list[tuple[date, OrderFigure]]) -> OrderFigure:
    return OrderFigure(sum(f.orders for _, f in series), sum(f.tickets for _, f in series),
                       sum(f.amount for _, f in series))


@dataclass(frozen=True)
class IssuedFigures:
    """發行統計: orders issued in a period; their periods (count: periods) by current group."""

    orders: int = 0
    issued: Figure = ZERO
    redeemed: Figure = ZERO
    returned: Figure = ZERO
    unused: Figure = ZERO


@dataclass(frozen=True)
class RedeemedFigures:
    """核銷統計: periods redeemed in a period, still with the bank (核銷中) or done (已核銷)."""

    redeeming: Figure = ZERO
    redeemed: Figure = ZERO

    @property
    def total(self) -> Figure:
        return Figure(self.redeeming.count + self.redeemed.count,
                      self.redeeming.amount + self.redeemed.amount)


@dataclass(frozen=True)
class ReturnedFigures:
    """退貨統計: orders returned in a period and their returned periods."""

    orders: int = 0
    periods: Figure = ZERO
