"""What a store owes and the operator's money actions: payments and adjustments. Services never
commit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app import clock, history
from app.auth.models import Account
from app.bills import rules
from app.bills.models import Bill, BillAdjustment, BillStatus, Payment
from app.db import db
from app.errors import Forbidden, InvalidInput
from app.stores.models import Store

AMOUNT_MAX = 100_000_000
REASON_MAX = 200


def bills_of(store_id: int) -> list[Bill]:
    return list(db.session.scalars(select(Bill).where(Bill.store_id == store_id)
                                   .order_by(Bill.month).execution_options(readable=True)))


def paid_total(store_id: int) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))
                                 .where(Payment.store_id == store_id)
                                 .execution_options(readable=True)) or 0)


def standing_of(store_id: int) -> rules.Standing:
    return rules.standing([(b.id, b.amount) for b in bills_of(store_id)], paid_total(store_id))


def status_of(bill: Bill, standing: rules.Standing) -> BillStatus:
    return BillStatus.PAID if standing.paid.get(bill.id) else BillStatus.UNPAID


def _operator(actor: Account) -> None:
    if not actor.is_operator:
        raise Forbidden("僅營運人員可執行此操作")


def record_payment(actor: Account, store: Store, *, amount: int, paid_on: date, reference: str,
                   note: str = "") -> Payment:
    """The operator records a payment (partial ones reduce what is due)."""
    _operator(actor)
    problems = {}
    if not 0 < amount <= AMOUNT_MAX:
        problems["amount"] = "繳費金額須大於 0"
    if paid_on > clock.business_day():
        problems["paid_on"] = "繳費日期不可晚於今天"
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    payment = Payment(store_id=store.id, amount=amount, paid_on=paid_on,
                      reference=(reference or "").strip()[:60], note=(note or "").strip()[:200],
                      recorded_by_id=actor.id)
    db.session.add(payment)
    db.session.flush()
    history.record(payment, "payment_recorded", store_id=store.id,
                   changes={"amount": [None, amount]}, reason=payment.reference)
    return payment


def record_adjustment(actor: Account, store: Store, *, amount: int, reason: str) -> BillAdjustment:
    """A correction for the store's next bill (a bill already issued never changes)."""
    _operator(actor)
    reason = (reason or "").strip()
    problems = {}
    if amount == 0 or abs(amount) > AMOUNT_MAX:
        problems["amount"] = "調整金額不可為 0"
    if not reason:
        problems["reason"] = "請輸入調整原因"
    elif len(reason) > REASON_MAX:
        problems["reason"] = f"調整原因至多 {REASON_MAX} 字"
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    adjustment = BillAdjustment(store_id=store.id, amount=amount, reason=reason,
                                created_by_id=actor.id)
    db.session.add(adjustment)
    db.session.flush()
    history.record(adjustment, "adjustment_recorded", store_id=store.id,
                   changes={"amount": [None, amount]}, reason=reason)
    return adjustment
