"""Monthly bills (6-2 帳單報表, docs/billing.md): on the 1st, each store's bill for the month
before, made from that month's charges and the adjustments recorded since its last bill.

A bill's lines are its charges grouped by fee kind and by the rate applied, so a rate changed
mid-month gives two lines, each with its own days, quantity and amount. The bills of a month are
written in one transaction, each claimed by the unique (store, month): a second run, or a second
worker at the same time, writes nothing. A bill never changes after it is written. Nothing here
commits.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update

from app import clock
from app.billing.models import Charge, FeeRate
from app.bills import rules
from app.bills.models import Bill, BillAdjustment, BillLine
from app.db import conflict_insert, db, in_chunks
from app.stores.models import Contract


def billed_stores(month: date) -> set[int]:
    """Stores with a contract during the month, or charges in it, or adjustments waiting."""
    first, last = rules.month_days(month)
    contracted = set(db.session.scalars(
        select(Contract.store_id).where(Contract.start_date <= last, Contract.end_date >= first)
        .execution_options(unscoped=True)))
    charged = set(db.session.scalars(
        select(Charge.store_id).where(Charge.day >= first, Charge.day <= last).distinct()
        .execution_options(unscoped=True)))
    waiting = set(db.session.scalars(
        select(BillAdjustment.store_id).where(BillAdjustment.bill_id.is_(None)).distinct()
        .execution_options(unscoped=True)))
    return contracted | charged | waiting


def _charge_lines(month: date, store_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    first, last = rules.month_days(month)
    rows = db.session.execute(
        select(Charge.store_id, Charge.kind, Charge.rate_id, func.min(Charge.day), func.max(Charge.day),
               func.sum(Charge.quantity), func.sum(Charge.amount), func.max(Charge.unit_amount),
               FeeRate.percent_bp)
        .outerjoin(FeeRate, FeeRate.id == Charge.rate_id)
        .where(Charge.day >= first, Charge.day <= last, Charge.store_id.in_(store_ids))
        .group_by(Charge.store_id, Charge.kind, Charge.rate_id, FeeRate.percent_bp)
        .order_by(Charge.store_id, Charge.kind, func.min(Charge.day))
        .execution_options(unscoped=True)).all()
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for store_id, kind, rate_id, first_day, last_day, quantity, amount, unit, percent in rows:
        lines[store_id].append({
            "kind": kind, "rate_id": rate_id, "first_day": first_day, "last_day": last_day,
            "quantity": int(quantity), "amount": int(amount),
            "unit_amount": None if percent is not None else int(unit or 0), "percent_bp": percent,
            "adjustment_id": None, "label": kind.label})
    return lines


def bill_month(month: date, store_ids: set[int] | None = None) -> list[int]:
    """Write the month's bills (in the caller's transaction); the ids of the bills written now
    (none for stores already billed that month)."""
    month = month.replace(day=1)
    if rules.bill_day(month) > clock.business_day():
        raise ValueError("a month is billed on the 1st of the next month, not before")
    stores = sorted(store_ids if store_ids is not None else billed_stores(month))
    day = rules.bill_day(month)
    written: dict[int, int] = {}
    for chunk in in_chunks(stores, 500):
        claimed = db.session.execute(
            conflict_insert(Bill).values([{"store_id": s, "month": month, "bill_day": day,
                                           "amount": 0, "created_at": clock.now()} for s in chunk])
            .on_conflict_do_nothing(index_elements=["store_id", "month"])
            .returning(Bill.store_id, Bill.id)).all()
        written |= dict(claimed)
    if not written:
        return []
    store_list = list(written)
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in in_chunks(store_list, 500):
        for store_id, found in _charge_lines(month, chunk).items():
            lines[store_id] += found
        adjustments = db.session.execute(
            select(BillAdjustment).where(BillAdjustment.store_id.in_(chunk),
                                         BillAdjustment.bill_id.is_(None),
                                         BillAdjustment.created_at < clock.day_start(day))
            .order_by(BillAdjustment.id).execution_options(unscoped=True)).scalars().all()
        for adj in adjustments:
            moved = db.session.execute(
                update(BillAdjustment).where(BillAdjustment.id == adj.id,
                                             BillAdjustment.bill_id.is_(None))
                .values(bill_id=written[adj.store_id])).rowcount
            if moved:
                lines[adj.store_id].append({
                    "kind": None, "rate_id": None, "first_day": None, "last_day": None,
                    "quantity": 0, "amount": adj.amount, "unit_amount": None, "percent_bp": None,
                    "adjustment_id": adj.id, "label": f"調整：{adj.reason}"[:200]})
    values = [line | {"bill_id": written[store_id]}
              for store_id, store_lines in lines.items() for line in store_lines]
    for chunk in in_chunks(values, 1000):
        db.session.execute(insert(BillLine), chunk)
    totals = {store_id: sum(line["amount"] for line in store_lines)
              for store_id, store_lines in lines.items()}
    for store_id, total in totals.items():
        if total:
            db.session.execute(update(Bill).where(Bill.id == written[store_id]).values(amount=total))
    return list(written.values())


def months_to_bill(today: date) -> list[date]:
    """The months whose bill day has come and that have no bills yet, oldest first: after the
    last month billed (catching up after downtime), or from the first charge's month."""
    last_billed = db.session.scalar(select(func.max(Bill.month)))
    if last_billed is not None:
        month = rules.bill_day(last_billed)
    else:
        first_charge = db.session.scalar(select(func.min(Charge.day)).execution_options(unscoped=True))
        month = (first_charge or rules.previous_month(today)).replace(day=1)
    months = []
    while rules.bill_day(month) <= today:
        months.append(month)
        month = rules.bill_day(month)
    return months
