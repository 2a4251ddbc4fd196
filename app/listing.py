"""What the merchant list pages share (已發行訂單, 轉贈紀錄, 退貨申請, 簡訊發送紀錄, 紙本列印,
列印紀錄, 商品): the query form checked and its period settled, for a parent store acting as
itself the child stores whose rows it reads, and the list's 下載Excel (its column spec, the
query's rows, named after the list, the store and the day)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask import Response, g, request
from flask_wtf import FlaskForm

from app import clock
from app.columns import Column, xlsx_response
from app.daterange import parse_range
from app.errors import InvalidInput
from app.stores.models import Store
from app.tenancy import current_scope

DEFAULT_DAYS = 30  # the period when none is typed: the last 30 days
RANGE_MONTHS = 3  # the longest period a list accepts (the seed's 查詢區間)


def first_error(form: FlaskForm) -> str:
    return next(iter(form.errors.values()))[0]


def checked_period(form: FlaskForm, *, narrowed: bool = False, default_days: int = DEFAULT_DAYS,
                   max_months: int = RANGE_MONTHS) -> tuple[date | None, date | None]:
    """Validate the query form and settle its period (start, end), writing it back into the
    form so the page shows what was searched. A `narrowed` query (one order or serial, say)
    needs no period: (None, None) unless dates were typed. Raises InvalidInput with the form's
    first message or the period's."""
    if not form.validate():
        raise InvalidInput(first_error(form))
    if narrowed and not form.start.data and not form.end.data:
        return None, None
    start, end = parse_range(form.start.data, form.end.data, default_days=default_days,
                             max_months=max_months)
    form.start.data, form.end.data = start.isoformat(), end.isoformat()
    return start, end


def reads_children() -> bool:
    """A parent store acting as itself reads (never changes) its children's rows."""
    scope = current_scope()
    return bool(scope and scope.readable_store_ids)


def stores_shown() -> dict[int, Store]:
    """The acting store and its children, by id (for a parent's 商店 column)."""
    return {s.id: s for s in [g.store, *g.store.children]}


def excel_asked() -> bool:
    """The query bar's 下載Excel (the same query with `format=xlsx`)."""
    return request.args.get("format") == "xlsx"


def excel(title: str, columns: Sequence[Column], rows: Iterable[Any]) -> Response:
    """The list as 「<title>_<商店代號>_<yyyymmdd>.xlsx」, one sheet named `title`."""
    day = clock.business_day()
    return xlsx_response(f"{title}_{g.store.merchant_code}_{day:%Y%m%d}.xlsx", columns, rows,
                         sheet_title=title)
