"""今日櫃台紀錄: what this account (or, for a clerk bound to a branch, its branch) did at the
counter today in the acting store — redemptions, cancellations and returns — with the shift's
totals per action and an Excel of the list. Read from the ticket history; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from app import clock
from app.columns import Column
from app.db import db
from app.history import HistoryEntry, action_label
from app.products.models import Product
from app.tickets.models import Ticket

COUNTER_ACTIONS = ("redeemed", "redemption_cancelled", "returned", "return_cancelled")


@dataclass(frozen=True)
class Row:
    at: datetime
    action: str
    serial: str
    product: str
    face_value: int
    actor: str

    @property
    def label(self) -> str:
        return action_label(self.action)


@dataclass(frozen=True)
class Total:
    action: str
    count: int
    face_value: int

    @property
    def label(self) -> str:
        return action_label(self.action)


def rows(store_id: int, account_id: int, branch_id: int | None) -> list[Row]:
    """Today's counter actions (Taipei business day) by this account or its branch, newest first."""
    day = clock.business_day()
    who = HistoryEntry.actor_id == account_id
    if branch_id is not None:
        who = or_(who, HistoryEntry.actor_branch_id == branch_id)
    stmt = (select(HistoryEntry.at, HistoryEntry.action, Ticket.serial, Ticket.face_value,
                   HistoryEntry.actor_label, Ticket.product_id)
            .join(Ticket, Ticket.id == HistoryEntry.subject_id)
            .where(HistoryEntry.subject_type == Ticket.__tablename__,
                   HistoryEntry.action.in_(COUNTER_ACTIONS),
                   HistoryEntry.actor_store_id == store_id, who,
                   HistoryEntry.at >= clock.day_start(day), HistoryEntry.at <= clock.day_end(day))
            .order_by(HistoryEntry.at.desc(), HistoryEntry.id.desc())
            .execution_options(unscoped=True))  # a partner's redemption is in the issuer's rows
    found = db.session.execute(stmt).all()
    names = _product_names({r.product_id for r in found})
    return [Row(r.at, r.action, r.serial, names.get(r.product_id, ""), r.face_value, r.actor_label)
            for r in found]


def _product_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Product.id, Product.name).where(Product.id.in_(ids))
                                   .execution_options(unscoped=True)).all())


def totals(found: list[Row]) -> list[Total]:
    """Count and face value per action, in the counter's order (actions not done are left out)."""
    return [Total(a, len(of), sum(r.face_value for r in of))
            for a in COUNTER_ACTIONS if (of := [r for r in found if r.action == a])]


COLUMNS: tuple[Column, ...] = (
    Column("at", "時間", lambda r: r.at, format="datetime"),
    Column("action", "動作", lambda r: r.label),
    Column("serial", "票券序號", lambda r: r.serial, format="code"),
    Column("product", "商品名稱", lambda r: r.product),
    Column("face_value", "面額", lambda r: r.face_value, format="money"),
    Column("actor", "操作人員", lambda r: r.actor),
)
