"""The daily installment redemption job over 100,000 due periods (target: under 60 seconds, memory
flat): 20,000 orders of 5 periods, every period's expected date come, on PostgreSQL. The job
moves them to 核銷中 chunk by chunk, each chunk committed with its history lines.

Recorded: the job's time, and its peak Python memory (tracemalloc, a second run on the same rows
reset to 未使用), which stays at one chunk's worth however many periods are due.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import date, timedelta

from bench.support import fresh_database

ORDERS = 20_000
PERIODS = 5
TARGET_SECONDS = 60.0


def _load(store_id: int, today: date) -> None:
    from sqlalchemy import insert

    from app import clock
    from app.db import db
    from app.installments.models import InstallmentOrder, InstallmentPeriod
    from app.installments.status import PeriodStatus

    now = clock.now()
    first = today - timedelta(days=PERIODS * 10)
    step = 5_000
    for start in range(0, ORDERS, step):
        orders = [{"store_id": store_id, "order_no": f"ECTB{n:016d}", "merchant_order_no": f"B{n}",
                   "total_amount": 5000, "period_count": PERIODS, "period_days": 10,
                   "first_date": first, "created_at": now, "refund_notify_url": "", "source": "api",
                   "purchaser_name": "王小明", "purchaser_mobile": "0912345678",
                   "purchaser_email": "", "return_reason": ""}
                  for n in range(start, start + step)]
        ids = list(db.session.scalars(insert(InstallmentOrder).returning(InstallmentOrder.id), orders))
        db.session.execute(insert(InstallmentPeriod), [
            {"store_id": store_id, "order_id": order_id, "number": k + 1,
             "serial": f"B{order_id:09d}{k + 1:06d}", "face_value": 1000,
             "expected_date": first + timedelta(days=10 * k), "status": PeriodStatus.UNUSED,
             "status_changed_at": now, "issued_at": now}
            for order_id in ids for k in range(PERIODS)])
        db.session.commit()


def run() -> list[dict]:
    from sqlalchemy import func, select, text, update

    from app import clock, create_app
    from app.db import db
    from app.history import HistoryEntry
    from app.installments.jobs import redeem_due_periods
    from app.installments.models import InstallmentPeriod
    from app.installments.status import PeriodStatus
    from bench.fixtures import installment_issuer

    load_before = os.getloadavg()[0]
    with fresh_database() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "inline"})
        with app.app_context():
            store, _ = installment_issuer(period_count=PERIODS, period_days=10)
            today = clock.business_day()
            _load(store.id, today)
            db.session.execute(text("ANALYZE"))
            db.session.commit()
            slot = clock.taipei_datetime(today.year, today.month, today.day, 0, 10).isoformat()

            start = time.perf_counter()
            moved = redeem_due_periods(slot)
            elapsed = time.perf_counter() - start
            redeeming = db.session.scalar(select(func.count()).where(
                InstallmentPeriod.status == PeriodStatus.REDEEMING))
            lines = db.session.scalar(select(func.count()).select_from(HistoryEntry))
            if moved != ORDERS * PERIODS or redeeming != moved or lines != moved:
                raise RuntimeError(f"moved {moved}, {redeeming} redeeming, {lines} history lines")
            print(f"  {moved} periods → 核銷中 in {elapsed:.2f} s", flush=True)

            db.session.execute(update(InstallmentPeriod).values(status=PeriodStatus.UNUSED,
                                                                redeemed_at=None))
            db.session.commit()
            tracemalloc.start()
            redeem_due_periods(slot)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  peak Python memory {peak / 1e6:.1f} MB", flush=True)
            db.session.remove()
            db.engine.dispose()
    return [
        {"name": "installments: daily job over 100,000 due periods", "value": elapsed, "unit": "s",
         "target": TARGET_SECONDS, "periods": ORDERS * PERIODS,
         "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
         "cores": os.cpu_count()},
        {"name": "installments: daily job peak Python memory", "value": peak / 1e6, "unit": "MB",
         "target": None},
    ]
