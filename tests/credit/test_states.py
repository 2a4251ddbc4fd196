"""The card transaction's state machine as a table: every (state, action) pair, then the
limits (21 days, amounts left, installments, pending refunds)."""

from __future__ import annotations

from itertools import product

import pytest

from app.checkout.models import TransactionStatus as S
from app.credit import states
from app.credit.states import Action, Facts, decide

A = Action
# (state, action) → the state after, or the refusal's words. Refunds here are partial (300 of
# 1000) with nothing refunded and nothing pending.
TABLE = {
    (S.AUTHORISED, A.CLOSE): S.CLOSE_REQUESTED,
    (S.AUTHORISED, A.CANCEL_CLOSE): states.NOT_CLOSE_REQUESTED,
    (S.AUTHORISED, A.ABANDON): S.ABANDONED,
    (S.AUTHORISED, A.REFUND): states.NOT_CLOSED_USE_ABANDON,
    (S.CLOSE_REQUESTED, A.CLOSE): states.ALREADY_CLOSE_REQUESTED,
    (S.CLOSE_REQUESTED, A.CANCEL_CLOSE): S.AUTHORISED,
    (S.CLOSE_REQUESTED, A.ABANDON): states.CANCEL_THEN_ABANDON,
    (S.CLOSE_REQUESTED, A.REFUND): S.CLOSE_REQUESTED,
    (S.CLOSED, A.CLOSE): states.ALREADY_CLOSED,
    (S.CLOSED, A.CANCEL_CLOSE): states.NOTHING_TO_CANCEL,
    (S.CLOSED, A.ABANDON): states.CLOSED_USE_REFUND,
    (S.CLOSED, A.REFUND): S.CLOSED,
    (S.ABANDONED, A.CLOSE): states.ABANDONED,
    (S.ABANDONED, A.CANCEL_CLOSE): states.ABANDONED,
    (S.ABANDONED, A.ABANDON): states.ABANDONED,
    (S.ABANDONED, A.REFUND): states.ABANDONED,
}


def test_the_table_covers_every_state_and_action():
    assert set(TABLE) == set(product(S, A))


@pytest.mark.parametrize(("status", "action"), list(TABLE))
def test_every_state_and_action(status, action):
    decision = decide(Facts(status=status, amount=1000), action,
                      amount=300 if action is A.REFUND else None)
    expected = TABLE[(status, action)]
    if isinstance(expected, S):
        assert (decision.allowed, decision.to, decision.error) == (True, expected, "")
    else:
        assert (decision.allowed, decision.error) == (False, expected)


@pytest.mark.parametrize(("age", "by_operator", "expected", "code"), [
    (0, False, S.CLOSE_REQUESTED, ""),
    (21, False, S.CLOSE_REQUESTED, ""),
    (22, False, None, "error_overDate"),
    (22, True, S.CLOSE_REQUESTED, ""),
    (200, True, S.CLOSE_REQUESTED, ""),
])
def test_close_within_21_days_then_only_the_operator(age, by_operator, expected, code):
    decision = decide(Facts(S.AUTHORISED, 1000, age_days=age), A.CLOSE, by_operator=by_operator)
    assert (decision.to, decision.code) == (expected, code)


@pytest.mark.parametrize(("status", "pending", "expected"), [
    (S.CLOSED, 300, S.CLOSED),  # the pending refunds are cancelled, it stays closed
    (S.CLOSED, 0, None),
    (S.CLOSE_REQUESTED, 300, S.AUTHORISED),
    (S.CLOSE_REQUESTED, 0, S.AUTHORISED),
])
def test_cancel_close_undoes_pending_refunds_until_the_next_close(status, pending, expected):
    facts = Facts(status, 1000, refunded=pending, pending=pending)
    assert decide(facts, A.CANCEL_CLOSE).to is expected


@pytest.mark.parametrize(("status", "refunded", "installment", "amount", "expected"), [
    (S.CLOSED, 0, False, 1000, S.CLOSED),  # full
    (S.CLOSED, 0, False, 1001, states.REFUND_AMOUNT),  # never above the amount
    (S.CLOSED, 700, False, 300, S.CLOSED),  # the rest
    (S.CLOSED, 700, False, 301, states.REFUND_AMOUNT),
    (S.CLOSED, 1000, False, 1, states.REFUND_AMOUNT),
    (S.CLOSED, 0, False, 0, states.REFUND_AMOUNT),
    (S.CLOSED, 0, False, -5, states.REFUND_AMOUNT),
    (S.CLOSED, 0, False, None, states.REFUND_AMOUNT),
    (S.CLOSED, 0, True, 1000, S.CLOSED),  # installment: full only
    (S.CLOSED, 0, True, 300, states.PARTIAL_NOT_ALLOWED),
    (S.CLOSE_REQUESTED, 0, False, 1000, states.FULL_REFUND_THEN),  # full is E then N
    (S.CLOSE_REQUESTED, 300, False, 700, states.FULL_REFUND_THEN),
    (S.CLOSE_REQUESTED, 0, False, 999, S.CLOSE_REQUESTED),
    (S.CLOSE_REQUESTED, 0, True, 1000, states.FULL_REFUND_THEN),
    (S.CLOSE_REQUESTED, 0, True, 300, states.PARTIAL_NOT_ALLOWED),
])
def test_refund_amounts(status, refunded, installment, amount, expected):
    facts = Facts(status, 1000, refunded=refunded, installment=installment)
    decision = decide(facts, A.REFUND, amount=amount)
    assert (decision.to if isinstance(expected, S) else decision.error) == expected


def test_bonus_transactions_refund_in_full_only():
    facts = Facts(S.CLOSED, 1000, bonus=True)
    assert decide(facts, A.REFUND, amount=300).error == states.PARTIAL_NOT_ALLOWED
    assert decide(facts, A.REFUND, amount=1000).to is S.CLOSED


def test_an_authorised_transaction_with_refunds_is_not_abandoned():
    decision = decide(Facts(S.AUTHORISED, 1000, refunded=100), A.ABANDON)
    assert decision.error == states.CANCEL_THEN_ABANDON
