"""Card transaction actions on the database: each is a compare-and-set on the state the
decision started from, with its history entry in the same transaction. They flush, never
commit. A page, a job and an API call racing on one transaction give one winner: the loser's
compare-and-set finds the state moved and is refused with the new state's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from app import clock, history
from app.checkout.models import CardTransaction, TransactionStatus
from app.credit import states
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


def facts_of(txn: CardTransaction, *, today: datetime | None = None) -> states.Facts:
    age = (clock.business_day(today) - clock.business_day(txn.authorised_at)).days
    return states.Facts(status=txn.status, amount=txn.amount, age_days=age,
                        installment=bool(txn.installment_periods
                                         or txn.consumer_installment_periods))


def perform(txn: CardTransaction, action: Action, *, reason: str = "",
            by_operator: bool = False) -> Decision:
    """Close, cancel a close or abandon `txn` (DomainError when refused)."""
    if action is Action.REFUND:
        raise ValueError("a refund is a negative entry with an amount, not a state change")
    decision = states.decide(facts_of(txn), action, by_operator=by_operator)
    if not decision.allowed:
        raise DomainError(decision.error, code=decision.code or "transaction_state")
    assert decision.to is not None
    before = txn.status
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
    history.record(txn, _ACTIONS[action], from_status=before.value,
                   to_status=decision.to.value, reason=reason or action.label)
    if decision.to is TransactionStatus.ABANDONED:
        for react in ABANDONED_REACTIONS:
            react(txn)
    return decision
