"""The ticket status machine of docs/tickets.md: pure, no Flask, no database.

Every question "may this happen to this ticket now?" is answered here, from the ticket's facts
and the time, with the next status or a named refusal a clerk can read. Services then apply the
answer with a compare-and-set on the status they read, so of two concurrent attempts one wins
and the other is told why (e.g. AlreadyRedeemed).

Time rules: business days and "same day until 23:59" windows are Taipei days (app.clock). The
escrow period (pickup) and the validity (gift) run through 23:59:59 Taipei of their end date;
a ticket past it counts as expired at once, before the daily job writes the new status, so
every screen agrees with the job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app import clock
from app.refusal import Refusal  # noqa: F401  (re-exported for callers)
from app.tickets.status import TicketStatus as S

PICKUP, GIFT = "pickup", "gift"


class Action(enum.Enum):
    REDEEM = "redeem"  # 核銷
    CANCEL_REDEMPTION = "cancel_redemption"  # 取消核銷
    RETURN = "return"  # 退貨
    CANCEL_RETURN = "cancel_return"  # 取消退貨
    EXPIRE = "expire"  # 價金保管逾期 / 失效 (daily job)
    SEND_TO_BANK = "send_to_bank"  # nightly sync sends the redemption / return
    BANK_ACKNOWLEDGED = "bank_acknowledged"  # the bank confirmed it
    FINALISE_WITHOUT_BANK = "finalise_without_bank"  # gift vouchers: no bank involved

    @property
    def label(self) -> str:
        return {"redeem": "核銷", "cancel_redemption": "取消核銷", "return": "退貨",
                "cancel_return": "取消退貨", "expire": "逾期", "send_to_bank": "送銀行",
                "bank_acknowledged": "銀行完成", "finalise_without_bank": "結案"}[self.value]


ALREADY_REDEEMED = Refusal("AlreadyRedeemed", "此票券已核銷")
ALREADY_RETURNED = Refusal("AlreadyReturned", "此票券已退貨")
EXPIRED = Refusal("Expired", "此票券已超過使用期限，已失效")
NOT_YET_VALID = Refusal("NotYetValid", "此票券尚未到使用起始日，無法核銷")
NOT_REDEEMED = Refusal("NotRedeemed", "此票券尚未核銷，無需取消核銷")
NOT_RETURNED = Refusal("NotReturned", "此票券尚未退貨，無需取消退貨")
CANCEL_WINDOW_CLOSED = Refusal("CancelWindowClosed", "已超過可取消的時間（限操作當日 23:59 前）")
GIFT_NO_CANCEL_REDEMPTION = Refusal("GiftCannotCancelRedemption", "贈品券核銷後無法取消核銷")
SENT_TO_BANK = Refusal("SentToBank", "票券資料已上傳銀行價金保管系統，無法再變更票券狀態")
FINAL = Refusal("Final", "票券已完成，無法再變更票券狀態")
FEE_NOT_ALLOWED = Refusal("FeeNotAllowed", "僅價金保管期間內的提貨券可以設定退貨手續費")
FEE_ABOVE_FACE_VALUE = Refusal("FeeAboveFaceValue", "退貨手續費不可超過票券面額")
FEE_NEGATIVE = Refusal("FeeNegative", "退貨手續費不可為負數")
NOT_APPLICABLE = Refusal("NotApplicable", "此票券目前不需要此處理")


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about one ticket."""

    status: S
    kind: str  # "pickup" | "gift"
    face_value: int
    expires_on: date  # escrow end (pickup) or validity end (gift)
    valid_from: date | None = None  # deferred electronic tickets
    issued_at: datetime | None = None
    redeemed_at: datetime | None = None
    returned_at: datetime | None = None

    @classmethod
    def of(cls, ticket: Any, *, status: S | None = None) -> Facts:
        """The facts of a ticket, or of any row with its columns (a report row, a job's select);
        `status` when the row names the stored status otherwise."""
        kind = ticket.kind
        return cls(status=status or ticket.status, kind=getattr(kind, "value", kind),
                   face_value=ticket.face_value, expires_on=ticket.expires_on,
                   valid_from=getattr(ticket, "valid_from", None),
                   issued_at=getattr(ticket, "issued_at", None),
                   redeemed_at=getattr(ticket, "redeemed_at", None),
                   returned_at=getattr(ticket, "returned_at", None))


