"""平台列印作業 (綠界列印, the operator): every store's succeeded platform-print batches with their
print state, each batch's print file (the PDF of all its tickets, for the print shop), and
標記已列印, which sets the tickets printed and bills the print fee once.

Operators have no store scope; every route is `operator_required` and reads batches unscoped.
"""

from __future__ import annotations

import io

from flask import Blueprint, flash, request, send_file, url_for
from flask_login import current_user

from app import listing
from app.auth.access import operator_required
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.printing import queries, services
from app.printing.forms import PlatformQueryForm

bp = Blueprint("platform_print", __name__, url_prefix="/operator/platform-print")

PER_PAGE = 50


@bp.get("/")
@operator_required
def index():
    form = PlatformQueryForm(formdata=request.args)
    if not form.validate():
        raise InvalidInput(listing.first_error(form))
    page = paginate(queries.platform_batches(state=form.state.data or "", q=form.q.data or ""),
                    per_page=PER_PAGE, max_per_page=PER_PAGE)
    return render("printing/platform.html", form=form, page=page,
                  stores=queries.stores_of(page.items))


@bp.get("/<int:batch_id>/file")
@operator_required
def print_file(batch_id: int):
    batch = services.platform_batch(batch_id)
    data = services.batch_pdf(batch)
    store = queries.stores_of([batch])[batch.store_id]
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=f"綠界列印_{store.merchant_code}_{batch.import_no}.pdf",
                         max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:batch_id>/printed")
@operator_required
def mark_printed(batch_id: int):
    outcome = services.mark_platform_printed(current_user._get_current_object(), batch_id)
    db.session.commit()
    batch = outcome.batch
    if outcome.run is None:
        flash(f"批次 {batch.import_no} 已於先前標記為已列印，未重複計費", "info")
    else:
        flash(f"已標記批次 {batch.import_no} 為已列印（{outcome.run.ticket_count} 張），"
              "並已計入紙本票券印製費", "success")
    return redirect_to(url_for("platform_print.index", **request.args))
