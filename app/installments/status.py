"""The installment period's status machine and the money rules of an installment order: pure
functions, no Flask, no database (docs/installments.md).

A period (期) is one serial of an order:

    unused ──(its expected date: the daily job)──▶ redeeming ──(bank acknowledges)──▶ redeemed
      │  ▲
      │  └──(order cancel-return, until 23:59 of the return day)──┐
      ▼                                                             │
    return_pending ──(nightly sync, once due)──▶ returning ──(bank)──▶ returned

An order is returned or cancel-returned as a whole: every unused period at once, never part.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app import clock
from app.refusal import Refusal


class PeriodStatus(enum.Enum):
    UNUSED = "unused"  # 未使用
    REDEEMING = "redeeming"  # 核銷中
    REDEEMED = "redeemed"  # 已核銷
    RETURN_PENDING = "return_pending"  # 待退貨
    RETURNING = "returning"  # 退貨中
    RETURNED = "returned"  # 已退貨

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def group(self) -> PeriodGroup:
        return next(g for g, members in GROUPS.items() if self in members)


class PeriodGroup(enum.Enum):
    UNUSED = "unused"  # 未使用
    REDEEMED = "redeemed"  # 核銷
    RETURNED = "returned"  # 退貨

    @property
    def label(self) -> str:
        return {"unused": "未使用", "redeemed": "核銷", "returned": "退貨"}[self.value]

    @property
    def members(self) -> tuple[PeriodStatus, ...]:
        return GROUPS[self]


P = PeriodStatus
STATUS_LABELS = {P.UNUSED: "未使用", P.REDEEMING: "核銷中", P.REDEEMED: "已核銷",
                 P.RETURN_PENDING: "待退貨", P.RETURNING: "退貨中", P.RETURNED: "已退貨"}
GROUPS = {
    PeriodGroup.UNUSED: (P.UNUSED,),
    PeriodGroup.REDEEMED: (P.REDEEMING, P.REDEEMED),
    PeriodGroup.RETURNED: (P.RETURN_PENDING, P.RETURNING, P.RETURNED),
}


class Event(enum.Enum):
    DUE = "due"  # the daily job: the expected date has come
    BANK_SENT = "bank_sent"  # the nightly sync sends a due return
    BANK_ACKNOWLEDGED = "bank_acknowledged"
    ORDER_RETURN = "order_return"  # 訂單退貨
    ORDER_CANCEL_RETURN = "order_cancel_return"  # 訂單取消退貨


# Every move a period can make, and what makes it; anything else is refused.
TRANSITIONS: dict[tuple[PeriodStatus, Event], PeriodStatus] = {
    (P.UNUSED, Event.DUE): P.REDEEMING,
    (P.REDEEMING, Event.BANK_ACKNOWLEDGED): P.REDEEMED,
    (P.UNUSED, Event.ORDER_RETURN): P.RETURN_PENDING,
    (P.RETURN_PENDING, Event.ORDER_CANCEL_RETURN): P.UNUSED,
    (P.RETURN_PENDING, Event.BANK_SENT): P.RETURNING,
    (P.RETURNING, Event.BANK_ACKNOWLEDGED): P.RETURNED,
}


def move(status: PeriodStatus, event: Event) -> PeriodStatus | None:
    """Where `event` takes a period in `status`; None when it does not apply."""
    return TRANSITIONS.get((status, event))


# Messages -------------------------------------------------------------------------------------

RETURNED_OK = "已送出退貨，訂單狀態已變更"
CANCELLED_OK = "已取消退貨，訂單狀態已變更"
NOTHING_UNUSED = Refusal("NothingUnused", "此訂單沒有未使用的序號，無法退貨")
MID_REDEMPTION = Refusal("MidRedemption", "此訂單有核銷中的序號，請待銀行核銷完成後再退貨")
ALREADY_RETURNED = Refusal("AlreadyReturned", "此訂單已退貨")
NOTHING_PENDING = Refusal("NothingPending", "此訂單沒有待退貨的序號，無法取消退貨")
CANCEL_WINDOW_CLOSED = Refusal("CancelWindowClosed", "已超過退貨當日 23:59，無法取消退貨")
FEE_NEGATIVE = Refusal("FeeNegative", "退貨手續費不可小於 0")
FEE_ABOVE_UNUSED = "退貨手續費不可超過未使用金額 {} 元"


# Rules of an order ----------------------------------------------------------------------------

def return_refusal(statuses: Sequence[PeriodStatus]) -> Refusal | None:
    """Why an order whose periods are in `statuses` cannot be returned now; None if it can.

    Every unused period goes at once; a period the bank is redeeming must finish first, so the
    money returned is known (and a period cannot be both released and refunded)."""
    if P.REDEEMING in statuses:
        return MID_REDEMPTION
    if P.UNUSED not in statuses:
        if any(s in (P.RETURN_PENDING, P.RETURNING, P.RETURNED) for s in statuses):
            return ALREADY_RETURNED
        return NOTHING_UNUSED
    if P.RETURN_PENDING in statuses or P.RETURNING in statuses:
        return ALREADY_RETURNED
    return None


def fee_refusal(fee: int, unused_amount: int) -> Refusal | None:
    if fee < 0:
        return FEE_NEGATIVE
    if fee > unused_amount:
        return Refusal("FeeAboveUnused", FEE_ABOVE_UNUSED.format(f"{unused_amount:,}"))
    return None


def cancel_return_refusal(statuses: Sequence[PeriodStatus], returned_at: datetime | None,
                          at: datetime) -> Refusal | None:
    """Why an order's return cannot be cancelled now: nothing pending, or the return's day over."""
    if P.RETURN_PENDING not in statuses or returned_at is None:
        return NOTHING_PENDING
    if clock.business_day(at) != clock.business_day(returned_at):
        return CANCEL_WINDOW_CLOSED
    return None


def due_for_redemption(status: PeriodStatus, expected_date: date, today: date) -> bool:
    """The daily job redeems an unused period once its expected date (預計核銷日) has come,
    including days the job missed."""
    return status is P.UNUSED and expected_date <= today


def return_send_day(issued_at: datetime, returned_at: datetime) -> date:
    """The first Taipei day whose 01:00 sync sends an order's return: the night after it, and
    never before issue day + 2 (the bank must hold the deposit, sent the night after issue)."""
    return max(clock.business_day(returned_at) + timedelta(days=1),
               clock.business_day(issued_at) + timedelta(days=2))


def release_send_day(redeemed_at: datetime) -> date:
    """A period redeemed on day D goes to the bank in the sync of D + 1 (01:00)."""
    return clock.business_day(redeemed_at) + timedelta(days=1)


# Money ----------------------------------------------------------------------------------------

def split_face_values(total: int, periods: int) -> list[int]:
    """The total split into `periods` whole-dollar face values; the remainder on the first."""
    if periods <= 0 or total < periods:
        raise ValueError("every period needs at least 1 dollar")
    base, remainder = divmod(total, periods)
    return [base + remainder] + [base] * (periods - 1)


def split_fee(fee: int, face_values: Sequence[int]) -> list[int]:
    """The handling fee shared across the unused periods, in proportion to their face values,
    in whole dollars: each share rounded down, the dollars left over one each to the earliest
    periods. The shares sum to the fee exactly and none exceeds its period's face value (a
    rounded-down share below the face value has room for one more dollar; with the fee equal to
    the total, every share is its face value and nothing is left over)."""
    total = sum(face_values)
    if not face_values or not 0 <= fee <= total:
        raise ValueError("the fee must be between 0 and the periods' total")
    shares = [fee * value // total for value in face_values]
    left = fee - sum(shares)
    for i in range(left):
        shares[i] += 1
    return shares


def expected_dates(first: date, periods: int, days_between: int) -> list[date]:
    """Each period's expected redemption date: the first, then every `days_between` days."""
    return [first + timedelta(days=days_between * n) for n in range(periods)]


