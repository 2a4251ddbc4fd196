"""The operator console's one blueprint (/operator); its routes are in `views` (stores,
contracts, rates, news, jobs), `billing_views` (bills and payments) and `credit_views`
(over-date card transactions)."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, abort
from sqlalchemy import select

from app.db import db
from app.stores.models import Store

bp = Blueprint("operator", __name__, url_prefix="/operator")

M = TypeVar("M")


def of_store_or_404(model: type[M], store: Store, row_id: int) -> M:
    """The row `row_id` of `model` if it belongs to `store` (the store in the URL): another
    store's row is a 404, as an unknown one."""
    row = db.session.scalar(select(model).where(model.id == row_id,  # type: ignore[attr-defined]
                                                model.store_id == store.id))  # type: ignore[attr-defined]
    if row is None:
        abort(404)
    return row
