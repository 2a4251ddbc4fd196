"""Billing's pure rules: exact fees, the daily half-up rounding, months and bill days, and how
payments settle bills (oldest first)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.bills import rules


@pytest.mark.parametrize(("fixed", "percent_bp", "base", "e4"), [
    (5, None, 150, 50_000), (0, 150, 150, 22_500), (0, 150, 333, 49_950), (0, 0, 999, 0),
    (20, None, 12_000, 200_000), (0, 100, 9_000, 900_000), (0, 10_000, 7, 70_000),
])
def test_a_returns_exact_fee(fixed, percent_bp, base, e4):  # noqa: ANN001
    assert rules.fee_e4(fixed, percent_bp, base) == e4


@pytest.mark.parametrize(("e4", "dollars"), [
    (0, 0), (4_999, 0), (5_000, 1), (67_500, 7), (72_450, 7), (64_999, 6), (25_000, 3),
])
def test_the_days_total_is_rounded_half_up_once(e4, dollars):  # noqa: ANN001
    assert rules.round_half_up(e4) == dollars


@given(st.lists(st.integers(1, 100_000), max_size=50), st.integers(0, 10_000))
def test_rounding_the_day_differs_from_rounding_each_return_by_less_than_the_count(bases, bp):  # noqa: ANN001
    fees = [rules.fee_e4(0, bp, b) for b in bases]
    day = rules.round_half_up(sum(fees))
    assert isinstance(day, int)
    assert abs(day * rules.E4 - sum(fees)) <= rules.E4 // 2


@pytest.mark.parametrize(("month", "first", "last", "bill"), [
    (date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)),
    (date(2028, 2, 1), date(2028, 2, 1), date(2028, 2, 29), date(2028, 3, 1)),
    (date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1)),
])
def test_months_and_bill_days(month, first, last, bill):  # noqa: ANN001
    assert rules.month_days(month) == (first, last)
    assert rules.bill_day(month) == bill
    assert rules.previous_month(bill) == month


@pytest.mark.parametrize(("bills", "paid", "statuses", "due", "credit"), [
    ([(1, 100), (2, 50)], 0, {1: False, 2: False}, 150, 0),
    ([(1, 100), (2, 50)], 100, {1: True, 2: False}, 50, 0),
    ([(1, 100), (2, 50)], 120, {1: True, 2: False}, 30, 0),  # a partial payment
    ([(1, 100), (2, 50)], 150, {1: True, 2: True}, 0, 0),
    ([(1, 100), (2, 0)], 100, {1: True, 2: True}, 0, 0),
    ([(1, 100)], 130, {1: True}, 0, 30),
    ([(1, 100), (2, -30)], 70, {1: True, 2: True}, 0, 0),  # a credit on a later bill
    ([(1, 100), (2, -30), (3, 50)], 70, {1: True, 2: True, 3: False}, 50, 0),
])
def test_payments_settle_the_oldest_bills_first(bills, paid, statuses, due, credit):  # noqa: ANN001
    found = rules.standing(bills, paid)
    assert (found.paid, found.due, found.credit) == (statuses, due, credit)
