"""Monthly bills for 1,000 stores over 10⁶ tickets (target: under 60 seconds), on PostgreSQL.

A month of charges as the platform would have written them: 1,000 stores in 使用後核銷 with a
contract and their rates (return fee fixed or 1.5% of face value, one store in ten changing it
on the 15th; SMS, print and serial fees); 10⁶ tickets issued as 20,000 batches (one serial charge
each); each store's SMS and platform prints every day; 50,000 tickets returned inside escrow,
settled day by day (one ReturnFeeLine per ticket, one rounded return charge per store and day,
one SettlementRun per day). Then the monthly job (`app.bills.jobs.issue_bills`) on the 1st:
bills, their lines and the bill-day notices (queued to Redis, no worker: sending is the outbox's
business, not the bill run's).

Checked: one bill per store, and each bill's amount equals the sum of the store's charges of
the month. Recorded: the job's time.
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

from bench.support import REDIS_URL, fresh_database

STORES = 1_000
TICKETS = 1_000_000
BATCHES_PER_STORE = 20  # 20,000 batches of 50 tickets
RETURNS_PER_STORE = 50  # 50,000 returned tickets
RETURN_DAYS = 10  # returns on 10 days of the month, 5 a day per store
FACE_VALUE = 150
TARGET_SECONDS = 60.0


def _load(month: date) -> None:
    from sqlalchemy import insert, select, text

    from app import clock
    from app.billing.models import Charge, FeeKind, FeeRate
    from app.bills import rules
    from app.bills.models import ReturnFeeLine, SettlementRun
    from app.db import db, in_chunks
    from app.issuance.models import Batch
    from app.products.models import Product, ProductKind
    from app.stores.models import Contract, DeliveryMethod, RedemptionMode, Store
    from app.tickets.models import Order, Ticket
    from app.tickets.status import TicketStatus

    first, last = rules.month_days(month)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    change = month.replace(day=15)
    now = clock.now()
    store_ids = list(db.session.scalars(insert(Store).returning(Store.id), [
        {"merchant_code": f"{8100000 + i}", "name": f"效能帳單商店{i}", "tax_id": f"{81000000 + i}",
         "finance_emails": f"finance{i}@bench.example"} for i in range(STORES)]))
    db.session.execute(insert(Contract), [
        {"store_id": s, "start_date": date(2020, 1, 1), "end_date": date(2099, 12, 31),
         "issuance_active": True, "redemption_mode": RedemptionMode.REDEEM_AFTER_USE,
         "enabled_methods": [m.value for m in DeliveryMethod], "sms_enabled": True}
        for s in store_ids])
    rates = []
    for i, s in enumerate(store_ids):
        percent = i % 2 == 1
        rates += [{"store_id": s, "kind": FeeKind.RETURN, "effective_from": date(2020, 1, 1),
                   "amount": 0 if percent else 5, "percent_bp": 150 if percent else None},
                  {"store_id": s, "kind": FeeKind.SMS, "effective_from": date(2020, 1, 1), "amount": 1},
                  {"store_id": s, "kind": FeeKind.PAPER_PRINT, "effective_from": date(2020, 1, 1),
                   "amount": 3},
                  {"store_id": s, "kind": FeeKind.SERIAL, "effective_from": date(2020, 1, 1), "amount": 1}]
        if i % 10 == 0:  # a change on the 15th: two return lines on the bill
            rates.append({"store_id": s, "kind": FeeKind.RETURN, "effective_from": change,
                          "amount": 0 if not percent else 4, "percent_bp": 200 if not percent else None})
    db.session.execute(insert(FeeRate), [r | {"created_at": now} for r in rates])
    rate_rows = db.session.execute(select(FeeRate.id, FeeRate.store_id, FeeRate.kind,
                                          FeeRate.effective_from, FeeRate.amount, FeeRate.percent_bp)
                                   .order_by(FeeRate.effective_from)).all()
    rate_of: dict[tuple[int, FeeKind], list] = {}
    for row in rate_rows:
        rate_of.setdefault((row.store_id, row.kind), []).append(row)

    def rate(store_id: int, kind: FeeKind, day: date):  # noqa: ANN202
        return [r for r in rate_of[(store_id, kind)] if r.effective_from <= day][-1]

    product_ids = list(db.session.scalars(insert(Product).returning(Product.id), [
        {"store_id": s, "name": "效能帳單提貨券", "kind": ProductKind.PICKUP, "face_value": FACE_VALUE,
         "escrow_end": date(2099, 12, 31), "created_at": now} for s in store_ids]))
    batch_ids = list(db.session.scalars(insert(Batch).returning(Batch.id), [
        {"store_id": s, "import_no": "BENCH-BILL", "delivery_method": DeliveryMethod.IMMEDIATE,
         "created_at": now} for s in store_ids]))
    order_ids = list(db.session.scalars(insert(Order).returning(Order.id), [
        {"store_id": s, "batch_id": b, "order_no": f"ECTBILL{s:012d}", "merchant_order_no": f"R{s}",
         "delivery_method": DeliveryMethod.IMMEDIATE, "created_at": now}
        for s, b in zip(store_ids, batch_ids, strict=True)]))
    db.session.commit()

    charges: list[dict] = []
    for s in store_ids:
        for k in range(BATCHES_PER_STORE):
            day = days[(k * 3) % len(days)]
            r = rate(s, FeeKind.SERIAL, day)
            quantity = TICKETS // (STORES * BATCHES_PER_STORE)
            charges.append({"store_id": s, "kind": FeeKind.SERIAL, "day": day, "quantity": quantity,
                            "unit_amount": r.amount, "amount": r.amount * quantity,
                            "reference": f"batch:{s}-{k}", "rate_id": r.id, "created_at": now})
        for day in days:
            for kind, quantity in ((FeeKind.SMS, 5 + s % 7), (FeeKind.PAPER_PRINT, 1 + s % 3)):
                r = rate(s, kind, day)
                charges.append({"store_id": s, "kind": kind, "day": day, "quantity": quantity,
                                "unit_amount": r.amount, "amount": r.amount * quantity,
                                "reference": f"{kind.value}:{day.isoformat()}", "rate_id": r.id,
                                "created_at": now})
    for chunk in in_chunks(charges, 10_000):
        db.session.execute(insert(Charge), chunk)
    db.session.commit()

    # the returned tickets and their daily settlement
    per_day = RETURNS_PER_STORE // RETURN_DAYS
    return_days = days[1:1 + RETURN_DAYS * 2:2]
    serial = 0
    for chunk in in_chunks(list(zip(store_ids, product_ids, batch_ids, order_ids, strict=True)), 200):
        tickets, plan = [], []
        for s, p, b, o in chunk:
            for day in return_days:
                at = clock.taipei_datetime(day.year, day.month, day.day, 15)
                for _ in range(per_day):
                    serial += 1
                    tickets.append({"store_id": s, "product_id": p, "order_id": o, "batch_id": b,
                                    "serial": f"B{serial:015d}",
                                    **Ticket.new_secret_values(f"B{serial:015d}"),
                                    "kind": ProductKind.PICKUP, "face_value": FACE_VALUE,
                                    "delivery_method": DeliveryMethod.IMMEDIATE,
                                    "status": TicketStatus.RETURNED, "status_changed_at": at,
                                    "issued_at": at - timedelta(days=3), "expires_on": date(2099, 12, 31),
                                    "returned_at": at})
                    plan.append((s, day))
        ids = list(db.session.scalars(insert(Ticket).returning(Ticket.id), tickets))
        by_day: dict[tuple[int, date], list[int]] = {}
        for ticket_id, key in zip(ids, plan, strict=True):
            by_day.setdefault(key, []).append(ticket_id)
        lines = []
        for (s, day), ticket_ids in by_day.items():
            r = rate(s, FeeKind.RETURN, day)
            fees = [rules.fee_e4(r.amount, r.percent_bp, FACE_VALUE) for _ in ticket_ids]
            charge_id = db.session.scalar(insert(Charge).returning(Charge.id).values(
                store_id=s, kind=FeeKind.RETURN, day=day, quantity=len(ticket_ids),
                unit_amount=r.amount if r.percent_bp is None else 0,
                amount=rules.round_half_up(sum(fees)), reference=f"return:{day.isoformat()}",
                rate_id=r.id, created_at=now))
            lines += [{"store_id": s, "charge_id": charge_id, "day": day, "ticket_id": t,
                       "installment_order_id": None, "base_amount": FACE_VALUE, "rate_id": r.id,
                       "fee_e4": fee} for t, fee in zip(ticket_ids, fees, strict=True)]
        db.session.execute(insert(ReturnFeeLine), lines)
        db.session.commit()
    db.session.execute(insert(SettlementRun), [
        {"day": day, "stores": STORES if day in return_days else 0,
         "lines": STORES * per_day if day in return_days else 0, "created_at": now} for day in days])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def run() -> list[dict]:
    from redis import Redis
    from sqlalchemy import func, select

    from app import clock, create_app
    from app.billing.models import Charge
    from app.bills import jobs, rules
    from app.bills.models import Bill
    from app.db import db
    from app.notifications.models import Message

    load_before = os.getloadavg()[0]
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    with fresh_database() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_MODE": "rq", "REDIS_URL": REDIS_URL})
        with app.app_context():
            today = clock.business_day()
            month = rules.previous_month(today)
            started = time.perf_counter()
            _load(month)
            print(f"  loaded {STORES} stores, a month of charges in {time.perf_counter() - started:.1f} s",
                  flush=True)
            bill_day = rules.bill_day(month)
            clock.freeze(clock.taipei_datetime(bill_day.year, bill_day.month, bill_day.day, 3, 0))
            try:
                start = time.perf_counter()
                written = jobs.issue_bills(clock.now().isoformat())
                elapsed = time.perf_counter() - start
            finally:
                clock.unfreeze()
            first, last = rules.month_days(month)
            charged = dict(db.session.execute(
                select(Charge.store_id, func.sum(Charge.amount))
                .where(Charge.day >= first, Charge.day <= last).group_by(Charge.store_id)).all())
            billed = dict(db.session.execute(select(Bill.store_id, Bill.amount)
                                             .where(Bill.month == month)).all())
            notices = db.session.scalar(select(func.count()).select_from(Message)
                                        .where(Message.kind == "bill_notice"))
            if written != STORES or len(billed) != STORES or billed != charged or notices != STORES:
                raise RuntimeError(f"{written} bills written, {len(billed)} found, {notices} notices, "
                                   f"totals {'match' if billed == charged else 'differ'}")
            tickets = sum(int(q) for q in db.session.scalars(
                select(func.sum(Charge.quantity)).where(Charge.kind == "serial")))
            print(f"  {written} bills ({tickets:,} tickets issued, {sum(billed.values()):,} NTD) "
                  f"with their notices in {elapsed:.2f} s", flush=True)
            db.session.remove()
            db.engine.dispose()
    redis.flushdb()
    return [{"name": "billing: monthly bills for 1,000 stores over 10⁶ tickets", "value": elapsed,
             "unit": "s", "target": TARGET_SECONDS, "stores": STORES, "tickets": TICKETS,
             "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
             "cores": os.cpu_count()}]
