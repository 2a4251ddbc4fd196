"""The home dashboard's figures: each one grouped SQL query over indexed columns.

No figure walks tickets in Python: the database counts and sums, and Python only receives a
handful of rows (three totals, one row per day of the period, ten products). The meaning of
each figure is written down in app.home.rules. The figures may be read from the reports
replica (`replica=True`, app.db.RoutingSession); the fees in force are the store's settings and
read the primary.

Indexes (PostgreSQL; measured on 1M tickets, see the helper's report). Each figure is an
index-only scan with these; without them PostgreSQL reads the ticket rows:
- 核銷: tickets (store_id, redeemed_at) INCLUDE (status, face_value, redeemed_branch_id)
  WHERE redeemed_at IS NOT NULL (the existing (redeemed_store_id, redeemed_at) names the
  redeeming store, not the issuer);
- 退貨: tickets (store_id, returned_at) INCLUDE (status, face_value, returned_branch_id)
  WHERE returned_at IS NOT NULL;
- 未使用: tickets (store_id, issued_at) INCLUDE (kind, status, expires_on, face_value)
  WHERE status IN ('unused', 'unused_escrow_expired') (the existing (store_id, issued_at)
  works too, reading the rows);
- 商品銷量: since the service opened, so it is read from the per-product counters of
  app.tickets.sales (product_sales (store_id, kind, sold_count)) rather than counted from
  every ticket of the store (140-190 ms on 1M tickets, even index-only);
- 已發行訂單: orders (store_id, created_at), existing; INCLUDE (ticket_count, amount) makes it
  index-only.

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

from sqlalchemy import Date, and_, bindparam, exists, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

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
from app.reports import status_sql
from app.reports.scope import ReportScope
from app.tickets.models import Order, Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup


class taipei_date(FunctionElement):  # noqa: N801 - used like a SQL function
    """The Taipei calendar day of a UTC timestamp column, computed by the database."""

    type = Date()
    inherit_cache = True


@compiles(taipei_date, "postgresql")
def _taipei_date_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    (column,) = element.clauses
    return f"CAST(({compiler.process(column, **kw)} AT TIME ZONE 'Asia/Taipei') AS DATE)"


@compiles(taipei_date)
def _taipei_date_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    # SQLite keeps UTC as text; Taiwan has had no daylight saving time since 1979.
    (column,) = element.clauses
    return f"date({compiler.process(column, **kw)}, '+8 hours')"


def _group(group: StatusGroup) -> ColumnElement[bool]:
    """In a status group, the statuses written into the SQL as constants so that PostgreSQL can
    match a partial index on them whatever plan it caches."""
    return Ticket.status.in_(bindparam(f"{group.value}_group", list(STATUS_GROUPS[group]),
                                       expanding=True, literal_execute=True))


def unused_now(today: date) -> ColumnElement[bool]:
    """In the unused group as of today, as Ticket.current_status shows it (the reports' shared
    rule, app.reports.status_sql): a pickup voucher past its escrow end is 未使用且價金保管逾期
    (still unused); a gift voucher past its validity end is already expired, whatever the stored
    status says until the nightly job runs. The stored-status condition in front lets
    PostgreSQL use the partial index of unused tickets."""
    return and_(_group(StatusGroup.UNUSED), status_sql.in_group(today, StatusGroup.UNUSED))


@dataclass(frozen=True)
class StatusTotals:
    since: date
    redeemed: Figure
    returned: Figure
    unused: Figure | None  # None: not shown (a bound sub-account sees its branch only)


def status_totals(scope: ReportScope, today: date) -> StatusTotals:
    """近90天發行狀況: one statement, one aggregate per figure (UNION ALL), each over its own
    index: redemption time, return time, issue time of unused tickets."""
    since_day = rules.status_since(today)
    since = clock.day_start(since_day)
    mine = Ticket.store_id.in_(scope.store_ids)
    redeemed = [mine, Ticket.redeemed_at >= since, _group(StatusGroup.REDEEMED)]
    returned = [mine, Ticket.returned_at >= since, _group(StatusGroup.RETURNED)]
    if scope.branch_id is not None:
        redeemed.append(Ticket.redeemed_branch_id == scope.branch_id)
        returned.append(Ticket.returned_branch_id == scope.branch_id)
    parts = [("redeemed", redeemed), ("returned", returned)]
    if scope.branch_id is None:
        parts.append(("unused", [mine, Ticket.issued_at >= since, unused_now(today)]))
    stmt = union_all(*(
        select(literal(name).label("figure"), func.count().label("n"),
               func.coalesce(func.sum(Ticket.face_value), 0).label("amount")).where(*conditions)
        for name, conditions in parts))
    figures = {name: Figure(n, amount) for name, n, amount in db.session.execute(
        select(stmt.subquery()).execution_options(readable=True, replica=True))}
    return StatusTotals(since_day, figures["redeemed"], figures["returned"], figures.get("unused"))


def orders_by_day(scope: ReportScope, start: date, end: date) -> list[tuple[date, OrderFigure]]:
    """已發行訂單: per Taipei day of [start, end], the orders, their tickets and amount."""
    day = taipei_date(Order.created_at)
    rows = db.session.execute(
        select(day, func.count(), func.sum(Order.ticket_count), func.sum(Order.amount))
        .where(Order.store_id.in_(scope.store_ids),
               Order.created_at >= clock.day_start(start), Order.created_at <= clock.day_end(end))
        .group_by(day)
        .execution_options(readable=True, replica=True)
    ).all()
    return rules.daily(start, end, {d: OrderFigure(n, tickets or 0, amount or 0)
                                    for d, n, tickets, amount in rows})


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
