"""Demo billing (六 帳單報表, docs/billing.md): three months of history so that the bill pages show
real numbers for `issuer` (使用後核銷) and `installment` (分期核銷).

- Rates (`load_demo_rates`, before the demo tickets so their charges are priced): issuer's return
  processing fee NT$5 per ticket from three months ago, changed to 1.5% of face value on the 15th
  of last month; SMS NT$1; platform print NT$3; serial NT$1. Installment: NT$20 per returned
  order; serial NT$2.
- History (`load_demo_billing`, after the demo tickets and installments): the daily settlement
  runs for every past day with real returns (the demo's tickets and orders, as the 02:30 job
  would); the days of the three months before them get charges recorded directly (batches of
  serials, each day's SMS, platform prints, returns priced as the settlement prices them: fixed,
  or the exact percentages summed and rounded half up once per day); then each month is billed
  on its bill day (the clock frozen on the 1st, 03:00), as the monthly job would.
- Payments: issuer paid its two oldest bills (the last one is unpaid); installment paid its two
  oldest and part of the last (unpaid, a smaller amount due).

Idempotent: the rates when the store has none, the history when issuer has bills.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import Account
from app.billing.models import Charge, FeeKind, FeeRate
from app.billing.services import rate_on, record_charge
from app.bills import rules
from app.bills import services as bills
from app.bills.jobs import settle_through
from app.bills.models import Bill, SettlementRun
from app.bills.monthly import bill_month
from app.db import db
from app.history import Actor, set_actor
from app.stores.models import Store

ISSUER_FACE_VALUES = (150, 680, 150)  # the demo's coffee and cake vouchers


def _months(today: date) -> list[date]:
    """The three months before this one, oldest first."""
    last = rules.previous_month(today)
    before = rules.previous_month(last)
    return [rules.previous_month(before), before, last]


def _rate(store: Store, kind: FeeKind, start: date, amount: int = 0, percent_bp: int | None = None) -> None:
    db.session.add(FeeRate(store_id=store.id, kind=kind, effective_from=start, amount=amount,
                           percent_bp=percent_bp))


def load_demo_rates(issuer: Store, installment: Store) -> None:
    today = clock.business_day()
    first = _months(today)[0]
    change = rules.previous_month(today).replace(day=15)
    if db.session.scalar(select(FeeRate.id).where(FeeRate.store_id == issuer.id).limit(1)) is None:
        _rate(issuer, FeeKind.RETURN, first, 5)
        _rate(issuer, FeeKind.RETURN, change, 0, 150)
        _rate(issuer, FeeKind.SMS, first, 1)
        _rate(issuer, FeeKind.PAPER_PRINT, first, 3)
        _rate(issuer, FeeKind.SERIAL, first, 1)
    if db.session.scalar(select(FeeRate.id).where(FeeRate.store_id == installment.id).limit(1)) is None:
        _rate(installment, FeeKind.RETURN, first, 20)
        _rate(installment, FeeKind.SERIAL, first, 2)
    db.session.flush()


def _returns(store_id: int, day: date, bases: list[int]) -> None:
    """A day's return charge, priced as the settlement prices it (one rounding per day)."""
    rate = rate_on(store_id, FeeKind.RETURN, day)
    fixed, percent = (rate.amount, rate.percent_bp) if rate else (0, None)
    total = sum(rules.fee_e4(fixed, percent, base) for base in bases)
    db.session.add(Charge(store_id=store_id, kind=FeeKind.RETURN, day=day, quantity=len(bases),
                          unit_amount=fixed if percent is None else 0,
                          amount=rules.round_half_up(total), reference=f"return:{day.isoformat()}",
                          rate_id=rate.id if rate else None))


def _issuer_day(store_id: int, day: date) -> None:
    n = day.day
    if day.weekday() in (0, 3):  # a batch on Mondays and Thursdays
        record_charge(store_id, FeeKind.SERIAL, 40 + (n * 7) % 60, day=day,
                      reference=f"batch:demo-{day:%Y%m%d}")
    record_charge(store_id, FeeKind.SMS, 3 + n % 9, day=day, reference=f"sms:{day.isoformat()}")
    if day.weekday() == 2:  # platform prints on Wednesdays
        record_charge(store_id, FeeKind.PAPER_PRINT, 10 + n % 5, day=day,
                      reference=f"print:demo-{day:%Y%m%d}")
    if n % 3 == 0:
        _returns(store_id, day, list(ISSUER_FACE_VALUES[: 1 + n % 3 + (n % 2)]))


def _installment_day(store_id: int, day: date) -> None:
    n = day.day
    if day.weekday() == 1:  # an upload of 12-period orders on Tuesdays
        record_charge(store_id, FeeKind.SERIAL, 12 * (3 + n % 4), day=day,
                      reference=f"installment_batch:demo-{day:%Y%m%d}")
    if n % 5 == 0:
        _returns(store_id, day, [12_000 + 600 * (n % 4)])


def load_demo_billing(issuer: Store, installment: Store) -> None:
    if db.session.scalar(select(Bill.id).where(Bill.store_id == issuer.id).limit(1)
                         .execution_options(unscoped=True)) is not None:
        return
    today = clock.business_day()
    months = _months(today)
    # the real returns of the demo, settled as the daily job would (through yesterday)
    settle_through(today - timedelta(days=1))
    first_settled = db.session.scalar(select(SettlementRun.day).order_by(SettlementRun.day).limit(1))
    end = min(first_settled or today, rules.bill_day(months[-1]))
    try:
        day = months[0]
        while day < end:
            clock.freeze(clock.taipei_datetime(day.year, day.month, day.day, 12))
            _issuer_day(issuer.id, day)
            _installment_day(installment.id, day)
            day += timedelta(days=1)
        db.session.flush()
        for month in months:
            bill_day = rules.bill_day(month)
            clock.freeze(clock.taipei_datetime(bill_day.year, bill_day.month, bill_day.day, 3))
            bill_month(month)
            db.session.commit()
    finally:
        clock.unfreeze()
    operator = db.session.scalar(select(Account).where(Account.username == "operator"))
    assert operator is not None
    set_actor(Actor(operator.id, operator.username, None, None, "127.0.0.1"))
    try:
        for store, partial in ((issuer, False), (installment, True)):
            store_bills = bills.bills_of(store.id)[-3:]
            paying = store_bills[:2] + ([store_bills[2]] if partial else [])
            for i, bill in enumerate(paying):
                amount = bill.amount if i < 2 else bill.amount // 2
                if amount > 0:
                    bills.record_payment(operator, store, amount=amount,
                                         paid_on=min(bill.bill_day + timedelta(days=9), today),
                                         reference=f"DEMO-{store.merchant_code}-{bill.month:%Y%m}")
    finally:
        set_actor(None)
    db.session.commit()
