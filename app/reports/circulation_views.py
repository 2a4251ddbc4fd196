"""7-3 I 流通報表 pages: the query, the figures, 下載Excel."""

from __future__ import annotations

from flask import request

from app.auth.access import requires
from app.auth.permissions import Function
from app.errors import InvalidInput
from app.htmx import render
from app.reports import circulation
from app.reports.page_support import excel_or_page, scope_for_page
from app.reports.query_forms import CirculationForm
from app.reports.views import bp
from app.saved_filters.pages import offers_saved_filters
from app.tickets.status import STATUS_GROUPS


def _page():  # noqa: ANN202
    form = CirculationForm(formdata=request.args)
    scope, error = scope_for_page()
    form.offer(scope)
    result = None
    if error is None:
        try:
            query = circulation.parse(request.args)
            result = circulation.report(scope, query)
            form.show_period(query.period.start.isoformat(), query.period.end.isoformat())
        except InvalidInput as err:
            error = err.message
    html = render("reports/circulation.html", form=form, scope=scope, result=result, error=error,
                  status_groups=STATUS_GROUPS, groups=list(STATUS_GROUPS))
    return (html, 422) if error else html


@bp.get("/circulation", endpoint="circulation")
@requires(Function.REPORT_CIRCULATION)
@offers_saved_filters(CirculationForm)
def circulation_page():  # noqa: ANN201
    return _page()


@bp.get("/circulation/export", endpoint="circulation_export")
@requires(Function.REPORT_CIRCULATION)
def circulation_export():  # noqa: ANN201
    return excel_or_page("circulation", _page)
