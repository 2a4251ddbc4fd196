"""The home dashboard's cards: the figures of app.home.queries drawn as charts and tables.

`status_card`, `orders_card` and `products_card` each gather one card's context (the figures,
the SVG chart, the rows of its table); the views render them as the whole page or, for an HTMX
toggle, the card alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup

from app import clock
from app.billing.models import FeeKind, FeeRate
from app.daterange import parse_range
from app.errors import InvalidInput
from app.home import charts, queries, rules
from app.home.rules import Figure, Measure
from app.products.models import ProductKind
from app.reports.scope import ReportScope
from app.web import format_money


def shown(value: int, measure: Measure, unit: str) -> str:
    """NT$1,200 for money, "3 張" for a count."""
    return format_money(value) if measure is Measure.AMOUNT else f"{value:,} {unit}"


def money_axis(value: int) -> str:
    return "NT$" + charts.compact(value) if value else "0"


def _axis(measure: Measure):  # noqa: ANN202
    return money_axis if measure is Measure.AMOUNT else charts.compact


@dataclass(frozen=True)
class StatusRow:
    key: str  # redeemed / returned / unused
    label: str
    figure: Figure
    tone: str


def status_card(scope: ReportScope, params: Mapping[str, Any]) -> dict[str, Any]:
    """近90天發行狀況 (face value or count)."""
    measure = rules.parse_measure(params.get("measure"))
    today = clock.business_day()
    totals = queries.status_totals(scope, today)
    rows = [StatusRow("redeemed", "核銷", totals.redeemed, "primary"),
            StatusRow("returned", "退貨", totals.returned, "warning")]
    if totals.unused is not None:
        rows.append(StatusRow("unused", "未使用", totals.unused, "success"))
    what = "面額" if measure is Measure.AMOUNT else "張數"
    chart = charts.bar_chart(
        [charts.Bar(r.label, r.figure.of(measure), shown(r.figure.of(measure), measure, "張"), r.tone)
         for r in rows],
        title=f"近90天票券{'、'.join(r.label for r in rows)}（{what}）",
        axis=_axis(measure), height=220, testid="status-chart")
    return {"status_measure": measure, "status_rows": rows, "status_since": totals.since,
            "status_today": today, "status_chart": chart}


def orders_card(scope: ReportScope, params: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """已發行訂單 of a chosen period (≤ three months): per day, amount or number of orders."""
    measure = rules.parse_measure(params.get("orders_measure"))
    context: dict[str, Any] = {"orders_measure": measure, "orders_error": None,
                               "orders_start": params.get("start") or "",
                               "orders_end": params.get("end") or "", "orders_days": [],
                               "orders_total": rules.OrderFigure(), "orders_chart": Markup("")}
    try:
        start, end = parse_range(params.get("start"), params.get("end"),
                                 default_days=rules.ORDERS_DEFAULT_DAYS,
                                 max_months=rules.ORDERS_MAX_MONTHS)
    except InvalidInput as err:
        context["orders_error"] = err.message
        return context, err.status
    series = queries.orders_by_day(scope, start, end)
    context.update(
        orders_start=start.isoformat(), orders_end=end.isoformat(), orders_days=series,
        orders_total=rules.total(series),
        orders_chart=charts.bar_chart(
            [charts.Bar(_day_label(day, start, end), f.of(measure), shown(f.of(measure), measure, "筆"))
             for day, f in series],
            title=f"{start:%Y/%m/%d}～{end:%Y/%m/%d} 已發行訂單"
                  f"（{'金額' if measure is Measure.AMOUNT else '筆數'}）",
            axis=_axis(measure), testid="orders-chart"))
    return context, 200


def _day_label(day: date, start: date, end: date) -> str:
    return f"{day:%m/%d}" if start.year == end.year else f"{day:%Y/%m/%d}"


@dataclass(frozen=True)
class ProductTab:
    kind: ProductKind
    rows: list[queries.ProductSales]
    chart: Markup


def products_card(scope: ReportScope, store_names: Mapping[int, str]) -> dict[str, Any]:
    """商品銷量: the top five products of each kind since the service opened."""
    top = queries.top_products(scope)
    several = len(scope.store_ids) > 1
    tabs = []
    for kind in (ProductKind.PICKUP, ProductKind.GIFT):
        rows = top[kind]
        tabs.append(ProductTab(kind, rows, charts.hbar_chart(
            [charts.Bar(_product_label(r, store_names) if several else r.name, r.sold.count,
                        f"{r.sold.count:,} 張") for r in rows],
            title=f"{kind.label}銷量前{rules.TOP_PRODUCTS}名（服務開通至今）",
            testid=f"top-{kind.value}-chart")))
    return {"product_tabs": tabs, "several_stores": several}


def _product_label(sales: queries.ProductSales, store_names: Mapping[int, str]) -> str:
    return f"{sales.name}（{store_names.get(sales.store_id, '')}）"


# 分期核銷 home ------------------------------------------------------------------------------

@dataclass(frozen=True)
class InstallmentRow:
    key: str  # issued / redeemed / returned / unused
    label: str
    figure: Figure
    tone: str


def installment_card(store_ids: tuple[int, ...],
                     params: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """發行統計, 核銷統計 and 退貨統計 of a chosen period (≤ three months; app.home.rules)."""
    measure = rules.parse_measure(params.get("measure"))
    context: dict[str, Any] = {"inst_measure": measure, "inst_error": None,
                               "inst_start": params.get("start") or "",
                               "inst_end": params.get("end") or "", "inst_rows": [],
                               "inst_chart": Markup("")}
    try:
        start, end = parse_range(params.get("start"), params.get("end"),
                                 default_days=rules.INSTALLMENT_DEFAULT_DAYS,
                                 max_months=rules.INSTALLMENT_MAX_MONTHS)
    except InvalidInput as err:
        context["inst_error"] = err.message
        return context, err.status
    issued = queries.installment_issued(store_ids, start, end)
    rows = [InstallmentRow("issued", "已發行", issued.issued, "info"),
            InstallmentRow("redeemed", "核銷", issued.redeemed, "primary"),
            InstallmentRow("returned", "退貨", issued.returned, "warning"),
            InstallmentRow("unused", "未使用", issued.unused, "success")]
    what = "金額" if measure is Measure.AMOUNT else "期數"
    context.update(
        inst_start=start.isoformat(), inst_end=end.isoformat(), inst_issued=issued,
        inst_rows=rows, inst_redeemed=queries.installment_redeemed(store_ids, start, end),
        inst_returned=queries.installment_returned(store_ids, start, end),
        inst_chart=charts.bar_chart(
            [charts.Bar(r.label, r.figure.of(measure), shown(r.figure.of(measure), measure, "期"),
                        r.tone) for r in rows],
            title=f"{start:%Y/%m/%d}～{end:%Y/%m/%d} 發行統計（{what}）",
            axis=_axis(measure), height=220, testid="installment-chart"))
    return context, 200


# 合約時間 › 服務費用 ---------------------------------------------------------------------------

UNITS = {FeeKind.RETURN: "張", FeeKind.SMS: "則", FeeKind.PAPER_PRINT: "張", FeeKind.SERIAL: "個序號"}
INSTALLMENT_UNITS = {FeeKind.RETURN: "筆訂單"}


def fee_text(kind: FeeKind, rate: FeeRate | None, mode: str | None) -> str:
    """NT$10／張, 面額的 1.5% (a percentage return fee), 未設定 when no rate is in force."""
    if rate is None:
        return "未設定"
    if rate.percent_bp is not None:
        percent = f"{rate.percent_bp / 100:.2f}".rstrip("0").rstrip(".")
        base = "退貨金額" if mode == "installment" else "面額"
        return f"{base}的 {percent}%"
    unit = (INSTALLMENT_UNITS if mode == "installment" else {}).get(kind) or UNITS[kind]
    return f"{format_money(rate.amount)}／{unit}"


def fees(store_id: int, mode: str | None) -> list[tuple[str, str, date | None]]:
    """(fee name, rate in words, in force since) of the fees of the store's mode."""
    return [(kind.label, fee_text(kind, rate, mode), rate.effective_from if rate else None)
            for kind, rate in queries.fees_in_force(store_id, mode, clock.business_day())]
