"""OrderDetail: the store's orders (ReportType 1) or tickets (ReportType 2) of a date range as a
CSV file, the same columns and rows as the 已發行訂單管理 list and the 票券報表 (every column
group) and their Excel downloads. The only ECTicket call whose success is not a JSON envelope:
the CSV itself (UTF-8 with a BOM, so Excel opens it in Chinese), streamed row by row. Errors
are envelopes as usual.

One file per MerchantID per minute (a fixed minute window, app.ratelimit): the second is 3009.
Only an accepted request counts (a parameter error does not use up the minute).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from app import ratelimit
from app.columns import Column
from app.daterange import check_range
from app.db import db
from app.ecticket import protocol
from app.ecticket.calls import Call
from app.ecticket.protocol import Refused, Result
from app.errors import InvalidInput
from app.orders.queries import OrderFilter, order_rows
from app.orders.views import COLUMNS as ORDER_COLUMNS
from app.reports import tickets as ticket_report
from app.reports.scope import ReportScope
from app.spreadsheets import safe_cell

RANGE_MONTHS = 3
ONE_FILE_A_MINUTE = ratelimit.Limit("ecticket-order-detail", 1, 60)
YIELD_PER = 2_000
# The ticket report's column groups as the file had them when the API was published: a group the
# report gains later (價金保管資訊, a per-ticket ledger sum) stays out so the file keeps its shape.
ALL_GROUPS = tuple(group for group in ticket_report.GROUPS if group != "escrow")


def _day(fields: dict, name: str) -> date:
    value = protocol.text(fields, name, 8, required=True, pattern=protocol.DATE)
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise protocol.parameter(name) from None


def _cell(value: Any) -> str:
    """A CSV cell: the Excel export's value (formula-guarded text, Taipei times, labels),
    dates as yyyy/MM/dd and times as yyyy/MM/dd HH:mm:ss."""
    value = safe_cell(value)
    if isinstance(value, datetime):
        return f"{value:%Y/%m/%d %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%Y/%m/%d}"
    return str(value)


def csv_lines(columns: Sequence[Column], rows: Iterable[Any]) -> Iterator[str]:
    """The BOM, the header line, then one line per row (CRLF, RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield "\ufeff" + line(c.header for c in columns)
    getters = [c.value for c in columns]
    for row in rows:
        yield line(_cell(get(row)) for get in getters)


def _order_rows(store_id: int, start: date, end: date) -> Iterator[Any]:
    stmt = order_rows(OrderFilter(store_id=store_id, start=start, end=end))
    yield from db.session.execute(stmt.execution_options(yield_per=YIELD_PER))


def _ticket_report(store_id: int, start: date, end: date) -> tuple[list[Column], Iterator[Any]]:
    scope = ReportScope(acting_store_id=store_id, store_ids=(store_id,), choices=(),
                        branch_id=None, branch_locked=False, account_id=0)
    query = ticket_report.TicketQuery(mode="date", date_type="issued", start=start, end=end,
                                      groups=ALL_GROUPS)
    return ticket_report.columns(scope, query), ticket_report.stream_rows(scope, query)


def order_detail(call: Call) -> Result:
    """`ReportType` 1 orders (by creation) · 2 tickets (by issue); `BeginDate`, `EndDate`
    yyyyMMdd (Taipei days, inclusive, at most three months apart)."""
    report = protocol.code(call.fields, "ReportType", ("1", "2"), required=True)
    start, end = _day(call.fields, "BeginDate"), _day(call.fields, "EndDate")
    try:
        check_range(start, end, max_months=RANGE_MONTHS)
    except InvalidInput:
        raise protocol.parameter("BeginDate/EndDate", "at most 3 months, BeginDate first") from None
    if not ratelimit.take(ONE_FILE_A_MINUTE, call.store.merchant_code).allowed:
        raise Refused(protocol.RATE_LIMITED, "One file per minute")
    store_id = call.store.id
    if report == "1":
        columns: Sequence[Column] = ORDER_COLUMNS
        rows: Iterator[Any] = _order_rows(store_id, start, end)
        name = "orders"
    else:
        columns, rows = _ticket_report(store_id, start, end)
        name = "tickets"
    filename = f"{name}_{call.store.merchant_code}_{start:%Y%m%d}_{end:%Y%m%d}.csv"
    return Result({}, csv=csv_lines(columns, rows), filename=filename)