@dataclass(frozen=True)
class Move:
    """An allowed transition. `fee` is the return handling fee kept (returns only)."""

    to: S
    fee: int | None = None


REDEEMED_GROUP = frozenset({S.USED, S.REDEEMING, S.REDEEMED, S.USED_AFTER_EXPIRY})
RETURNED_GROUP = frozenset({S.RETURN_PENDING, S.RETURNING, S.RETURNED, S.RETURNED_ESCROW_EXPIRED})

# Every transition the machine can make; property tests check nothing else is ever reached.
TRANSITIONS: frozenset[tuple[S, S]] = frozenset({
    (S.UNUSED, S.USED), (S.UNUSED_ESCROW_EXPIRED, S.USED_AFTER_EXPIRY),
    (S.USED, S.UNUSED), (S.USED_AFTER_EXPIRY, S.UNUSED_ESCROW_EXPIRED),
    (S.UNUSED, S.RETURN_PENDING), (S.UNUSED_ESCROW_EXPIRED, S.RETURNED_ESCROW_EXPIRED),
    (S.RETURN_PENDING, S.UNUSED), (S.RETURNED_ESCROW_EXPIRED, S.UNUSED_ESCROW_EXPIRED),
    (S.UNUSED, S.UNUSED_ESCROW_EXPIRED), (S.UNUSED, S.EXPIRED),
    (S.USED, S.REDEEMING), (S.REDEEMING, S.REDEEMED),
    (S.RETURN_PENDING, S.RETURNING), (S.RETURNING, S.RETURNED),
    (S.USED, S.REDEEMED), (S.RETURN_PENDING, S.RETURNED),  # gift vouchers, no bank
    # an unused pickup voucher past its escrow end, before the daily job wrote the expiry
    (S.UNUSED, S.USED_AFTER_EXPIRY), (S.UNUSED, S.RETURNED_ESCROW_EXPIRED),
})


def is_past_end(facts: Facts, at: datetime) -> bool:
    """Past 23:59:59 Taipei of the end date (escrow end or validity end)."""
    return at > clock.day_end(facts.expires_on)


def effective_status(facts: Facts, at: datetime) -> S:
    """The status as of `at`: an unused ticket past its end date is already expired, whether or
    not the daily job has written it yet."""
    if facts.status is S.UNUSED and is_past_end(facts, at):
        return S.UNUSED_ESCROW_EXPIRED if facts.kind == PICKUP else S.EXPIRED
    return facts.status


def _refusal_for_state(status: S) -> Refusal:
    if status in REDEEMED_GROUP:
        return ALREADY_REDEEMED
    if status in RETURNED_GROUP:
        return ALREADY_RETURNED
    if status is S.EXPIRED:
        return EXPIRED
    return NOT_APPLICABLE


def redeem(facts: Facts, at: datetime) -> Move | Refusal:
    status = effective_status(facts, at)
    if status is S.UNUSED:
        if facts.valid_from is not None and clock.business_day(at) < facts.valid_from:
            return NOT_YET_VALID
        return Move(S.USED)
    if status is S.UNUSED_ESCROW_EXPIRED:
        return Move(S.USED_AFTER_EXPIRY)
    return _refusal_for_state(status)


def _undo(facts: Facts, at: datetime, *, group: frozenset[S], not_done: Refusal, same_day: S,
          done_at: datetime | None, any_time: S, at_bank: S) -> Move | Refusal:
    """Cancel a redemption or a return: back to unused the same Taipei day (until 23:59), back
    to unused-and-escrow-expired any time (no escrow money involved), never once sent to the
    bank or final."""
    status = facts.status
    if status not in group:
        return not_done
    if status is same_day:
        if done_at is None or clock.business_day(done_at) != clock.business_day(at):
            return CANCEL_WINDOW_CLOSED
        return Move(S.UNUSED)
    if status is any_time:
        return Move(S.UNUSED_ESCROW_EXPIRED)
    return SENT_TO_BANK if status is at_bank else FINAL


