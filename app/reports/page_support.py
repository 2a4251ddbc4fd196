"""What the circulation, cross-store and branch report pages share: the scope of the query
(with a readable message when the query names a store or branch it may not), and 下載Excel
answered by the shared export (the file, or a background export) or by the page with the
reason the query was refused."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, request

from app.errors import InvalidInput
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
