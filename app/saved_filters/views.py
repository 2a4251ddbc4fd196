"""儲存的篩選條件: save the page's current query under a name, apply one (a redirect to the page
with its query; the page's own permission check decides), delete one. Another account's
filter, or one of another store, answers 404."""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import login_required

from app import clock
from app.auth.access import acting_account
from app.errors import InvalidInput
from app.htmx import redirect_to
from app.saved_filters import pages, rules, services
from app.saved_filters.models import SavedFilter
from app.web import committed

bp = Blueprint("saved_filters", __name__, url_prefix="/saved-filters")

SAVED = "已儲存篩選條件「{}」"
DELETED = "已刪除篩選條件「{}」"


def _own_or_404(filter_id: int) -> SavedFilter:
    saved = services.find(acting_account(), pages.acting_store(), filter_id)
    if saved is None:
        abort(404)
    return saved


def _page_url(report: str, query: str) -> str:
    return url_for(report) + (f"?{query}" if query else "")


@bp.app_template_global()
def saved_filter_bar() -> dict | None:
    """What templates/saved_filters/_bar.html shows on this page, or None when it offers none."""
    if not pages.bar_offered():
        return None
    report = request.endpoint or ""
    keys = pages.keys_for(report) or frozenset()
    pairs = rules.sanitised(request.args.items(multi=True), keys)
    filters = services.filters_of(acting_account(), pages.acting_store(), report)
    return {"report": report, "query": rules.encoded(pairs), "filters": filters,
            "dates": any(k in keys for k in rules.DATE_KEYS),
            "labels": {f.id: rules.relative_label(rules.decoded(f.query)) for f in filters},
            "full": len(filters) >= rules.PER_REPORT}


@bp.post("/")
@login_required
def save():
    """儲存此篩選條件: the query the page showed, under the typed name."""
    report = request.form.get("report", "")
    keys = pages.keys_for(report)
    if keys is None:
        abort(404)  # not a page that offers saved filters
    pairs = rules.decoded(request.form.get("query", "")[:4 * rules.QUERY_MAX])
    with committed(refusals=InvalidInput) as outcome:
        saved = services.save(acting_account(), pages.acting_store(), report,
                              request.form.get("name"), pairs, keys, today=clock.business_day(),
                              relative_dates=request.form.get("relative") == "1")
    if outcome.refused:
        outcome.flash_error()
        return redirect_to(_page_url(report, rules.encoded(rules.sanitised(pairs, keys))))
    flash(SAVED.format(saved.name), "success")
    return redirect_to(_page_url(report, services.applied_query(saved, keys,
                                                                today=clock.business_day())))


@bp.get("/<int:filter_id>")
@login_required
def apply(filter_id: int):
    """Apply a saved filter: its page with its query (relative dates as of today)."""
    saved = _own_or_404(filter_id)
    keys = pages.keys_for(saved.report)
    if keys is None:
        abort(404)  # the page no longer offers saved filters
    return redirect_to(_page_url(saved.report, services.applied_query(
        saved, keys, today=clock.business_day())))


@bp.post("/<int:filter_id>/delete")
@login_required
def delete(filter_id: int):
    saved = _own_or_404(filter_id)
    report, name = saved.report, saved.name
    with committed():
        services.delete(saved)
    flash(DELETED.format(name), "success")
    back = request.form.get("query", "")[:4 * rules.QUERY_MAX]
    keys = pages.keys_for(report)
    if keys is None:
        return redirect_to(url_for("home.index"))
    return redirect_to(_page_url(report, rules.encoded(rules.sanitised(rules.decoded(back), keys))))
