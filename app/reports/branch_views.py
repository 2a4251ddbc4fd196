"""7-3 N 分店報表 pages: per-branch figures, the paginated operations, 下載Excel."""

from __future__ import annotations

from flask import request

from app.auth.access import requires
from app.auth.permissions import Function
from app.errors import InvalidInput
from app.htmx import render
from app.pagination import paginate_rows
from app.reports import branch
from app.reports.page_support import excel_or_page, scope_for_page
from app.reports.query_forms import BranchReportForm
from app.reports.views import bp
from app.saved_filters.pages import offers_saved_filters


def _page():  # noqa: ANN202
    form = BranchReportForm(formdata=request.args)
    scope, error = scope_for_page()
    form.offer(scope)
    context: dict = {"page": None, "lines": [], "summary": None}
    if error is None:
        try:
            query = branch.parse(request.args)
            form.show_period(query.period.start.isoformat(), query.period.end.isoformat())
            summary = branch.summarise(scope, query)
            page = paginate_rows(lambda first: branch.lines(scope, query, first=first),
                                 total=summary.operations)
            context.update(page=page, lines=[branch.to_line(row) for row in page.items],
                           summary=summary, query=query)
        except InvalidInput as err:
            error = err.message
    html = render("reports/branch.html", form=form, scope=scope, error=error,
                  operations=list(branch.Operation), columns=branch.columns(scope), **context)
    return (html, 422) if error else html


@bp.get("/branch", endpoint="branch")
@requires(Function.REPORT_BRANCH)
@offers_saved_filters(BranchReportForm)
def branch_page():  # noqa: ANN201
    return _page()


@bp.get("/branch/export", endpoint="branch_export")
@requires(Function.REPORT_BRANCH)
def branch_export():  # noqa: ANN201
    return excel_or_page("branch", _page)
