"""Cross-store relations (可核銷商店設定 / 聯合票券發行單位) and the operator's unblock.

Every function takes the acting account, asks `app.partners.rules` whether the move is allowed,
changes the relation, records history on it (the entry belongs to the issuer's store, so both
sides see it) and flushes; the view commits. Dissolving a relation, from either side, removes the
partner from every product of the issuer in the same transaction: re-opening does not restore
those grants, the issuer re-grants product by product.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput
from app.partners import rules
from app.partners.rules import Refused, RelationState
from app.products.models import Product, ProductPartner
from app.stores.models import DissolvedBy, PartnerRelation, RelationStatus, Store

UNSCOPED = {"unscoped": True}
REVOKE_REASON = "跨店關聯解除"
NO_MODIFY = "您沒有操作設定管理的修改權限"



# State <-> row ---------------------------------------------------------------------------------

def state_of(relation: PartnerRelation) -> RelationState:
    return RelationState(
        status=relation.status.value,
        dissolved_by=relation.dissolved_by.value if relation.dissolved_by else None,
        blocked=bool(relation.blocked),
    )


def _apply(relation: PartnerRelation, state: RelationState) -> None:
    relation.status = RelationStatus(state.status)
    relation.dissolved_by = DissolvedBy(state.dissolved_by) if state.dissolved_by else None
    relation.blocked = state.blocked


def _record(relation: PartnerRelation, action: str, before: RelationState | None,
            after: RelationState, *, reason: str = "") -> None:
    old = before.as_dict() if before else {}
    changes = history.diff(old, after.as_dict())
    if before is None:
        changes["partner_store"] = [None, relation.partner.merchant_code]
    moved = before is None or before.status != after.status
    history.record(relation, action, store_id=relation.store_id, changes=changes,
                   from_status=before.status if before and moved else None,
                   to_status=after.status if moved else None, reason=reason)


def _require_settings_modify(actor: Account) -> None:
    if actor.is_operator:
        raise Forbidden(NO_MODIFY)
    access.check(actor, None, Function.OPERATION_SETTINGS, no_right=NO_MODIFY)


def _move(move, state: RelationState) -> RelationState:  # noqa: ANN001
    try:
        return move(state)
    except Refused as err:
        raise DomainError(err.message, code="relation_refused") from err


# Grants ------------------------------------------------------------------------------------

def revoke_grants(relation: PartnerRelation) -> list[Product]:
    """Remove the partner from every product of the issuer; one history entry per product.

    Unscoped with the owner named explicitly: when the partner dissolves, the issuer's products
    are outside the acting store's scope, yet their grants must go.
    """
    products = db.session.scalars(
        select(Product)
        .join(ProductPartner, ProductPartner.product_id == Product.id)
        .where(Product.store_id == relation.store_id,
               ProductPartner.partner_store_id == relation.partner_store_id)
        .options(selectinload(Product.partner_links).selectinload(ProductPartner.partner))
        .order_by(Product.id)
        .execution_options(**UNSCOPED)
    ).unique().all()
    for product in products:
        before = sorted(link.partner.merchant_code for link in product.partner_links)
        for link in [lk for lk in product.partner_links
                     if lk.partner_store_id == relation.partner_store_id]:
            product.partner_links.remove(link)
        after = sorted(link.partner.merchant_code for link in product.partner_links)
        history.record(product, "partner_revoked", store_id=product.store_id,
                       changes={"partner_stores": [before, after]}, reason=REVOKE_REASON)
    db.session.flush()
    return list(products)


# Issuer side (可核銷商店設定) -----------------------------------------------------------------

def add_partners(actor: Account, store: Store, partner_store_ids: list[int]) -> list[PartnerRelation]:
    """Make each chosen store a redeemable store of `store`: a new open relation, or the
    re-opening of one the issuer dissolved. A blocked relation refuses the whole request.
    Returns the relations opened (those already open are left as they are)."""
    _require_settings_modify(actor)
    ids = list(dict.fromkeys(int(i) for i in partner_store_ids))
    if not ids:
        raise InvalidInput(rules.NONE_CHOSEN)
    if store.id in ids:
        raise InvalidInput(rules.SELF_PARTNER)
    partners = {s.id: s for s in db.session.scalars(select(Store).where(Store.id.in_(ids)))}
    if len(partners) != len(ids):
        raise InvalidInput("查無所選的商店，請重新查詢")
    existing = {
        r.partner_store_id: r for r in db.session.scalars(
            select(PartnerRelation)
            .where(PartnerRelation.store_id == store.id,
                   PartnerRelation.partner_store_id.in_(ids))
            .with_for_update()
            .execution_options(**UNSCOPED)
        )
    }
    opened: list[PartnerRelation] = []
    for partner_id in ids:
        partner = partners[partner_id]
        relation = existing.get(partner_id)
        if relation is None:
            relation = PartnerRelation(store_id=store.id, partner_store_id=partner_id,
                                       status=RelationStatus.OPEN, blocked=False)
            relation.partner = partner
            db.session.add(relation)
            db.session.flush()
            _record(relation, "relation_added", None, rules.NEW)
            opened.append(relation)
            continue
        before = state_of(relation)
        try:
            after = rules.issuer_open(before)
        except Refused as err:
            raise DomainError(f"{partner.label}：{err.message}", code="relation_blocked") from err
        if after == before:
            continue
        _apply(relation, after)
        _record(relation, "relation_reopened", before, after)
        opened.append(relation)
    db.session.flush()
    return opened


def set_status(actor: Account, relation: PartnerRelation, open: bool) -> bool:  # noqa: A002
    """The issuer opens or dissolves a relation (【編輯】). Dissolving removes the partner's
    grants on every product; opening does not restore them. Returns whether anything changed."""
    _require_settings_modify(actor)
    before = state_of(relation)
    after = _move(rules.issuer_open if open else rules.issuer_dissolve, before)
    if after == before:
        return False
    _apply(relation, after)
    if open:
        _record(relation, "relation_reopened", before, after)
    else:
        _record(relation, "relation_dissolved", before, after)
        revoke_grants(relation)
    db.session.flush()
    return True


def open_partner_stores(store: Store) -> list[Store]:
    """Stores this issuer has an open relation with: the choices for a product's partner list."""
    return list(db.session.scalars(
        select(Store)
        .join(PartnerRelation, PartnerRelation.partner_store_id == Store.id)
        .where(PartnerRelation.store_id == store.id,
               PartnerRelation.status == RelationStatus.OPEN)
        .order_by(Store.merchant_code)
        .execution_options(**UNSCOPED)
    ))


# Partner side (聯合票券發行單位) ---------------------------------------------------------------

def dissolve_as_partner(actor: Account, relation: PartnerRelation) -> None:
    """The partner ends the relation: grants go, and the issuer may not re-open until the
    operator unblocks it."""
    _require_settings_modify(actor)
    before = state_of(relation)
    after = _move(rules.partner_dissolve, before)
    _apply(relation, after)
    _record(relation, "relation_dissolved_by_partner", before, after)
    revoke_grants(relation)
    db.session.flush()


# Operator ------------------------------------------------------------------------------------

def unblock(operator: Account, relation: PartnerRelation) -> None:
    """Lift the block (the partner agreed); the relation stays dissolved until the issuer
    re-opens it."""
    if not operator.is_operator:
        raise Forbidden("僅平台管理員可解除封鎖")
    before = state_of(relation)
    after = _move(rules.operator_unblock, before)
    _apply(relation, after)
    _record(relation, "relation_unblocked", before, after)
    db.session.flush()
