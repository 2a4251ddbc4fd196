"""What happens to installment orders after issue (docs/installments.md): the daily redemption of
due periods, the order return (8-3 A 訂單退貨) and its cancellation (8-3 B 訂單取消退貨), the
order's refund completing, and the history lines all of them write. Services change rows and
never commit.

Races: a return or cancel-return locks the order row first (two clerks: one after the other,
the second sees the first's result), then moves the periods with a compare-and-set on the
status it read. The daily job moves periods with a compare-and-set only; if it takes a period
between the return's read and its write, the return moves fewer periods than it read, refuses
(MID_REDEMPTION) and the caller rolls back: an order is never partly returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update

from app import clock, history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.installments import status as rules
from app.installments.models import InstallmentOrder, InstallmentPeriod
from app.installments.status import PeriodStatus
from app.refusal import Refusal
from app.stores.models import Store

P = PeriodStatus
Period = InstallmentPeriod
SUBJECT = InstallmentOrder.__tablename__
CHUNK = 2000  # periods per statement in the daily job

RETURN_NO_RIGHT = "您沒有訂單退貨的權限"
CANCEL_NO_RIGHT = "您沒有訂單取消退貨的權限"
UNKNOWN_ORDER = "查無此訂單"
REASON_MAX = 200


class OrderRefused(DomainError):
    """The order cannot be returned / cancel-returned now; the message says why."""


# History ------------------------------------------------------------------------------------

def period_reason(number: int, serial: str, text: str) -> str:
    return f"第 {number} 期（{serial}）{text}"


def record_period_history(rows: Iterable[Any], action: str, seen: PeriodStatus | None,
                          to: PeriodStatus | None, reason: str) -> int:
    """One history line per period on its order (rows carry order_id, store_id, number,
    serial): the order's history shows every period's moves."""
    return history.record_many(
        SUBJECT, action,
        ({"subject_id": r.order_id, "store_id": r.store_id,
          "reason": period_reason(r.number, r.serial, reason)} for r in rows),
        from_status=seen.value if seen else None, to_status=to.value if to else None)


# The daily job ------------------------------------------------------------------------------

def redeem_due(today: date, after_id: int = 0, limit: int = CHUNK) -> tuple[int, int | None]:
    """One chunk of the daily redemption: unused periods whose expected date has come (today or
    a day the job missed) → 核銷中, with history. (moved, the last id looked at) — None when no
    period is left to look at. Idempotent: a period moves once, by compare-and-set."""
    # Locked in id order, as a return locks an order's periods (number order is id order): a
    # period a return is moving is waited for, then seen as it is, and no two lock in a circle.
    ids = list(db.session.scalars(
        select(Period.id).where(Period.status == P.UNUSED, Period.expected_date <= today,
                                Period.id > after_id)
        .order_by(Period.id).limit(limit).with_for_update().execution_options(unscoped=True)))
    if not ids:
        return 0, None
    now = clock.now()
    moved = db.session.execute(
        update(Period).where(Period.id.in_(ids), Period.status == P.UNUSED)
        .values(status=P.REDEEMING, status_changed_at=now, redeemed_at=now)
        .returning(Period.id, Period.order_id, Period.store_id, Period.number, Period.serial)
        .execution_options(synchronize_session=False, unscoped=True)).all()
    record_period_history(moved, "period_redeeming", P.UNUSED, P.REDEEMING, "已到預計核銷日，自動核銷")
    return len(moved), ids[-1]


# Finding and locking an order ---------------------------------------------------------------

def find_order(store: Store, merchant_order_no: str) -> InstallmentOrder | None:
    no = (merchant_order_no or "").strip()
    if not no:
        return None
    return db.session.scalar(select(InstallmentOrder).where(
        InstallmentOrder.store_id == store.id, InstallmentOrder.merchant_order_no == no))


def get_order(store: Store, order_id: int) -> InstallmentOrder | None:
    return db.session.scalar(select(InstallmentOrder).where(
        InstallmentOrder.id == order_id, InstallmentOrder.store_id == store.id))


def lock_order(store: Store, order_id: int) -> tuple[InstallmentOrder, list[InstallmentPeriod]]:
    """The acting store's order, locked for this transaction, with its periods as now stored."""
    order = db.session.scalar(
        select(InstallmentOrder).where(InstallmentOrder.id == order_id,
                                       InstallmentOrder.store_id == store.id)
        .with_for_update().execution_options(populate_existing=True))
    if order is None:
        raise NotFound(UNKNOWN_ORDER, code="unknown_order")
    periods = list(db.session.scalars(
        select(Period).where(Period.order_id == order.id).order_by(Period.number)
        .execution_options(populate_existing=True)))
    return order, periods


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("請輸入原因", fields={"reason": "請輸入原因"})
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"原因至多 {REASON_MAX} 字", fields={"reason": f"原因至多 {REASON_MAX} 字"})
    return reason


