"""The installment period's status machine and the order's money rules, as tables and properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import clock
from app.installments import status as rules
from app.installments.status import Event, PeriodGroup, PeriodStatus

P = PeriodStatus
T = clock.taipei_datetime


# The machine ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("seen", "event", "to"), [
    (P.UNUSED, Event.DUE, P.REDEEMING),
    (P.REDEEMING, Event.BANK_ACKNOWLEDGED, P.REDEEMED),
    (P.UNUSED, Event.ORDER_RETURN, P.RETURN_PENDING),
    (P.RETURN_PENDING, Event.ORDER_CANCEL_RETURN, P.UNUSED),
    (P.RETURN_PENDING, Event.BANK_SENT, P.RETURNING),
    (P.RETURNING, Event.BANK_ACKNOWLEDGED, P.RETURNED),
])
def test_the_moves_a_period_makes(seen, event, to):  # noqa: ANN001
    assert rules.move(seen, event) is to


def test_every_other_move_is_refused():
    allowed = {(s, e) for s, e in rules.TRANSITIONS}
    for seen in P:
        for event in Event:
            if (seen, event) not in allowed:
                assert rules.move(seen, event) is None, (seen, event)
    # finished periods never move again
    assert all(rules.move(s, e) is None for s in (P.REDEEMED, P.RETURNED) for e in Event)


@pytest.mark.parametrize(("status", "label", "group"), [
    (P.UNUSED, "未使用", PeriodGroup.UNUSED), (P.REDEEMING, "核銷中", PeriodGroup.REDEEMED),
    (P.REDEEMED, "已核銷", PeriodGroup.REDEEMED), (P.RETURN_PENDING, "待退貨", PeriodGroup.RETURNED),
    (P.RETURNING, "退貨中", PeriodGroup.RETURNED), (P.RETURNED, "已退貨", PeriodGroup.RETURNED),
])
def test_labels_and_groups(status, label, group):  # noqa: ANN001
    assert status.label == label and status.group is group


# Order return and cancel-return ---------------------------------------------------------------

@pytest.mark.parametrize(("statuses", "refusal"), [
    ([P.UNUSED, P.UNUSED, P.UNUSED], None),
    ([P.REDEEMED, P.UNUSED, P.UNUSED], None),
    ([P.REDEEMING, P.UNUSED, P.UNUSED], rules.MID_REDEMPTION),
    ([P.REDEEMED, P.REDEEMED, P.REDEEMED], rules.NOTHING_UNUSED),
    ([P.REDEEMED, P.RETURN_PENDING, P.RETURN_PENDING], rules.ALREADY_RETURNED),
    ([P.RETURNING, P.RETURNING], rules.ALREADY_RETURNED),
    ([P.RETURNED, P.RETURNED], rules.ALREADY_RETURNED),
    ([P.REDEEMED, P.REDEEMING], rules.MID_REDEMPTION),
])
def test_when_an_order_may_be_returned(statuses, refusal):  # noqa: ANN001
    assert rules.return_refusal(statuses) == refusal


@pytest.mark.parametrize(("fee", "unused", "ok"), [
    (0, 2000, True), (2000, 2000, True), (2001, 2000, False), (-1, 2000, False)])
def test_the_handling_fee_is_at_most_the_unused_amount(fee, unused, ok):  # noqa: ANN001
    refusal = rules.fee_refusal(fee, unused)
    assert (refusal is None) is ok
    if fee > unused:
        assert refusal is not None and "2,000 元" in refusal.message


@pytest.mark.parametrize(("returned", "now", "refusal"), [
    (T(2026, 7, 1, 10), T(2026, 7, 1, 23, 59), None),
    (T(2026, 7, 1, 0, 0), T(2026, 7, 1, 23, 59, 59), None),
    (T(2026, 7, 1, 10), T(2026, 7, 2, 0, 0), rules.CANCEL_WINDOW_CLOSED),
])
def test_a_return_can_be_cancelled_until_2359_of_its_day(returned, now, refusal):  # noqa: ANN001
    assert rules.cancel_return_refusal([P.RETURN_PENDING], returned, now) == refusal


def test_nothing_pending_nothing_to_cancel():
    assert rules.cancel_return_refusal([P.UNUSED], None, T(2026, 7, 1)) == rules.NOTHING_PENDING
    assert rules.cancel_return_refusal([P.RETURNING], T(2026, 7, 1), T(2026, 7, 1)) == rules.NOTHING_PENDING


# Dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("issued", "returned", "day"), [
    # the manual's example: issued 7/1, returned 7/1 before 23:59 → the bank on 7/3 01:00
    (T(2026, 7, 1, 9), T(2026, 7, 1, 23, 58), date(2026, 7, 3)),
    (T(2026, 7, 1, 9), T(2026, 7, 2, 10), date(2026, 7, 3)),
    (T(2026, 7, 1, 9), T(2026, 7, 10, 10), date(2026, 7, 11)),
    # Taipei days, not UTC: 7/1 23:30 Taipei is still 7/1
    (T(2026, 7, 1, 23, 30), T(2026, 7, 1, 23, 45), date(2026, 7, 3)),
])
def test_a_same_day_issue_and_return_goes_to_the_bank_on_issue_day_plus_two(issued, returned, day):  # noqa: ANN001
    assert rules.return_send_day(issued, returned) == day


@pytest.mark.parametrize(("status", "expected", "today", "due"), [
    (P.UNUSED, date(2026, 7, 1), date(2026, 7, 1), True),
    (P.UNUSED, date(2026, 7, 1), date(2026, 7, 5), True),  # caught up after downtime
    (P.UNUSED, date(2026, 7, 2), date(2026, 7, 1), False),
    (P.RETURN_PENDING, date(2026, 7, 1), date(2026, 7, 1), False),
    (P.REDEEMING, date(2026, 7, 1), date(2026, 7, 1), False),
])
def test_a_period_is_due_on_its_expected_date(status, expected, today, due):  # noqa: ANN001
    assert rules.due_for_redemption(status, expected, today) is due


def test_expected_dates_are_a_period_apart():
    assert rules.expected_dates(date(2026, 1, 31), 3, 30) == [
        date(2026, 1, 31), date(2026, 3, 2), date(2026, 4, 1)]
    assert rules.default_first_date(date(2026, 1, 1), 30) == date(2026, 1, 31)


def test_release_goes_the_night_after():
    assert rules.release_send_day(T(2026, 7, 1, 0, 10)) == date(2026, 7, 2)


# Money: properties -----------------------------------------------------------------------------

@given(periods=st.integers(1, 60), extra=st.integers(0, 10_000_000))
def test_face_values_sum_to_the_total_with_the_remainder_on_the_first(periods, extra):  # noqa: ANN001
    total = periods + extra
    values = rules.split_face_values(total, periods)
    assert len(values) == periods and sum(values) == total
    assert all(v >= 1 for v in values)
    base = total // periods
    assert values[1:] == [base] * (periods - 1)
    assert values[0] == base + total % periods


def test_face_value_split_examples():
    assert rules.split_face_values(10000, 3) == [3334, 3333, 3333]
    assert rules.split_face_values(3, 3) == [1, 1, 1]
    with pytest.raises(ValueError):
        rules.split_face_values(2, 3)


@st.composite
def fee_cases(draw):  # noqa: ANN001, ANN201
    values = draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=60))
    fee = draw(st.integers(0, sum(values)))
    return fee, values


@given(fee_cases())
def test_fee_shares_sum_exactly_and_none_exceeds_its_period(case):  # noqa: ANN001
    fee, values = case
    shares = rules.split_fee(fee, values)
    assert sum(shares) == fee
    assert all(0 <= s <= v for s, v in zip(shares, values, strict=True))
    # proportional, rounded down, the dollars left over to the earliest periods
    floors = [fee * v // sum(values) for v in values]
    extra = [s - f for s, f in zip(shares, floors, strict=True)]
    assert all(e in (0, 1) for e in extra)
    assert extra == sorted(extra, reverse=True)


def test_fee_split_examples():
    assert rules.split_fee(100, [3334, 3333, 3333]) == [34, 33, 33]
    assert rules.split_fee(10000, [3334, 3333, 3333]) == [3334, 3333, 3333]
    assert rules.split_fee(0, [5, 5]) == [0, 0]
    assert rules.split_fee(1, [1, 1, 1]) == [1, 0, 0]
    with pytest.raises(ValueError):
        rules.split_fee(11, [5, 5])


def test_amounts_of_an_order():
    a = rules.Amounts.of([(P.REDEEMED, 400), (P.RETURNING, 300), (P.UNUSED, 300)])
    assert (a.total, a.redeemed, a.returned, a.unused) == (1000, 400, 300, 300)
    assert (a.redeemed_periods, a.returned_periods, a.unused_periods) == (1, 1, 1)
    assert not a.completed
    assert rules.Amounts.of([(P.REDEEMED, 5), (P.REDEEMED, 5)]).completed
