"""Recording billable events at the rate in force on their day (the bills: `app.bills`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.billing.models import Charge, FeeKind, FeeRate
from app.db import db


def rate_on(store_id: int, kind: FeeKind, day: date) -> FeeRate | None:
    """The latest rate of this kind in force on `day`, if any."""
    return db.session.scalar(
        select(FeeRate)
        .where(FeeRate.store_id == store_id, FeeRate.kind == kind, FeeRate.effective_from <= day)
        .order_by(FeeRate.effective_from.desc(), FeeRate.id.desc())
        .limit(1)
        .execution_options(unscoped=True)
    )


def record_charge(store_id: int, kind: FeeKind, quantity: int, *, day: date,
                  reference: str = "") -> Charge:
    """Add one charge row for `quantity` units at the day's fixed rate (0 when none is set)."""
    rate = rate_on(store_id, kind, day)
    unit = rate.amount if rate else 0
    charge = Charge(store_id=store_id, kind=kind, day=day, quantity=quantity, unit_amount=unit,
                    amount=unit * quantity, reference=reference[:60],
                    rate_id=rate.id if rate else None)
    db.session.add(charge)
    return charge
