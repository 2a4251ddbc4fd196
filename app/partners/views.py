"""7-1 操作設定管理: 可核銷商店設定 (the issuer's side) and 聯合票券發行單位 (the partner's side).

The issuer's relations are its own rows (scoped automatically). The partner's side reads rows of
other stores, so those queries lift the scope and name `partner_store_id == g.store.id`
explicitly; a relation id that does not name the acting store is 404 on every route.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import history
from app.auth.access import acting_account as _actor
from app.auth.access import requires
from app.auth.permissions import Function, Level
from app.columns import xlsx_response
from app.db import db
from app.errors import DomainError
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.partners import lists, queries, rules, services
from app.partners.forms import AddPartnersForm, ConfirmForm, StatusForm
from app.stores.models import PartnerRelation
from app.tenancy import get_owned_or_404

bp = Blueprint("partners", __name__, url_prefix="/settings/partners")

SETTINGS = Function.OPERATION_SETTINGS


def _filters() -> tuple[str, str]:
    return (queries.clean_query(request.args.get("q")),
            queries.clean_status(request.args.get("status")))


def _history_context(relation: PartnerRelation, entries: list) -> dict:  # noqa: ANN001
    return {"relation": relation, "entries": entries, "viewer_store_id": g.store.id,
            "field_label": rules.field_label, "value_label": rules.value_label}


# 可核銷商店設定 (issuer side) --------------------------------------------------------------------

@bp.get("/")
@requires(SETTINGS)
def index():
    q, status = _filters()
    stmt = queries.issuer_relations(g.store.id, q=q, status=status)
    if request.args.get("format") == "xlsx":
        return xlsx_response(f"可核銷商店設定_{g.store.merchant_code}.xlsx", lists.ISSUER_SIDE,
                             db.session.scalars(stmt).unique(), sheet_title="可核銷商店設定")
    page = paginate(stmt, per_page=current_app.config["PAGE_SIZE"])
    return render("partners/index.html", page=page, q=q, status=status,
                  statuses=queries.STATUS_FILTERS, columns=lists.ISSUER_SIDE)


def _render_search(form: AddPartnersForm, q: str, status: int = 200):  # noqa: ANN202
    results = queries.search_candidates(g.store.id, q) if q else None
    return render("partners/search.html", form=form, q=q, results=results,
                  limit=queries.SEARCH_LIMIT), status


@bp.get("/search")
@requires(SETTINGS, Level.MODIFY)
def search():
    q = queries.clean_query(request.args.get("q"))
    return _render_search(AddPartnersForm(q=q), q)


@bp.post("/add")
@requires(SETTINGS, Level.MODIFY)
def add():
    form = AddPartnersForm()
    q = queries.clean_query(form.q.data)
    if not form.validate_on_submit():
        flash("請勾選要新增的商店", "danger")
        return _render_search(form, q, 422)
    try:
        opened = services.add_partners(_actor(), g.store, form.store_ids.data or [])
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "danger")
        return _render_search(form, q, err.status)
    except IntegrityError:  # the same store added by a concurrent request
        db.session.rollback()
        flash("所選商店已在可核銷商店名單中，請重新查詢", "danger")
        return _render_search(form, q, 409)
    if opened:
        names = "、".join(r.partner.label for r in opened)
        flash(f"已新增可核銷商店：{names}", "success")
    else:
        flash("所選商店皆已是可核銷商店", "info")
    return redirect_to(url_for("partners.index"))


@bp.route("/<int:relation_id>/edit", methods=["GET", "POST"])
@requires(SETTINGS, Level.MODIFY)
def edit(relation_id: int):
    relation = get_owned_or_404(PartnerRelation, relation_id,
                                for_update=request.method == "POST")
    form = StatusForm(data={"status": relation.status.value}) if request.method == "GET" \
        else StatusForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                changed = services.set_status(_actor(), relation, form.status.data == "open")
                db.session.commit()
            except DomainError as err:
                db.session.rollback()
                flash(err.message, "danger")
                status = err.status
            else:
                label = relation.partner.label
                if not changed:
                    flash(f"{label} 的關聯狀態未變更", "info")
                elif relation.is_open:
                    flash(f"已開啟與 {label} 的關聯，請至商品管理重新設定各商品的跨店核銷", "success")
                else:
                    flash(f"已解除與 {label} 的關聯，該商店已無法核銷本店票券", "success")
                return redirect_to(url_for("partners.index"))
        else:
            status = 422
    return render("partners/edit.html", relation=relation, form=form,
                  blocked_message=rules.BLOCKED), status


@bp.get("/<int:relation_id>/history")
@requires(SETTINGS)
def relation_history(relation_id: int):
    relation = get_owned_or_404(PartnerRelation, relation_id)
    return render("partners/history.html", side="issuer", other=relation.partner,
                  **_history_context(relation, history.entries_for(relation)))


# 聯合票券發行單位 (partner side) ----------------------------------------------------------------

def _joint_relation_or_404(relation_id: int, *, for_update: bool = False) -> PartnerRelation:
    """A relation naming the acting store as the partner, or 404. Unscoped: it is the issuer's
    row; the partner is checked in the query and again on the object (identity-map hits)."""
    stmt = (select(PartnerRelation)
            .where(PartnerRelation.id == relation_id,
                   PartnerRelation.partner_store_id == g.store.id)
            .execution_options(unscoped=True))
    if for_update:
        stmt = stmt.with_for_update()
    relation = db.session.scalar(stmt)
    if relation is None or relation.partner_store_id != g.store.id:
        abort(404)
    return relation


@bp.get("/joint-issuers")
@requires(SETTINGS)
def joint_issuers():
    q, status = _filters()
    stmt = queries.joint_issuer_relations(g.store.id, q=q, status=status)
    if request.args.get("format") == "xlsx":
        relations = db.session.scalars(stmt).unique().all()
        redeemed = queries.cross_store_redemptions(g.store.id, [r.store_id for r in relations])
        return xlsx_response(f"聯合票券發行單位_{g.store.merchant_code}.xlsx",
                             lists.partner_side(redeemed), relations, sheet_title="聯合票券發行單位")
    page = paginate(stmt)
    redeemed = queries.cross_store_redemptions(g.store.id, [r.store_id for r in page.items])
    return render("partners/joint_issuers.html", page=page, q=q, status=status,
                  statuses=queries.STATUS_FILTERS, columns=lists.partner_side(redeemed))


@bp.route("/joint-issuers/<int:relation_id>/edit", methods=["GET", "POST"])
@requires(SETTINGS, Level.MODIFY)
def joint_issuer_edit(relation_id: int):
    relation = _joint_relation_or_404(relation_id, for_update=request.method == "POST")
    form = ConfirmForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.dissolve_as_partner(_actor(), relation)
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "danger")
            status = err.status
        else:
            flash(f"已解除與發行單位 {relation.issuer.label} 的關聯", "success")
            return redirect_to(url_for("partners.joint_issuers"))
    elif form.is_submitted():
        abort(400)
    return render("partners/joint_issuer_edit.html", relation=relation, form=form), status


@bp.get("/joint-issuers/<int:relation_id>/history")
@requires(SETTINGS)
def joint_issuer_history(relation_id: int):
    relation = _joint_relation_or_404(relation_id)
    entries = history.entries_for(relation, unscoped=True)  # the entries are the issuer's
    return render("partners/history.html", side="partner", other=relation.issuer,
                  **_history_context(relation, entries))
