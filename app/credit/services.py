"""Card transaction actions on the database: each is a compare-and-set on the state the
decision started from, with its history entry in the same transaction. They flush, never
commit. A page, a job and an API call racing on one transaction give one winner: the loser's
compare-and-set finds the state moved and is refused with the new state's reason.

Every action first locks the transaction's row (SELECT … FOR UPDATE) and reloads it, so an
action, a refund (app.credit.refunds) and the daily close's settling of refunds on one
transaction are serialised: the refunds summed are the refunds there are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, history
from app.checkout.models import CardTransaction, TransactionStatus
from app.credit import queries, states
from app.credit.models import CardRefund, RefundStatus
from app.credit.states import Action, Decision
from app.db import db
from app.errors import DomainError

UNSCOPED = {"unscoped": True}

# Features that must hear of an abandoned authorisation (the unissued ticket order whose card
# was abandoned from the back office) register here; called in the same transaction.
ABANDONED_REACTIONS: list[Callable[[CardTransaction], None]] = []

_STAMP = {TransactionStatus.CLOSE_REQUESTED: "close_requested_at",
          TransactionStatus.CLOSED: "closed_at", TransactionStatus.ABANDONED: "abandoned_at"}


_ACTIONS = {Action.CLOSE: "card_close", Action.CANCEL_CLOSE: "card_cancel_close",
            Action.ABANDON: "card_abandon"}


def lock(txn: CardTransaction) -> CardTransaction:
    """Lock the transaction's row for the rest of the database transaction and reload it."""
    # the row must be fetched for populate_existing to refresh `txn` (a lock alone would leave
    # the state read before it, and a refund could be taken on a close cancelled meanwhile)
    db.session.execute(select(CardTransaction).where(CardTransaction.id == txn.id)
                       .with_for_update()
                       .execution_options(populate_existing=True, **UNSCOPED)).scalar_one()
    return txn


def refund_sums(txn_id: int) -> tuple[int, int]:
    """(refunded, pending): the amounts of the transaction's non-cancelled refunds and of those
    still pending."""
    rows = db.session.execute(
        select(CardRefund.status, func.coalesce(func.sum(CardRefund.amount), 0))
        .where(CardRefund.transaction_id == txn_id, CardRefund.status != RefundStatus.CANCELLED)
        .group_by(CardRefund.status).execution_options(**UNSCOPED)).all()
    sums = {status: int(total) for status, total in rows}
    pending = sums.get(RefundStatus.PENDING, 0)
    return pending + sums.get(RefundStatus.SETTLED, 0), pending


def facts_of(txn: CardTransaction, *, today: datetime | None = None) -> states.Facts:
    age = (clock.business_day(today) - clock.business_day(txn.authorised_at)).days
    refunded, pending = refund_sums(txn.id)
    return states.Facts(status=txn.status, amount=txn.amount, refunded=refunded, pending=pending,
                        age_days=age,
                        installment=bool(txn.installment_periods
                                         or txn.consumer_installment_periods))


def cancel_pending_refunds(txn: CardTransaction) -> int:
    """Cancel the transaction's pending refunds (compare-and-set on pending); the amount
    cancelled."""
    rows = db.session.execute(
        update(CardRefund).where(CardRefund.transaction_id == txn.id,
                                 CardRefund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.CANCELLED, cancelled_at=clock.now())
        .returning(CardRefund.amount)
        .execution_options(synchronize_session=False, **UNSCOPED)).all()
    return sum(r.amount for r in rows)


def perform(txn: CardTransaction, action: Action, *, reason: str = "",
            by_operator: bool = False) -> Decision:
    """Close, cancel a close or abandon `txn` (DomainError when refused).

    Cancel a close (E) also cancels the transaction's pending refunds: of a close-requested
    transaction (back to authorised, never auto-closed again), or of a closed one whose refunds
    the next daily close has not settled yet (it stays closed)."""
    if action is Action.REFUND:
        raise ValueError("a refund is a negative entry with an amount, not a state change")
    lock(txn)
    if action is Action.CLOSE and (excluded := queries.close_exclusion(txn.id)):
        raise DomainError(excluded, code="transaction_state")
    decision = states.decide(facts_of(txn), action, by_operator=by_operator)
    if not decision.allowed:
        raise DomainError(decision.error, code=decision.code or "transaction_state")
    assert decision.to is not None
    before = txn.status
    if action is Action.CANCEL_CLOSE and before is TransactionStatus.CLOSED:
        cancelled = cancel_pending_refunds(txn)
        if not cancelled:  # settled meanwhile (the row lock makes this rare)
            raise DomainError(states.NOTHING_TO_CANCEL, code="transaction_state")
        history.record(txn, "card_cancel_close", from_status=before.value,
                       to_status=before.value,
                       reason=reason or f"取消關帳：取消待結算退刷 NT${cancelled:,}")
        return decision
    now = clock.now()
    values: dict = {"status": decision.to}
    if decision.to in _STAMP:
        values[_STAMP[decision.to]] = now
    if action is Action.CANCEL_CLOSE:
        values["auto_close"] = False  # never auto-closed again
        values["close_requested_at"] = None
    done = db.session.execute(
        update(CardTransaction).where(CardTransaction.id == txn.id,
                                      CardTransaction.status == before)
        .values(**values).execution_options(synchronize_session=False, **UNSCOPED)).rowcount
    if not done:
        db.session.refresh(txn)
        again = states.decide(facts_of(txn), action, by_operator=by_operator)
        raise DomainError(again.error or "此筆交易狀態已變更，請重新整理", code="transaction_state")
    for name, value in values.items():
        set_committed_value(txn, name, value)
    if action is Action.CANCEL_CLOSE:
        cancel_pending_refunds(txn)
    history.record(txn, _ACTIONS[action], from_status=before.value,
                   to_status=decision.to.value, reason=reason or action.label)
    if decision.to is TransactionStatus.ABANDONED:
        for react in ABANDONED_REACTIONS:
            react(txn)
    return decision


NOT_OVER_DATE = f"此筆交易授權未超過 {states.CLOSE_DAYS} 天，請由商店自行關帳"
OPERATOR_CLOSE_REASON = f"平台管理員代為關帳（授權已超過 {states.CLOSE_DAYS} 天，error_overDate）"


def operator_close(txn: CardTransaction) -> Decision:
    """The platform operator closes an over-date transaction (authorised more than CLOSE_DAYS
    days ago: error_overDate for the store, its pages and its API). A transaction still within
    the limit is the store's to close."""
    lock(txn)
    if txn.status is TransactionStatus.AUTHORISED and facts_of(txn).age_days <= states.CLOSE_DAYS:
        raise DomainError(NOT_OVER_DATE, code="transaction_state")
    return perform(txn, Action.CLOSE, reason=OPERATOR_CLOSE_REASON, by_operator=True)
