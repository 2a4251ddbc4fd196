"""What the circulation, cross-store and branch report pages share: the scope of the query
(with a readable message when the query names a store or branch it may not), and 下載Excel
answered by the shared export (the file, or a background export) or by the page with the
reason the query was refused."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, request
from sqlalchemy import Row, Select

from app.db import db
from app.errors import InvalidInput
from app.pagination import ScopedPagination
from app.reports import scope as report_scope
from app.reports.export_views import excel_download


def scope_for_page() -> tuple[report_scope.ReportScope, str | None]:
    """The scope of this request's query; on a store or branch it may not see, the default
    scope (everything the account may read) and the message."""
    try:
        return report_scope.for_request(request.args), None
    except InvalidInput as err:
        return report_scope.for_request({}), err.message


def excel_or_page(report: str, page: Callable[[], tuple[str, int] | str]) -> Response | tuple[str, int] | str:
    """The Excel of the query, or the page saying why the query is refused (422)."""
    try:
        return excel_download(report, request.args)
    except InvalidInput:
        return page()


class RowPagination(ScopedPagination):
    """A page of a multi-column statement: its rows, not only the first column of each. Given
    `total`, the rows are not counted again (a report whose summary already counted them)."""

    def _query_count(self) -> int:
        total = self._query_args.get("total")
        return super()._query_count() if total is None else total

    def _query_items(self) -> list[Row]:
        stmt = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(stmt).all())


def paginate_rows(stmt: Select | Callable[[int], Select], *,
                  total: int | None = None) -> RowPagination:
    """`app.pagination.paginate` for a statement of several columns (page number from `?page=`).
    `stmt` may be a function of how many rows the page needs from the top (page × size), for
    a statement that can stop early."""
    per_page = current_app.config["PAGE_SIZE"]
    page = page_number()
    if callable(stmt):
        stmt = stmt(page * per_page)
    return RowPagination(select=stmt, session=db.session(), page=page, per_page=per_page,
                         max_per_page=None, error_out=False, count=True, total=total)


def page_number() -> int:
    """`?page=` as Flask-SQLAlchemy reads it: a positive whole number, else 1."""
    try:
        page = int(request.args.get("page", 1))
    except (TypeError, ValueError):
        return 1
    return page if page > 0 else 1
