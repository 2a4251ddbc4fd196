"""A month of activity for each redemption mode, on a frozen clock, through the real services
(issuance, platform print, returns, cancel-return, installment orders and returns), then the
daily settlement and the bill job: the bill equals the hand computation below, to the dollar.

Redeem-after-use, July 2026. Rates: 退貨作業費 5 per ticket, from 7/15 1.5 % of face value;
序號處理費 1, from 7/15 2; 簡訊 1; 紙本印製 3.

| day  | what                                                        | charged                 |
|------|-------------------------------------------------------------|-------------------------|
| 7/3  | issue 10 pickup (150), 1 short-escrow pickup (200), 2 gifts  | serial 13 × 1           |
| 7/3  | 4 SMS sent (one more failed: not billable)                   | SMS 4 × 1               |
| 7/5  | return 3 pickup                                              | 3 × 5 = 15              |
| 7/8  | return a gift voucher                                        | nothing (no escrow)     |
| 7/10 | issue 5 platform-print pickup; the operator prints them      | serial 5 × 1; print 5 × 3 = 15 |
| 7/12 | return the short one (its escrow ended 7/10)                 | nothing (out of escrow) |
| 7/16 | issue 4 pickup (333); return one the same day, and one 150   | serial 4 × 2 = 8; 4.995 + 2.25 = 7.245 → 7 |
| 7/16 | 2 SMS                                                        | SMS 2 × 1               |
| 7/20 | return 3 pickup (150)                                        | 3 × 2.25 = 6.75 → 7 (not 3 × 2) |
| 7/21 | return one, cancel it the same day                           | nothing                 |
| 7/31 | 23:30 return one (150)                                       | 2.25 → 2                |
| 8/1  | 00:30 return one                                             | August's                |

July's bill: serial 18 (rate 1) + 8 (rate 2), SMS 6, print 15, return 15 (rate 5) + 16 (1.5 %)
= 78.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app import clock
from app.billing.models import Charge, FeeKind, FeeRate
from app.bills.jobs import issue_bills, settle_returns
from app.bills.models import Bill, BillLine, ReturnFeeLine
from app.db import db
from app.installments import issuing
from app.installments import services as installments
from app.notifications.models import Channel, Message, MessageStatus
from app.printing import services as printing
from app.stores.models import DeliveryMethod
from app.tickets import services as tickets
from tests.factories import make_account, make_installment_store, make_operator, make_product
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime
PRINT = DeliveryMethod.MERCHANT_PRINT  # paper: no SMS of its own, so the SMS below are all


@pytest.fixture(autouse=True)
def _thaw():
    yield
    clock.unfreeze()


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> None:
    clock.freeze(T(2026, month, day, hour, minute))


def rate(store, kind: FeeKind, day: date, amount: int = 0, percent_bp: int | None = None) -> None:  # noqa: ANN001
    db.session.add(FeeRate(store_id=store.id, kind=kind, effective_from=day, amount=amount,
                           percent_bp=percent_bp))


def sms(store, count: int, *, billable: bool = True) -> None:  # noqa: ANN001
    for _ in range(count):
        db.session.add(Message(store_id=store.id, channel=Channel.SMS, kind="issuance_notice",
                               to_address="0912345678", body="票券已發行",
                               status=MessageStatus.SENT if billable else MessageStatus.FAILED,
                               billable=billable, sent_at=clock.now() if billable else None))
    db.session.commit()


def lines(bill: Bill) -> list[tuple[str, int, int, int | None, int | None, date | None, date | None]]:
    return sorted((line.kind.value, line.quantity, line.amount, line.unit_amount, line.percent_bp,
                   line.first_day, line.last_day) for line in bill.lines)


def run_bill_day(month: int) -> Bill | None:
    at(month, 1, 3, 0)
    issue_bills(clock.now().isoformat())
    return None


def test_a_redeem_after_use_month_bills_to_the_dollar(app, ctx):
    at(7, 1, 9)
    store, owner, pickup, gift = ready_store()
    short = make_product(store, "短期券", face_value=200, end=date(2026, 7, 10))
    big = make_product(store, "大券", face_value=333)
    operator = make_operator("opbill1")
    rate(store, FeeKind.RETURN, date(2026, 1, 1), amount=5)
    rate(store, FeeKind.RETURN, date(2026, 7, 15), percent_bp=150)
    rate(store, FeeKind.SERIAL, date(2026, 1, 1), amount=1)
    rate(store, FeeKind.SERIAL, date(2026, 7, 15), amount=2)
    rate(store, FeeKind.SMS, date(2026, 1, 1), amount=1)
    rate(store, FeeKind.PAPER_PRINT, date(2026, 1, 1), amount=3)
    db.session.commit()

    at(7, 3)
    a = issue(owner, store, pickup, 10, method=PRINT)
    [x] = issue(owner, store, short, 1, method=PRINT)
    g = issue(owner, store, gift, 2, method=PRINT)
    sms(store, 4)
    sms(store, 1, billable=False)

    def give_back(ticket) -> None:  # noqa: ANN001
        tickets.return_ticket(owner, store, ticket, reason="顧客退貨")
        db.session.commit()

    at(7, 5, 11)
    for t in a[:3]:
        give_back(t)
    at(7, 8)
    give_back(g[0])
    at(7, 10)
    printed = issue(owner, store, pickup, 5, method=DeliveryMethod.PLATFORM_PRINT)
    printing.mark_platform_printed(operator, printed[0].batch_id)
    db.session.commit()
    at(7, 12)
    give_back(x)
    at(7, 16, 9)
    b = issue(owner, store, big, 4, method=PRINT)
    sms(store, 2)
    at(7, 16, 20)
    give_back(b[0])  # issued and returned the same day
    give_back(a[3])
    at(7, 20)
    for t in a[4:7]:
        give_back(t)
    at(7, 21, 10)
    give_back(a[7])
    at(7, 21, 15)
    tickets.cancel_return(owner, store, a[7], reason="顧客改變心意")
    db.session.commit()
    at(7, 31, 23, 30)
    give_back(a[8])
    at(8, 1, 0, 30)
    give_back(a[9])

    run_bill_day(8)
    bill = db.session.scalar(select(Bill).where(Bill.store_id == store.id))
    assert bill is not None and bill.month == date(2026, 7, 1) and bill.bill_day == date(2026, 8, 1)
    assert lines(bill) == sorted([
        ("paper_print", 5, 15, 3, None, date(2026, 7, 10), date(2026, 7, 10)),
        ("return", 3, 15, 5, None, date(2026, 7, 5), date(2026, 7, 5)),
        ("return", 6, 16, None, 150, date(2026, 7, 16), date(2026, 7, 31)),
        ("serial", 18, 18, 1, None, date(2026, 7, 3), date(2026, 7, 10)),
        ("serial", 4, 8, 2, None, date(2026, 7, 16), date(2026, 7, 16)),
        ("sms", 6, 6, 1, None, date(2026, 7, 3), date(2026, 7, 16)),
    ])
    assert bill.amount == 78
    # the day's rounding, once per store and day: 7/20 is 6.75 → 7, where per ticket it would be 6
    day_charges = dict(db.session.execute(
        select(Charge.day, Charge.amount).where(Charge.store_id == store.id,
                                                Charge.kind == FeeKind.RETURN)).all())
    assert day_charges == {date(2026, 7, 5): 15, date(2026, 7, 16): 7, date(2026, 7, 20): 7,
                           date(2026, 7, 31): 2}
    fee_lines = dict(db.session.execute(select(ReturnFeeLine.ticket_id, ReturnFeeLine.fee_e4)).all())
    assert fee_lines[b[0].id] == 49_950 and fee_lines[a[3].id] == 22_500
    assert {x.id, g[0].id, a[7].id, a[9].id}.isdisjoint(fee_lines)


def test_an_installment_month_bills_to_the_dollar(app, ctx):
    """分期核銷, July 2026: 序號處理費 2 per period; 退貨作業費 20 per order, from 7/15 1 % of the
    order's returned amount. Orders of 12 periods (12,000 = 1,000 each; 9,000 = 750 each).

    | day  | what                                                   | charged               |
    |------|--------------------------------------------------------|-----------------------|
    | 7/2  | issue 3 orders (36 periods)                            | serial 36 × 2 = 72    |
    | 7/6  | return order 1 (12 unused: 12,000)                     | 20                    |
    | 7/16 | issue 1 order of 9,000 and return it the same day      | serial 12 × 2 = 24; 1 % of 9,000 = 90 |
    | 7/16 | return order 2 (12,000)                                 | 120 (7/16: 210)       |
    | 7/22 | return order 3, cancel it the same day                  | nothing               |

    July's bill: serial 96, return 20 + 210 = 230; 326."""
    at(7, 1, 9)
    store = make_installment_store(periods=12, days=30)
    store.current_contract.issuance_active = True
    owner = make_account(store)
    rate(store, FeeKind.SERIAL, date(2026, 1, 1), amount=2)
    rate(store, FeeKind.RETURN, date(2026, 1, 1), amount=20)
    rate(store, FeeKind.RETURN, date(2026, 7, 15), percent_bp=100)
    db.session.commit()

    def order(no: str, total: int):  # noqa: ANN202
        made = issuing.issue_order(owner, store, {
            "merchant_order_no": no, "total_amount": total, "purchaser_name": "王小明",
            "mobile": "0912345678", "email": "", "first_date": None})
        db.session.commit()
        return made

    at(7, 2)
    o1, o2, o3 = order("M1", 12000), order("M2", 12000), order("M3", 12000)
    at(7, 6)
    installments.return_order(owner, store, o1.id, fee=0, reason="退課")
    db.session.commit()
    at(7, 16, 9)
    o4 = order("M4", 9000)
    at(7, 16, 18)
    installments.return_order(owner, store, o4.id, fee=100, reason="當日退")
    installments.return_order(owner, store, o2.id, fee=0, reason="退課")
    db.session.commit()
    at(7, 22, 10)
    installments.return_order(owner, store, o3.id, fee=0, reason="退課")
    db.session.commit()
    at(7, 22, 11)
    installments.cancel_return(owner, store, o3.id, reason="誤按")
    db.session.commit()

    run_bill_day(8)
    bill = db.session.scalar(select(Bill).where(Bill.store_id == store.id))
    assert bill is not None
    assert lines(bill) == sorted([
        ("return", 1, 20, 20, None, date(2026, 7, 6), date(2026, 7, 6)),
        ("return", 2, 210, None, 100, date(2026, 7, 16), date(2026, 7, 16)),
        ("serial", 48, 96, 2, None, date(2026, 7, 2), date(2026, 7, 16)),
    ])
    assert bill.amount == 326


def test_the_jobs_run_twice_make_one_settlement_and_one_bill(app, ctx):
    at(7, 1, 9)
    store, owner, pickup, _ = ready_store()
    rate(store, FeeKind.RETURN, date(2026, 1, 1), amount=5)
    db.session.commit()
    at(7, 3)
    [t] = issue(owner, store, pickup, 1, method=PRINT)
    tickets.return_ticket(owner, store, t, reason="r")
    db.session.commit()
    at(7, 4, 2, 30)
    assert settle_returns(clock.now().isoformat()) == 1
    assert settle_returns(clock.now().isoformat()) == 0
    at(8, 1, 3)
    issue_bills(clock.now().isoformat())
    issue_bills(clock.now().isoformat())
    at(8, 2, 3)
    issue_bills(clock.now().isoformat())  # a later run catches nothing up twice
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 1
    assert db.session.scalar(select(func.count()).select_from(Charge).where(
        Charge.kind == FeeKind.RETURN)) == 1
    assert db.session.scalar(select(func.count()).select_from(BillLine)) == 2  # serial, return



