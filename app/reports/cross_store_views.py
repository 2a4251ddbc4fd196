"""7-3 M 跨店核銷報表 pages: the query, the paginated list with totals, 下載Excel."""

from __future__ import annotations

from flask import request
from wtforms import SelectChoice

from app.auth.access import requires
from app.auth.permissions import Function
from app.errors import InvalidInput
from app.htmx import render
from app.pagination import paginate_rows
from app.reports import cross_store
from app.reports.page_support import excel_or_page, scope_for_page
from app.reports.query_forms import CrossStoreForm
from app.reports.views import bp
from app.saved_filters.pages import offers_saved_filters


def _page():  # noqa: ANN202
    form = CrossStoreForm(formdata=request.args)
    scope, error = scope_for_page()
    form.offer(scope)
    form.issuer.choices = [SelectChoice("", "全部發行商店"),
                           *[SelectChoice(str(i), label) for i, label in cross_store.issuer_choices(scope)]]
    context: dict = {"page": None, "lines": [], "totals": None}
    if error is None:
        try:
            query = cross_store.parse(scope, request.args)
            form.show_period(query.period.start.isoformat(), query.period.end.isoformat())
            totals = cross_store.totals(scope, query)
            page = paginate_rows(cross_store.lines(scope, query), total=totals.count)
            context.update(page=page, lines=[cross_store.to_line(row) for row in page.items],
                           totals=totals)
        except InvalidInput as err:
            error = err.message
    html = render("reports/cross_store.html", form=form, scope=scope, error=error,
                  columns=cross_store.columns(scope), **context)
    return (html, 422) if error else html


@bp.get("/cross-store", endpoint="cross_store")
@requires(Function.REPORT_CROSS_STORE)
@offers_saved_filters(CrossStoreForm)
def cross_store_page():  # noqa: ANN201
    return _page()


@bp.get("/cross-store/export", endpoint="cross_store_export")
@requires(Function.REPORT_CROSS_STORE)
def cross_store_export():  # noqa: ANN201
    return excel_or_page("cross_store", _page)