def _moved(ids: Sequence[int], seen: PeriodStatus, values: dict[str, Any]) -> int:
    return db.session.execute(
        update(Period).where(Period.id.in_(ids), Period.status == seen)
        .values(status_changed_at=clock.now(), **values)
        .execution_options(synchronize_session=False)).rowcount


# 備註 -------------------------------------------------------------------------------------------

NOTE_NO_RIGHT = "您沒有分期核銷訂單報表的修改權限，無法新增備註"


def add_note(actor: Account, store: Store, order: InstallmentOrder, note: str) -> None:
    """備註: a note on an order of the acting store, kept in its history (the tickets' action)."""
    if order.store_id != store.id:
        raise NotFound(UNKNOWN_ORDER, code="unknown_order")
    access.check(actor, store, Function.INSTALLMENT_REPORTS, no_right=NOTE_NO_RIGHT)
    note = (note or "").strip()
    if not note:
        raise InvalidInput("請輸入備註內容", fields={"note": "請輸入備註內容"})
    history.record(order, "note", reason=note[:1000])


# 8-3 A 訂單退貨 -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnPlan:
    """What a return of the order would do: the unused periods and their fee shares."""

    periods: list[InstallmentPeriod]
    shares: list[int]

    @property
    def unused_amount(self) -> int:
        return sum(p.face_value for p in self.periods)


def plan_return(periods: Sequence[InstallmentPeriod], fee: int) -> ReturnPlan:
    refusal = rules.return_refusal([p.status for p in periods])
    if refusal:
        raise OrderRefused(refusal.message, code=refusal.code)
    unused = [p for p in periods if p.status is P.UNUSED]
    amount = sum(p.face_value for p in unused)
    if (refusal := rules.fee_refusal(fee, amount)) is not None:
        raise InvalidInput(refusal.message, code=refusal.code, fields={"fee": refusal.message})
    return ReturnPlan(unused, rules.split_fee(fee, [p.face_value for p in unused]))


def return_order(actor: Account, store: Store, order_id: int, *, fee: int,
                 reason: str) -> InstallmentOrder:
    """Return every unused period of the order at once (→ 待退貨), with the handling fee split
    over them. Refused (and nothing changed) when a period is mid-redemption, nothing is
    unused, or the order is already returned."""
    access.check(actor, store, Function.INSTALLMENT_ORDER_RETURN, no_right=RETURN_NO_RIGHT,
                 level=Level.VIEW)
    reason = _reason(reason)
    order, periods = lock_order(store, order_id)
    plan = plan_return(periods, fee)
    now = clock.now()
    moved = 0
    for period, share in zip(plan.periods, plan.shares, strict=True):
        moved += _moved([period.id], P.UNUSED,
                        {"status": P.RETURN_PENDING, "returned_at": now, "return_fee": share})
    if moved != len(plan.periods):  # the daily job took a period meanwhile
        raise OrderRefused(rules.MID_REDEMPTION.message, code=rules.MID_REDEMPTION.code)
    history.change(order, "order_returned",
                   {"returned_at": now, "returned_by_id": actor.id, "return_fee": fee,
                    "return_reason": reason})
    record_period_history(
        [_Row(p.order_id, p.store_id, p.number, p.serial) for p in plan.periods],
        "period_returned", P.UNUSED, P.RETURN_PENDING,
        f"訂單退貨（手續費分攤）：{reason}")
    return order


