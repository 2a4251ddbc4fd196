"""select() builders for the cross-store pages (issuer side, partner side, operator)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from app import clock
from app.db import db
from app.stores.models import PartnerRelation, RelationStatus, Store
from app.tickets.models import Ticket
from app.tickets.status import STATUS_GROUPS, StatusGroup

SEARCH_LIMIT = 50
STATUS_FILTERS = {"": "全部", "open": "開啟", "dissolved": "解除關聯", "blocked": "封鎖中"}


def clean_query(value: str | None) -> str:
    return (value or "").strip()[:100]


def clean_status(value: str | None) -> str:
    return value if value in STATUS_FILTERS else ""


def _matches(store: type[Store], q: str):  # noqa: ANN202
    return or_(store.merchant_code.icontains(q, autoescape=True),
               store.name.icontains(q, autoescape=True))


def _status(stmt: Select, status: str) -> Select:
    if status == "blocked":
        return stmt.where(PartnerRelation.blocked.is_(True))
    if status:
        return stmt.where(PartnerRelation.status == RelationStatus(status))
    return stmt


def issuer_relations(store_id: int, *, q: str = "", status: str = "") -> Select:
    """可核銷商店設定: the relations this store issued, by partner merchant code."""
    partner = aliased(Store)
    stmt = (select(PartnerRelation)
            .join(partner, PartnerRelation.partner_store_id == partner.id)
            .options(joinedload(PartnerRelation.partner))
            .where(PartnerRelation.store_id == store_id))
    if q:
        stmt = stmt.where(_matches(partner, q))
    return _status(stmt, status).order_by(partner.merchant_code, PartnerRelation.id)


def joint_issuer_relations(partner_store_id: int, *, q: str = "", status: str = "") -> Select:
    """聯合票券發行單位: the relations naming this store as the partner. They belong to other
    stores, so the automatic scope is lifted and the partner named explicitly."""
    issuer = aliased(Store)
    stmt = (select(PartnerRelation)
            .join(issuer, PartnerRelation.store_id == issuer.id)
            .options(joinedload(PartnerRelation.issuer))
            .where(PartnerRelation.partner_store_id == partner_store_id))
    if q:
        stmt = stmt.where(_matches(issuer, q))
    return (_status(stmt, status).order_by(issuer.merchant_code, PartnerRelation.id)
            .execution_options(unscoped=True))


def search_candidates(store_id: int, q: str, *,
                      limit: int = SEARCH_LIMIT) -> list[tuple[Store, PartnerRelation | None]]:
    """Stores matching `q` (merchant code or name) that this store may add: not itself, not
    already open; each with its existing (dissolved) relation, if any."""
    relation = aliased(PartnerRelation)
    stmt = (select(Store, relation)
            .outerjoin(relation, and_(relation.partner_store_id == Store.id,
                                      relation.store_id == store_id))
            .where(Store.id != store_id, _matches(Store, q),
                   or_(relation.id.is_(None), relation.status != RelationStatus.OPEN))
            .order_by(Store.merchant_code)
            .limit(limit)
            .execution_options(unscoped=True))
    return [(s, r) for s, r in db.session.execute(stmt).all()]


def all_relations(*, q: str = "", status: str = "") -> Select:
    """The operator's view: every relation, matching either side's code or name."""
    issuer, partner = aliased(Store), aliased(Store)
    stmt = (select(PartnerRelation)
            .join(issuer, PartnerRelation.store_id == issuer.id)
            .join(partner, PartnerRelation.partner_store_id == partner.id)
            .options(joinedload(PartnerRelation.issuer), joinedload(PartnerRelation.partner)))
    if q:
        stmt = stmt.where(or_(_matches(issuer, q), _matches(partner, q)))
    return (_status(stmt, status)
            .order_by(PartnerRelation.updated_at.desc(), PartnerRelation.id.desc())
            .execution_options(unscoped=True))




CROSS_STORE_WINDOW_DAYS = 90


def cross_store_redemptions(partner_store_id: int, issuer_ids: list[int]) -> dict[int, tuple[int, int]]:
    """聯合票券發行資訊: for each issuer, the tickets this partner store redeemed in the last 90
    days (count, face value). A cancelled redemption clears the ticket's redeemer, so it drops
    out here as it does from the cross-store report. One grouped query for the whole page."""
    if not issuer_ids:
        return {}
    since = clock.day_start(clock.business_day() - timedelta(days=CROSS_STORE_WINDOW_DAYS - 1))
    rows = db.session.execute(
        select(Ticket.store_id, func.count(), func.coalesce(func.sum(Ticket.face_value), 0))
        .where(Ticket.store_id.in_(issuer_ids), Ticket.redeemed_store_id == partner_store_id,
               Ticket.redeemed_at >= since,
               Ticket.status.in_(STATUS_GROUPS[StatusGroup.REDEEMED]))
        .group_by(Ticket.store_id)
        .execution_options(unscoped=True))
    return {store_id: (count, amount) for store_id, count, amount in rows}
