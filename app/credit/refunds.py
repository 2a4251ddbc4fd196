"""Refunds (退刷, action R): a negative entry against a close-requested or closed card
transaction, pending until the next daily close settles it; a cancel close (E) before then
cancels it. Flushes, never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app import clock, history
from app.checkout.models import CardTransaction
from app.credit import balance, services, states
from app.credit.models import CardRefund, RefundStatus
from app.credit.states import Action
from app.db import db
from app.errors import DomainError

UNSCOPED = {"unscoped": True}
REASON_LIMIT = 200


def refund(txn: CardTransaction, amount: int, *, reason: str = "",
           check_balance: bool = True) -> CardRefund:
    """Refund `amount` of `txn` (DomainError when refused: see app.credit.states.decide; code
    "insufficient_balance" when the store's card balance cannot cover it).

    The transaction's row is locked before its refunds are summed, so refunds racing on one
    transaction are taken one after the other and never add up to more than its amount; the
    store's balance is locked before it is read (app.credit.balance), so refunds of one store
    racing on different transactions never overdraw it.

    `check_balance` False: the platform giving back an unissued ticket order's payment (its
    money was never paid out to the store), not a merchant's refund.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError(states.REFUND_AMOUNT, code="refund_amount")
    services.lock(txn)
    decision = states.decide(services.facts_of(txn), Action.REFUND, amount=amount)
    if not decision.allowed:
        raise DomainError(decision.error, code=decision.code or "refund_refused")
    if check_balance:
        balance.lock(txn.store_id)
        available = balance.of(txn.store_id)
        if amount > available:
            raise DomainError(balance.INSUFFICIENT.format(balance=max(available, 0)),
                              code="insufficient_balance")
    reason = reason.strip()[:REASON_LIMIT]
    row = CardRefund(store_id=txn.store_id, transaction_id=txn.id, amount=amount,
                     status=RefundStatus.PENDING, reason=reason, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    history.record(txn, "card_refund", from_status=txn.status.value, to_status=txn.status.value,
                   changes={"amount": [None, amount]},
                   reason=f"退刷 NT${amount:,}" + (f"：{reason}" if reason else ""))
    return row


def of(txn: CardTransaction) -> list[CardRefund]:
    """The transaction's refunds, newest first (the detail page's 退刷紀錄)."""
    return list(db.session.scalars(select(CardRefund).where(CardRefund.transaction_id == txn.id)
                                   .order_by(CardRefund.id.desc())))


def settle(txn_ids: list[int], until: datetime) -> list[tuple[int, int, int]]:
    """Settle the pending refunds made up to `until` of those of these transactions that are
    closed (their rows locked first, as a refund or a cancel close does). [(transaction id,
    store id, amount settled)]."""
    if not txn_ids:
        return []
    closed = db.session.scalars(
        select(CardTransaction.id)
        .where(CardTransaction.id.in_(txn_ids),
               CardTransaction.status == states.S.CLOSED)
        .order_by(CardTransaction.id).with_for_update()
        .execution_options(**UNSCOPED)).all()
    if not closed:
        return []
    rows = db.session.execute(
        update(CardRefund).where(CardRefund.transaction_id.in_(closed),
                                 CardRefund.status == RefundStatus.PENDING,
                                 CardRefund.created_at <= until)
        .values(status=RefundStatus.SETTLED, settled_at=clock.now())
        .returning(CardRefund.transaction_id, CardRefund.store_id, CardRefund.amount)
        .execution_options(synchronize_session=False, **UNSCOPED)).all()
    totals: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (row.transaction_id, row.store_id)
        totals[key] = totals.get(key, 0) + row.amount
    return [(txn_id, store_id, total) for (txn_id, store_id), total in sorted(totals.items())]