@dataclass(frozen=True)
class _Row:
    order_id: int
    store_id: int
    number: int
    serial: str


# 8-3 B 訂單取消退貨 ---------------------------------------------------------------------------

def cancel_refusal(statuses: Sequence[PeriodStatus], returned_at: datetime | None) -> Refusal | None:
    """Why an order's return cannot be cancelled now."""
    refusal = rules.cancel_return_refusal(statuses, returned_at, clock.now())
    if refusal is None and any(s in (P.RETURNING, P.RETURNED) for s in statuses):
        return rules.CANCEL_WINDOW_CLOSED  # the bank has it already
    return refusal


def cancel_return(actor: Account, store: Store, order_id: int, *, reason: str) -> InstallmentOrder:
    """Cancel the order's return: every 待退貨 period back to 未使用 at once, until 23:59 of
    the return's day (Taipei)."""
    access.check(actor, store, Function.INSTALLMENT_ORDER_CANCEL_RETURN, no_right=CANCEL_NO_RIGHT,
                 level=Level.VIEW)
    reason = _reason(reason)
    order, periods = lock_order(store, order_id)
    if refusal := cancel_refusal([p.status for p in periods], order.returned_at):
        raise OrderRefused(refusal.message, code=refusal.code)
    pending = [p for p in periods if p.status is P.RETURN_PENDING]
    moved = _moved([p.id for p in pending], P.RETURN_PENDING,
                   {"status": P.UNUSED, "returned_at": None, "return_fee": None})
    if moved != len(pending):  # the nightly sync sent them meanwhile
        raise OrderRefused(rules.CANCEL_WINDOW_CLOSED.message, code=rules.CANCEL_WINDOW_CLOSED.code)
    history.change(order, "order_return_cancelled",
                   {"returned_at": None, "returned_by_id": None, "return_fee": None,
                    "return_reason": ""})
    record_period_history(
        [_Row(p.order_id, p.store_id, p.number, p.serial) for p in pending],
        "period_return_cancelled", P.RETURN_PENDING, P.UNUSED, f"訂單取消退貨：{reason}")
    return order


def may_act(actor: Account, store: Store, function: Function) -> bool:
    return actor.may(function, Level.VIEW, mode=access.mode_of(store))


# The refund completing (from the bank sync) --------------------------------------------------

def mark_refunded(order_ids: Iterable[int], at: datetime) -> list[int]:
    """Orders whose returned periods the bank has all refunded: `refunded_at` set once (the
    refund notice goes out from it) and the order's history. (The platform's return processing
    fee is charged by the daily settlement, on the return's day: `app.bills.settlement`.)"""
    ids = list(order_ids)
    if not ids:
        return []
    open_returns = (select(Period.order_id).where(
        Period.order_id.in_(ids), Period.status.in_((P.RETURN_PENDING, P.RETURNING))))
    done = db.session.execute(
        update(InstallmentOrder)
        .where(InstallmentOrder.id.in_(ids), InstallmentOrder.refunded_at.is_(None),
               InstallmentOrder.returned_at.is_not(None), InstallmentOrder.id.not_in(open_returns))
        .values(refunded_at=at)
        .returning(InstallmentOrder.id, InstallmentOrder.store_id)
        .execution_options(synchronize_session=False, unscoped=True)).all()
    history.record_many(SUBJECT, "order_refunded",
                        ({"subject_id": d.id, "store_id": d.store_id} for d in done),
                        reason="銀行已完成退款")
    return [d.id for d in done]
