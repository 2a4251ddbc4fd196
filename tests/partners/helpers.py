"""Helpers for the cross-store tests: reading relations, grants and history back, pages, Excel."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from app.db import db
from app.history import HistoryEntry
from app.products.models import ProductPartner
from app.stores.models import PartnerRelation, Store

BLOCKED_MESSAGE = "此商店已由對方解除關聯，需經對方同意後請聯繫所屬業務解除封鎖"


def relation_of(issuer: Store, partner: Store) -> PartnerRelation | None:
    db.session.expire_all()  # the requests ran in their own sessions
    return db.session.scalar(
        select(PartnerRelation).where(PartnerRelation.store_id == issuer.id,
                                      PartnerRelation.partner_store_id == partner.id)
        .execution_options(unscoped=True))


def granted_ids(product_id: int) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(
        select(ProductPartner.partner_store_id).where(ProductPartner.product_id == product_id)))


def history_of(obj: object) -> list[HistoryEntry]:
    return list(db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.subject_type == type(obj).__tablename__,
                                   HistoryEntry.subject_id == obj.id)
        .order_by(HistoryEntry.id).execution_options(unscoped=True)))


def xlsx_rows(response) -> list[tuple]:  # noqa: ANN001
    assert response.status_code == 200
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    ws = load_workbook(BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    for row in rows:
        for cell in row:
            assert not (isinstance(cell, str) and cell.startswith(("=", "+", "-", "@"))), cell
    return rows


def table(html: str, testid: str) -> str:
    """The markup of the table marked data-testid=`testid` (not the menu or the header)."""
    start = html.index(f'data-testid="{testid}"')
    return html[start:html.index("</table>", start)]
