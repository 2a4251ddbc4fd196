"""The daily return-fee settlement (退貨作業費, docs/billing.md): for each past business day, once,
every return that day that the platform charges for, at the rate in force that day:

- pickup vouchers returned inside their escrow period (待退貨 / 退貨中 / 已退貨; a return after the
  escrow end, 已退貨且價金保管逾期, and gift vouchers are not charged);
- installment orders returned that day (per order, or a percentage of the order's returned amount).

The same run charges the day's SMS (票券-簡訊服務費): every billable message (an SMS the gateway
accepted) sent that day, per store, at the day's rate.

A day is settled after it is over, when its returns can no longer be cancelled (cancel-return
ends at 23:59 of the return's day). Each return's exact fee is kept as a line; the store's day is
their sum rounded half up once, written as one charge. The day is claimed by a unique row in the
same transaction, so two workers (or a re-run) settle it once. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from app import clock
from app.billing.models import Charge, FeeKind
from app.billing.services import rate_on, record_charge
from app.bills import rules
from app.bills.models import ReturnFeeLine, SettlementRun
from app.db import conflict_insert, db
from app.installments.models import InstallmentOrder, InstallmentPeriod
from app.installments.status import PeriodGroup
from app.notifications.models import Channel, Message
from app.products.models import ProductKind
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S

CHARGED_TICKET_STATUSES = (S.RETURN_PENDING, S.RETURNING, S.RETURNED)  # returned inside escrow


def first_unsettled_day() -> date | None:
    """The day after the last one settled; before any, the first day anything was returned or a
    billable SMS sent."""
    last = db.session.scalar(select(func.max(SettlementRun.day)))
    if last is not None:
        return last + timedelta(days=1)
    firsts = [db.session.scalar(select(func.min(Ticket.returned_at)).execution_options(unscoped=True)),
              db.session.scalar(select(func.min(InstallmentOrder.returned_at))
                                .execution_options(unscoped=True)),
              db.session.scalar(select(func.min(Message.sent_at))
                                .where(Message.billable.is_(True), Message.channel == Channel.SMS)
                                .execution_options(unscoped=True))]
    found = [clock.business_day(at) for at in firsts if at is not None]
    return min(found) if found else None


def _claim(day: date) -> int | None:
    return db.session.scalar(conflict_insert(SettlementRun).values(day=day, created_at=clock.now())
                             .on_conflict_do_nothing(index_elements=["day"])
                             .returning(SettlementRun.id))


def _returns(day: date) -> list[dict[str, Any]]:
    """Every charged return of the day: (store, ticket or order, base amount)."""
    start, end = clock.day_start(day), clock.day_start(day + timedelta(days=1))
    tickets = db.session.execute(
        select(Ticket.id, Ticket.store_id, Ticket.face_value)
        .where(Ticket.returned_at >= start, Ticket.returned_at < end,
               Ticket.kind == ProductKind.PICKUP, Ticket.status.in_(CHARGED_TICKET_STATUSES))
        .order_by(Ticket.id).execution_options(unscoped=True)).all()
    returned = (select(func.coalesce(func.sum(InstallmentPeriod.face_value), 0))
                .where(InstallmentPeriod.order_id == InstallmentOrder.id,
                       InstallmentPeriod.status.in_(PeriodGroup.RETURNED.members))
                .correlate(InstallmentOrder).scalar_subquery())
    orders = db.session.execute(
        select(InstallmentOrder.id, InstallmentOrder.store_id, returned.label("returned"))
        .where(InstallmentOrder.returned_at >= start, InstallmentOrder.returned_at < end)
        .order_by(InstallmentOrder.id).execution_options(unscoped=True)).all()
    return ([{"store_id": t.store_id, "ticket_id": t.id, "installment_order_id": None,
              "base_amount": t.face_value} for t in tickets]
            + [{"store_id": o.store_id, "ticket_id": None, "installment_order_id": o.id,
                "base_amount": int(o.returned)} for o in orders])


def _charge_sms(day: date) -> None:
    start, end = clock.day_start(day), clock.day_start(day + timedelta(days=1))
    counts = db.session.execute(
        select(Message.store_id, func.count())
        .where(Message.billable.is_(True), Message.channel == Channel.SMS,
               Message.store_id.is_not(None), Message.sent_at >= start, Message.sent_at < end)
        .group_by(Message.store_id).execution_options(unscoped=True)).all()
    for store_id, count in counts:
        record_charge(store_id, FeeKind.SMS, int(count), day=day, reference=f"sms:{day.isoformat()}")


def settle_day(day: date) -> bool:
    """Settle one past day's returns (in the caller's transaction); False if it was settled."""
    if day >= clock.business_day():
        raise ValueError("only a day that is over can be settled")
    run_id = _claim(day)
    if run_id is None:
        return False
    by_store: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _returns(day):
        by_store[row["store_id"]].append(row)
    lines: list[dict[str, Any]] = []
    now = clock.now()
    for store_id, returns in by_store.items():
        rate = rate_on(store_id, FeeKind.RETURN, day)
        fixed, percent = (rate.amount, rate.percent_bp) if rate else (0, None)
        for r in returns:
            r["fee_e4"] = rules.fee_e4(fixed, percent, r["base_amount"])
        total = sum(r["fee_e4"] for r in returns)
        charge_id = db.session.scalar(insert(Charge).values(
            store_id=store_id, kind=FeeKind.RETURN, day=day, quantity=len(returns),
            unit_amount=fixed if percent is None else 0, amount=rules.round_half_up(total),
            reference=f"return:{day.isoformat()}", rate_id=rate.id if rate else None,
            created_at=now).returning(Charge.id))
        lines += [r | {"charge_id": charge_id, "day": day, "rate_id": rate.id if rate else None}
                  for r in returns]
    if lines:
        db.session.execute(insert(ReturnFeeLine), lines)
    _charge_sms(day)
    run = db.session.get(SettlementRun, run_id)
    assert run is not None
    run.stores, run.lines = len(by_store), len(lines)
    return True
