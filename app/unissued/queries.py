"""The 未發行訂單管理 query: the store's ticket orders by transaction date (at most three
months) or order number, holder and state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app import clock
from app.unissued import rules
from app.unissued.models import TicketOrder, TicketOrderState

# The state filter's choices: the two views of an unissued order, then how the others ended.
STATES = (
    ("unissued", "全部未發行"),
    ("issuable", "可發行"),
    ("overdue", "逾期未發行"),
    ("issued", "已發行"),
    ("abandoned", "已放棄授權"),
    ("cancelled", "逾期已取消授權"),
    ("all", "全部"),
)


@dataclass(frozen=True)
class Filter:
    store_id: int
    start: date | None = None
    end: date | None = None
    order_no: str = ""
    holder: str = ""  # name or mobile
    state: str = "unissued"


def ticket_orders(flt: Filter, *, today: date | None = None) -> Select:
    today = today or clock.business_day()
    last_issuable = today - timedelta(days=rules.ISSUE_DAYS)  # paid on it: still issuable
    stmt = (select(TicketOrder).where(TicketOrder.store_id == flt.store_id)
            .options(joinedload(TicketOrder.transaction)))
    unissued = TicketOrder.state == TicketOrderState.UNISSUED
    if flt.state == "unissued":
        stmt = stmt.where(unissued)
    elif flt.state == "issuable":
        stmt = stmt.where(unissued, TicketOrder.paid_on >= last_issuable)
    elif flt.state == "overdue":
        stmt = stmt.where(unissued, TicketOrder.paid_on < last_issuable)
    elif flt.state != "all":
        stmt = stmt.where(TicketOrder.state == TicketOrderState(flt.state))
    if flt.start:
        stmt = stmt.where(TicketOrder.paid_on >= flt.start)
    if flt.end:
        stmt = stmt.where(TicketOrder.paid_on <= flt.end)
    if flt.order_no:
        stmt = stmt.where(TicketOrder.merchant_order_no == flt.order_no)
    if flt.holder:
        stmt = stmt.where((TicketOrder.holder_name == flt.holder)
                          | (TicketOrder.holder_mobile == flt.holder))
    return stmt.order_by(TicketOrder.paid_at.desc(), TicketOrder.id.desc())
