"""The operator's side of cross-store relations (跨店關聯封鎖): find relations, lift blocks.

A relation dissolved by its partner store is blocked: the issuer cannot re-open it until the
operator, having heard that the partner agrees, unblocks it here. Operators have no store scope;
every route is `operator_required`.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app import history, spreadsheets
from app.auth.access import operator_required
from app.db import db
from app.errors import DomainError
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.partners import queries, rules, services
from app.partners.forms import ConfirmForm
from app.stores.models import PartnerRelation

bp = Blueprint("partners_admin", __name__, url_prefix="/operator/partners")

PER_PAGE = 20
HEADERS = ["發行單位商店代號", "發行單位名稱", "可核銷商店代號", "可核銷商店名稱", "關聯狀態", "解除方",
           "封鎖", "最後異動時間"]


def _relation_or_404(relation_id: int, *, for_update: bool = False) -> PartnerRelation:
    stmt = (select(PartnerRelation).where(PartnerRelation.id == relation_id)
            .execution_options(unscoped=True))
    if for_update:
        stmt = stmt.with_for_update()
    relation = db.session.scalar(stmt)
    if relation is None:
        abort(404)
    return relation


@bp.get("/")
@operator_required
def index():
    q = queries.clean_query(request.args.get("q"))
    # The page opens on the blocked relations, the ones waiting for the operator.
    status = queries.clean_status(request.args.get("status", "blocked"))
    stmt = queries.all_relations(q=q, status=status)
    if request.args.get("format") == "xlsx":
        rows = (
            (r.issuer.merchant_code, r.issuer.name, r.partner.merchant_code, r.partner.name,
             r.status.label,
             rules.dissolved_by_label(r.dissolved_by.value if r.dissolved_by else None),
             "是" if r.blocked else "否", r.updated_at)
            for r in db.session.scalars(stmt).unique()
        )
        return spreadsheets.xlsx_response("跨店關聯.xlsx", HEADERS, rows, sheet_title="跨店關聯")
    page = paginate(stmt, per_page=PER_PAGE)
    return render("partners/admin_index.html", page=page, q=q, status=status,
                  statuses=queries.STATUS_FILTERS, form=ConfirmForm(),
                  dissolved_by_label=rules.dissolved_by_label)


@bp.post("/<int:relation_id>/unblock")
@operator_required
def unblock(relation_id: int):
    relation = _relation_or_404(relation_id, for_update=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    pair = f"{relation.issuer.label} → {relation.partner.label}"
    try:
        services.unblock(current_user, relation)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(f"{pair}：{err.message}", "danger")
    else:
        flash(f"已解除封鎖：{pair}，發行單位可重新開啟關聯", "success")
    return redirect_to(url_for("partners_admin.index", q=request.args.get("q") or None))


@bp.get("/<int:relation_id>/history")
@operator_required
def relation_history(relation_id: int):
    relation = _relation_or_404(relation_id)
    return render("partners/admin_history.html", relation=relation,
                  entries=history.entries_for(relation), viewer_store_id=None,
                  field_label=rules.field_label, value_label=rules.value_label)
