"""The home dashboard's figures: each one grouped SQL query over indexed columns.

No figure walks tickets in Python: the database counts and sums, and Python only receives a
handful of rows (three totals, one row per day of the period, ten products). The meaning of
each figure is written down in app.home.rules. The figures may be read from the reports
replica (`replica=True`, app.db.RoutingSession); the fees in force are the store's settings and
read the primary.

Where each figure comes from:
- 近90天發行狀況 (核銷 / 退貨 / 未使用) and 已發行訂單: the daily figures of app.reports.figures,
  kept by database triggers: a few hundred rows per store and quarter, however many tickets
  (at 10M tickets counting the tickets themselves took 420 ms; bench/reports.py);
- 商品銷量: since the service opened, so it is read from the per-product counters of
  app.tickets.sales (product_sales (store_id, kind, sold_count)) rather than counted from
  every ticket of the store.

The installment home's figures (app.home.rules) are three grouped statements, each one row:
- 發行統計: installment orders (store_id, created_at), then each order's periods through the
  periods' unique (order_id, number);
- 核銷統計: installment periods by store and redemption time (store_id; an index on
  (store_id, redeemed_at) WHERE redeemed_at IS NOT NULL would read only the period's rows);
- 退貨統計: installment orders (store_id, returned_at) WHERE returned_at IS NOT NULL, then
  their periods as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, func, literal, select, union_all
from sqlalchemy.sql.expression import ColumnElement

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.db import db
from app.home import rules
from app.home.rules import Figure, IssuedFigures, OrderFigure, RedeemedFigures, ReturnedFigures
from app.installments import queries as installment_queries
from app.installments.models import InstallmentOrder, InstallmentPeriod
from app.installments.status import PeriodGroup, PeriodStatus
from app.products.models import Product, ProductKind
from app.products.models import ProductSales as ProductSalesRow
from app.reports import figures, status_sql
from app.reports.scope import ReportScope
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup


@dataclass(frozen=True)
class StatusTotals:
    since: date
    redeemed: Figure
    returned: Figure
    unused: Figure | None  # None: not shown (a bound sub-account sees its branch only)


def status_totals(scope: ReportScope, today: date) -> StatusTotals:
    """近90天發行狀況: one statement over the daily figures (app.reports.figures), one aggregate
    per figure (UNION ALL): tickets redeemed and returned since the day, still in their group;
    tickets issued since the day, unused as of today (`status_sql`'s rule on the figures' status,
    kind and end date)."""
    since = rules.status_since(today)
    rows = figures.ticket_rows()
    mine = [rows.c.store_id.in_(scope.store_ids), rows.c.day >= since]
    redeemed = [*mine, rows.c.measure == figures.REDEEMED,
                rows.c.status.in_(STATUS_GROUPS[StatusGroup.REDEEMED])]
    returned = [*mine, rows.c.measure == figures.RETURNED,
                rows.c.status.in_(STATUS_GROUPS[StatusGroup.RETURNED])]
    if scope.branch_id is not None:
        redeemed.append(rows.c.branch_id == scope.branch_id)
        returned.append(rows.c.branch_id == scope.branch_id)
    parts = [("redeemed", redeemed), ("returned", returned)]
    if scope.branch_id is None:
        parts.append(("unused", [*mine, rows.c.measure == figures.ISSUED,
                                 status_sql.in_group(today, StatusGroup.UNUSED, rows.c)]))
    stmt = union_all(*(select(literal(name).label("figure"), *figures.summed(rows)).where(*conditions)
                       for name, conditions in parts))
    totals = {name: Figure(n, amount) for name, n, amount in db.session.execute(
        select(stmt.subquery()).execution_options(replica=True))}
    return StatusTotals(since, totals["redeemed"], totals["returned"], totals.get("unused"))


def orders_by_day(scope: ReportScope, start: date, end: date) -> list[tuple[date, OrderFigure]]:
    """已發行訂單: per Taipei day of [start, end], the orders, their tickets and amount (from the
    daily order figures)."""
    rows = figures.order_rows()
    found = db.session.execute(
        select(rows.c.day, *(figures.total(rows.c[c]) for c in ("n", "tickets", "amount")))
        .where(rows.c.store_id.in_(scope.store_ids), rows.c.day >= start, rows.c.day <= end)
        .group_by(rows.c.day)
        .execution_options(replica=True)
    ).all()
    return rules.daily(start, end, {d: OrderFigure(n, tickets or 0, amount or 0)
                                    for d, n, tickets, amount in found if n})


@dataclass(frozen=True)
class ProductSales:
    product_id: int
    name: str
    store_id: int
    sold: Figure  # tickets sold and their face value


def top_products(scope: ReportScope,
                 limit: int = rules.TOP_PRODUCTS) -> dict[ProductKind, list[ProductSales]]:
    """商品銷量: per kind, the `limit` products with the most tickets sold (not returned)
    since the service opened (ties: the larger face value, then the older product). Read from
    the counters of app.tickets.sales, kept exact by issuance and returns: a handful of rows
    per store, however many tickets it has issued."""
    ranked = (
        select(ProductSalesRow.kind, ProductSalesRow.product_id, Product.name,
               ProductSalesRow.store_id, ProductSalesRow.sold_count, ProductSalesRow.sold_amount,
               func.row_number().over(
                   partition_by=ProductSalesRow.kind,
                   order_by=(ProductSalesRow.sold_count.desc(), ProductSalesRow.sold_amount.desc(),
                             ProductSalesRow.product_id)).label("rank"))
        .join(Product, Product.id == ProductSalesRow.product_id)
        .where(ProductSalesRow.store_id.in_(scope.store_ids), ProductSalesRow.sold_count > 0)
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.kind, ranked.c.product_id, ranked.c.name, ranked.c.store_id,
               ranked.c.sold_count, ranked.c.sold_amount)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.kind, ranked.c.rank)
        .execution_options(readable=True, replica=True)
    ).all()
    out: dict[ProductKind, list[ProductSales]] = {kind: [] for kind in ProductKind}
    for kind, product_id, name, store_id, count, amount in rows:
        out[ProductKind(kind)].append(ProductSales(product_id, name, store_id, Figure(count, amount)))
    return out


def has_tickets(scope: ReportScope) -> bool:
    """Whether any ticket was ever issued in the scope (else the dashboard greets a new store)."""
    return bool(db.session.scalar(
        select(exists().where(Ticket.store_id.in_(scope.store_ids)))
        .execution_options(readable=True, replica=True)))


# 分期核銷 home --------------------------------------------------------------------------------

def _period_figure(condition: ColumnElement[bool]) -> list[ColumnElement[int]]:
    """(periods, amount) of the grouped periods meeting `condition`."""
    return [installment_queries.count_where(condition),
            installment_queries.amount_where(condition)]


def _between(column, start: date, end: date) -> ColumnElement[bool]:  # noqa: ANN001
    return and_(column >= clock.day_start(start), column <= clock.day_end(end))


def installment_issued(store_ids: tuple[int, ...], start: date, end: date) -> IssuedFigures:
    """發行統計: the orders issued in [start, end] and their periods by current group."""
    period = InstallmentPeriod
    group = installment_queries.in_group
    row = db.session.execute(
        select(func.count(func.distinct(InstallmentOrder.id)),
               *_period_figure(period.id.is_not(None)),
               *_period_figure(group(PeriodGroup.REDEEMED)),
               *_period_figure(group(PeriodGroup.RETURNED)),
               *_period_figure(group(PeriodGroup.UNUSED)))
        .select_from(InstallmentOrder)
        .join(period, period.order_id == InstallmentOrder.id)
        .where(InstallmentOrder.store_id.in_(store_ids), period.store_id.in_(store_ids),
               _between(InstallmentOrder.created_at, start, end))
        .execution_options(replica=True)
    ).one()
    orders, *values = row
    figures = [Figure(values[i] or 0, values[i + 1] or 0) for i in range(0, len(values), 2)]
    return IssuedFigures(orders or 0, *figures)


def installment_redeemed(store_ids: tuple[int, ...], start: date,
                         end: date) -> RedeemedFigures:
    """核銷統計: periods redeemed in [start, end], 核銷中 and 已核銷 apart."""
    period = InstallmentPeriod
    row = db.session.execute(
        select(*_period_figure(period.status == PeriodStatus.REDEEMING),
               *_period_figure(period.status == PeriodStatus.REDEEMED))
        .where(period.store_id.in_(store_ids), _between(period.redeemed_at, start, end),
               installment_queries.in_group(PeriodGroup.REDEEMED))
        .execution_options(replica=True)
    ).one()
    return RedeemedFigures(Figure(row[0] or 0, row[1] or 0), Figure(row[2] or 0, row[3] or 0))


def installment_returned(store_ids: tuple[int, ...], start: date,
                         end: date) -> ReturnedFigures:
    """退貨統計: the orders returned in [start, end] and their returned periods."""
    period = InstallmentPeriod
    row = db.session.execute(
        select(func.count(func.distinct(InstallmentOrder.id)), func.count(period.id),
               func.coalesce(func.sum(period.face_value), 0))
        .select_from(InstallmentOrder)
        .join(period, period.order_id == InstallmentOrder.id)
        .where(InstallmentOrder.store_id.in_(store_ids), period.store_id.in_(store_ids),
               InstallmentOrder.returned_at.is_not(None),
               _between(InstallmentOrder.returned_at, start, end),
               installment_queries.in_group(PeriodGroup.RETURNED))
        .execution_options(replica=True)
    ).one()
    return ReturnedFigures(row[0] or 0, Figure(row[1] or 0, row[2] or 0))


# Fees in force (合約時間 › 服務費用) ----------------------------------------------------------

FEES_OF_MODE = {
    "redeem_after_use": (FeeKind.RETURN, FeeKind.SMS, FeeKind.PAPER_PRINT, FeeKind.SERIAL),
    "installment": (FeeKind.RETURN, FeeKind.SERIAL),
}


def fees_in_force(store_id: int, mode: str | None,
                  today: date) -> list[tuple[FeeKind, FeeRate | None]]:
    """Each fee of the store's mode with the rate in force today (None: not set)."""
    kinds = FEES_OF_MODE.get(mode or "", ())
    rates = db.session.scalars(
        select(FeeRate).where(FeeRate.store_id == store_id, FeeRate.effective_from <= today,
                              FeeRate.kind.in_(kinds))
        .order_by(FeeRate.effective_from, FeeRate.id)
    ).all()
    latest = {rate.kind: rate for rate in rates}  # later rows win
    return [(kind, latest.get(kind)) for kind in kinds]