def cancel_redemption(facts: Facts, at: datetime) -> Move | Refusal:
    if facts.kind == GIFT and facts.status in REDEEMED_GROUP:
        return GIFT_NO_CANCEL_REDEMPTION
    return _undo(facts, at, group=REDEEMED_GROUP, not_done=NOT_REDEEMED, same_day=S.USED,
                 done_at=facts.redeemed_at, any_time=S.USED_AFTER_EXPIRY, at_bank=S.REDEEMING)


def return_ticket(facts: Facts, at: datetime, fee: int | None = None) -> Move | Refusal:
    """退貨 with an optional handling fee (退貨手續費): only pickup vouchers inside the escrow
    period may carry one, 0 <= fee <= face value."""
    status = effective_status(facts, at)
    if status is S.UNUSED:
        if fee is not None and fee < 0:
            return FEE_NEGATIVE
        if fee and facts.kind == GIFT:
            return FEE_NOT_ALLOWED
        if fee is not None and fee > facts.face_value:
            return FEE_ABOVE_FACE_VALUE
        return Move(S.RETURN_PENDING, fee if facts.kind == PICKUP else None)
    if status is S.UNUSED_ESCROW_EXPIRED:
        if fee:
            return FEE_NOT_ALLOWED
        return Move(S.RETURNED_ESCROW_EXPIRED)  # the merchant refunds the consumer itself
    return _refusal_for_state(status)


def cancel_return(facts: Facts, at: datetime) -> Move | Refusal:
    return _undo(facts, at, group=RETURNED_GROUP, not_done=NOT_RETURNED, same_day=S.RETURN_PENDING,
                 done_at=facts.returned_at, any_time=S.RETURNED_ESCROW_EXPIRED,
                 at_bank=S.RETURNING)


def expire(facts: Facts, at: datetime) -> Move | Refusal:
    """The daily job: write the expiry an unused ticket past its end date already has."""
    status = effective_status(facts, at)
    if status is not facts.status:
        return Move(status)
    return NOT_APPLICABLE


def bank_send_day(facts: Facts) -> date | None:
    """The first Taipei day whose 01:00 sync may send this ticket's redemption or return.

    Actions are sent the night after they happen (day + 1). The bank must hold the deposit
    before it can refund it, and the deposit itself is sent the night after issuance, so a
    ticket issued and returned on the same day has its return sent on issue day + 2.
    """
    if facts.kind != PICKUP:
        return None
    if facts.status is S.USED and facts.redeemed_at is not None:
        return clock.business_day(facts.redeemed_at) + timedelta(days=1)
    if facts.status is S.RETURN_PENDING and facts.returned_at is not None:
        day = clock.business_day(facts.returned_at) + timedelta(days=1)
        if facts.issued_at is not None:
            day = max(day, clock.business_day(facts.issued_at) + timedelta(days=2))
        return day
    return None


def send_to_bank(facts: Facts, at: datetime) -> Move | Refusal:
    """Nightly sync, pickup vouchers: used → redeeming, return_pending → returning, once due."""
    day = bank_send_day(facts)
    if day is None or clock.business_day(at) < day:
        return NOT_APPLICABLE
    return Move(S.REDEEMING if facts.status is S.USED else S.RETURNING)


def bank_acknowledged(facts: Facts) -> Move | Refusal:
    if facts.status is S.REDEEMING:
        return Move(S.REDEEMED)
    if facts.status is S.RETURNING:
        return Move(S.RETURNED)
    return NOT_APPLICABLE


def finalise_without_bank(facts: Facts, at: datetime) -> Move | Refusal:
    """Nightly, gift vouchers (no escrow): used → redeemed, return_pending → returned, once the
    cancel window (the action's day) has closed."""
    if facts.kind != GIFT:
        return NOT_APPLICABLE
    if facts.status is S.USED and facts.redeemed_at is not None:
        done_day = clock.business_day(facts.redeemed_at)
    elif facts.status is S.RETURN_PENDING and facts.returned_at is not None:
        done_day = clock.business_day(facts.returned_at)
    else:
        return NOT_APPLICABLE
    if clock.business_day(at) <= done_day:
        return NOT_APPLICABLE
    return Move(S.REDEEMED if facts.status is S.USED else S.RETURNED)
