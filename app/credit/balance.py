"""The store's card balance (可退刷餘額): the card money ectix still holds for the store, which a
refund (退刷) is taken from. ECPay refuses a refund above the merchant's account balance; ectix
pays the store's card money out to its bank account (撥款) after the contract's payout delay
(撥款天期), so what it still holds is what a refund can come out of:

    balance = the amounts of the store's close-requested transactions and of its closed ones
              not yet paid out (closed on a Taipei day D with D + 撥款天期 > today)
            − its refunds not yet netted out of a payout: the pending ones, and the settled
              ones settled on a day S with S + 撥款天期 > today

A refund settled at a daily close is deducted from the payout of its settlement day, as the
money closed that day is paid out then. The balance can fall below zero when paid-out money
is refunded (ECPay's 退刷負數結算金額); a refund is then refused until later closes cover it.
Authorised (not yet closed) and abandoned transactions hold nothing. No contract: the default
payout delay (7 days).

`lock` serialises the balance checks of one store: it locks the store's integration-settings
row (IntegrationSettings: made with its defaults when missing), a row nothing locks before a
card transaction's, so the usual order (the transaction, then the balance) cannot deadlock.
Flushes, never commits.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, or_, select

from app import clock
from app.checkout.models import CardTransaction
from app.checkout.models import TransactionStatus as S
from app.credit.models import CardRefund, RefundStatus
from app.db import db
from app.ecpay import keys
from app.stores.models import Contract, Store

UNSCOPED = {"unscoped": True}
DEFAULT_DELAY = 7  # Contract.payout_delay_days' default
INSUFFICIENT = "帳戶餘額不足，無法退刷（可退刷餘額 NT${balance:,}）；請待後續關帳款項入帳後再退刷"


def lock(store_id: int) -> None:
    """Lock the store's card balance until the end of the database transaction."""
    keys.locked_settings(store_id)


def payout_delay(store_id: int) -> int:
    store = db.session.get(Store, store_id, execution_options=UNSCOPED)
    contract: Contract | None = store.current_contract if store is not None else None
    return contract.payout_delay_days if contract is not None else DEFAULT_DELAY


def of(store_id: int, today: date | None = None) -> int:
    """The store's card balance on `today` (Taipei; default: now)."""
    today = today or clock.business_day()
    unpaid_since = clock.day_start(today - timedelta(days=payout_delay(store_id) - 1))
    held = db.session.scalar(
        select(func.coalesce(func.sum(CardTransaction.amount), 0))
        .where(CardTransaction.store_id == store_id,
               or_(CardTransaction.status == S.CLOSE_REQUESTED,
                   (CardTransaction.status == S.CLOSED)
                   & or_(CardTransaction.closed_at.is_(None),
                         CardTransaction.closed_at >= unpaid_since)))
        .execution_options(**UNSCOPED))
    owed = db.session.scalar(
        select(func.coalesce(func.sum(CardRefund.amount), 0))
        .where(CardRefund.store_id == store_id,
               or_(CardRefund.status == RefundStatus.PENDING,
                   (CardRefund.status == RefundStatus.SETTLED)
                   & (CardRefund.settled_at >= unpaid_since)))
        .execution_options(**UNSCOPED))
    return int(held) - int(owed)
