"""The escrow ledger's pure rules (app.escrow.rules): how each kind of entry moves what the trust
holds for a voucher, and the running balance of a voucher's entries, as tables."""

from __future__ import annotations

import pytest

from app.escrow import rules
from app.escrow.models import LedgerKind as K


@pytest.mark.parametrize(("kind", "amount", "change"), [
    (K.DEPOSIT, 150, 150),  # into trust
    (K.RELEASE, 150, -150),  # released to the merchant
    (K.REFUND, 120, -120),  # refunded to the consumer
    (K.HANDLING_FEE, 30, -30),  # the merchant's handling fee, out of trust
    (K.ESCROW_EXPIRED, 200, -200),  # escrow ended unused: released to the merchant
    (K.PAYOUT, 500, 0),  # reached the merchant's account: it had left trust with its release
])
def test_each_kind_moves_the_held_amount(kind, amount, change):
    assert rules.held_change(kind, amount) == change


def test_every_ledger_kind_has_a_sign():
    assert set(rules.HELD_SIGN) == set(K)
    assert set(rules.HELD_SIGN.values()) <= {-1, 0, 1}


@pytest.mark.parametrize(("entries", "balances"), [
    ([], []),  # an unused voucher before its first night
    ([(K.DEPOSIT, 150)], [150]),  # deposited: held
    ([(K.DEPOSIT, 150), (K.RELEASE, 150)], [150, 0]),  # redeemed
    ([(K.DEPOSIT, 150), (K.REFUND, 120), (K.HANDLING_FEE, 30)], [150, 30, 0]),  # returned, fee 30
    ([(K.DEPOSIT, 150), (K.REFUND, 150)], [150, 0]),  # returned without a fee
    ([(K.DEPOSIT, 200), (K.ESCROW_EXPIRED, 200)], [200, 0]),  # escrow ended (then used or returned)
    ([(K.DEPOSIT, 1000), (K.RELEASE, 1000), (K.PAYOUT, 1000)], [1000, 0, 0]),  # an installment period
    ([(K.ESCROW_EXPIRED, 200)], [-200]),  # no deposit known: shown as it is, never hidden
])
def test_running_balances(entries, balances):
    assert rules.running_balances(entries) == balances
    assert rules.held(entries) == (balances[-1] if balances else 0)


def test_the_running_balance_takes_any_iterable_once():
    entries = iter([(K.DEPOSIT, 80), (K.HANDLING_FEE, 5)])
    assert rules.running_balances(entries) == [80, 75]
