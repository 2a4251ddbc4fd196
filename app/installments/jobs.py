"""Job entry points of installment redemption; each reloads by id (or takes its slot), calls the
services, and commits."""

from __future__ import annotations

from datetime import datetime

from app import clock
from app.db import db
from app.installments import services


def redeem_due_periods(slot: str) -> int:
    """Daily (00:10 Taipei): every unused period whose expected date has come, up to the slot's
    day, → 核銷中, committed chunk by chunk (memory stays flat; a crash resumes where the
    committed chunks end, and a period is never moved twice). The next 01:00 bank sync sends
    them. Returns how many periods moved."""
    today = clock.business_day(datetime.fromisoformat(slot))
    total, after = 0, 0
    while True:
        moved, last = services.redeem_due(today, after)
        db.session.commit()
        if last is None:
            return total
        total, after = total + moved, last