def default_first_date(issue_day: date, days_between: int) -> date:
    """Without a first date the first period is released one period after issue."""
    return issue_day + timedelta(days=days_between)


def guarantee_end_text(done_periods: int, period_count: int, last_expected: date | None) -> str:
    """履約保障到期日: the last period's expected date, or 核銷完成 once every period is redeemed."""
    if period_count and done_periods == period_count:
        return "核銷完成"
    return f"{last_expected:%Y/%m/%d}" if last_expected else ""


@dataclass(frozen=True)
class Amounts:
    """An order's money by group: what the reports show per order."""

    total: int
    redeemed: int
    returned: int
    unused: int
    redeemed_periods: int
    returned_periods: int
    unused_periods: int

    @classmethod
    def of(cls, periods: Sequence[tuple[PeriodStatus, int]]) -> Amounts:
        def pick(group: PeriodGroup) -> list[int]:
            return [value for status, value in periods if status.group is group]
        red, ret, unu = (pick(g) for g in (PeriodGroup.REDEEMED, PeriodGroup.RETURNED,
                                            PeriodGroup.UNUSED))
        return cls(sum(v for _, v in periods), sum(red), sum(ret), sum(unu), len(red), len(ret),
                   len(unu))

    @property
    def completed(self) -> bool:
        return self.unused_periods == 0 and self.returned_periods == 0 and self.redeemed_periods > 0
