"""The ticket status machine (docs/tickets.md): the whole table, the windows, and random sequences."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import clock
from app.tickets import lifecycle as lc
from app.tickets.lifecycle import Facts, Move
from app.tickets.status import TicketStatus as S

T = clock.taipei_datetime
ISSUED = T(2026, 7, 1, 9, 0)
ESCROW_END = date(2026, 12, 31)


def facts(status=S.UNUSED, kind="pickup", **over) -> Facts:
    base = dict(status=status, kind=kind, face_value=500, expires_on=ESCROW_END,
                issued_at=ISSUED)
    base.update(over)
    return Facts(**base)


IN_ESCROW = T(2026, 7, 1, 12, 0)
AFTER_END = T(2027, 1, 1, 0, 0)  # 00:00 Taipei the day after the end date
ALL = list(S)


# Redeem --------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "kind", "at", "expected"), [
    (S.UNUSED, "pickup", IN_ESCROW, Move(S.USED)),
    (S.UNUSED, "gift", IN_ESCROW, Move(S.USED)),
    (S.UNUSED, "pickup", AFTER_END, Move(S.USED_AFTER_EXPIRY)),  # derived before the job runs
    (S.UNUSED, "gift", AFTER_END, lc.EXPIRED),
    (S.UNUSED_ESCROW_EXPIRED, "pickup", AFTER_END, Move(S.USED_AFTER_EXPIRY)),
    (S.EXPIRED, "gift", AFTER_END, lc.EXPIRED),
    *[(s, "pickup", IN_ESCROW, lc.ALREADY_REDEEMED) for s in lc.REDEEMED_GROUP],
    *[(s, "pickup", IN_ESCROW, lc.ALREADY_RETURNED) for s in lc.RETURNED_GROUP],
])
def test_redeem(status, kind, at, expected):
    assert lc.redeem(facts(status, kind), at) == expected


def test_the_escrow_runs_through_23_59_59_of_its_end_date():
    last_second = T(2026, 12, 31, 23, 59, 59)
    assert lc.redeem(facts(), last_second) == Move(S.USED)
    assert lc.redeem(facts(), last_second + timedelta(seconds=1)) == Move(S.USED_AFTER_EXPIRY)


def test_deferred_tickets_cannot_be_redeemed_before_their_start_date():
    deferred = facts(valid_from=date(2026, 7, 10))
    assert lc.redeem(deferred, T(2026, 7, 9, 23, 59)) == lc.NOT_YET_VALID
    assert lc.redeem(deferred, T(2026, 7, 10, 0, 0)) == Move(S.USED)
    assert lc.return_ticket(deferred, T(2026, 7, 5)) == Move(S.RETURN_PENDING)  # returnable before


# Cancel redemption -------------------------------------------------------------------------

REDEEMED_AT = T(2026, 7, 1, 10, 0)


@pytest.mark.parametrize(("status", "kind", "at", "expected"), [
    (S.USED, "pickup", T(2026, 7, 1, 23, 59), Move(S.UNUSED)),
    (S.USED, "pickup", T(2026, 7, 1, 23, 59, 59), Move(S.UNUSED)),
    (S.USED, "pickup", T(2026, 7, 2, 0, 0), lc.CANCEL_WINDOW_CLOSED),
    (S.USED, "gift", T(2026, 7, 1, 11, 0), lc.GIFT_NO_CANCEL_REDEMPTION),
    (S.USED_AFTER_EXPIRY, "pickup", T(2027, 3, 1), Move(S.UNUSED_ESCROW_EXPIRED)),  # any time
    (S.REDEEMING, "pickup", T(2026, 7, 1, 11, 0), lc.SENT_TO_BANK),
    (S.REDEEMED, "pickup", T(2026, 7, 1, 11, 0), lc.FINAL),
    (S.REDEEMED, "gift", T(2026, 7, 1, 11, 0), lc.GIFT_NO_CANCEL_REDEMPTION),
    (S.UNUSED, "pickup", T(2026, 7, 1, 11, 0), lc.NOT_REDEEMED),
    (S.RETURN_PENDING, "pickup", T(2026, 7, 1, 11, 0), lc.NOT_REDEEMED),
    (S.EXPIRED, "gift", T(2026, 7, 1, 11, 0), lc.NOT_REDEEMED),
])
def test_cancel_redemption(status, kind, at, expected):
    assert lc.cancel_redemption(facts(status, kind, redeemed_at=REDEEMED_AT), at) == expected


# Return and its fee -------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "kind", "at", "fee", "expected"), [
    (S.UNUSED, "pickup", IN_ESCROW, None, Move(S.RETURN_PENDING)),
    (S.UNUSED, "pickup", IN_ESCROW, 0, Move(S.RETURN_PENDING, 0)),
    (S.UNUSED, "pickup", IN_ESCROW, 500, Move(S.RETURN_PENDING, 500)),  # = face value
    (S.UNUSED, "pickup", IN_ESCROW, 501, lc.FEE_ABOVE_FACE_VALUE),
    (S.UNUSED, "pickup", IN_ESCROW, -1, lc.FEE_NEGATIVE),
    (S.UNUSED, "gift", IN_ESCROW, None, Move(S.RETURN_PENDING)),
    (S.UNUSED, "gift", IN_ESCROW, 0, Move(S.RETURN_PENDING)),
    (S.UNUSED, "gift", IN_ESCROW, 10, lc.FEE_NOT_ALLOWED),
    (S.UNUSED, "pickup", AFTER_END, None, Move(S.RETURNED_ESCROW_EXPIRED)),
    (S.UNUSED, "pickup", AFTER_END, 10, lc.FEE_NOT_ALLOWED),  # escrow-expired: no fee
    (S.UNUSED_ESCROW_EXPIRED, "pickup", AFTER_END, None, Move(S.RETURNED_ESCROW_EXPIRED)),
    (S.UNUSED_ESCROW_EXPIRED, "pickup", AFTER_END, 1, lc.FEE_NOT_ALLOWED),
    (S.UNUSED, "gift", AFTER_END, None, lc.EXPIRED),
    (S.EXPIRED, "gift", AFTER_END, None, lc.EXPIRED),
    *[(s, "pickup", IN_ESCROW, None, lc.ALREADY_REDEEMED) for s in lc.REDEEMED_GROUP],
    *[(s, "pickup", IN_ESCROW, None, lc.ALREADY_RETURNED) for s in lc.RETURNED_GROUP],
])
def test_return(status, kind, at, fee, expected):
    assert lc.return_ticket(facts(status, kind), at, fee) == expected


# Cancel return ------------------------------------------------------------------------------

RETURNED_AT = T(2026, 7, 1, 15, 0)


@pytest.mark.parametrize(("status", "at", "expected"), [
    (S.RETURN_PENDING, T(2026, 7, 1, 23, 59), Move(S.UNUSED)),
    (S.RETURN_PENDING, T(2026, 7, 2, 0, 0), lc.CANCEL_WINDOW_CLOSED),
    (S.RETURNED_ESCROW_EXPIRED, T(2027, 6, 1), Move(S.UNUSED_ESCROW_EXPIRED)),  # any time
    (S.RETURNING, T(2026, 7, 1, 16, 0), lc.SENT_TO_BANK),
    (S.RETURNED, T(2026, 7, 1, 16, 0), lc.FINAL),
    (S.UNUSED, T(2026, 7, 1, 16, 0), lc.NOT_RETURNED),
    (S.USED, T(2026, 7, 1, 16, 0), lc.NOT_RETURNED),
])
def test_cancel_return(status, at, expected):
    assert lc.cancel_return(facts(status, returned_at=RETURNED_AT), at) == expected


# Expiry and the nightly sync ----------------------------------------------------------------

@pytest.mark.parametrize(("status", "kind", "at", "expected"), [
    (S.UNUSED, "pickup", AFTER_END, Move(S.UNUSED_ESCROW_EXPIRED)),
    (S.UNUSED, "gift", AFTER_END, Move(S.EXPIRED)),
    (S.UNUSED, "pickup", T(2026, 12, 31, 23, 59), lc.NOT_APPLICABLE),
    (S.USED, "pickup", AFTER_END, lc.NOT_APPLICABLE),
    (S.RETURN_PENDING, "pickup", AFTER_END, lc.NOT_APPLICABLE),
    (S.UNUSED_ESCROW_EXPIRED, "pickup", AFTER_END, lc.NOT_APPLICABLE),
])
def test_expire(status, kind, at, expected):
    assert lc.expire(facts(status, kind), at) == expected


def test_a_same_day_issue_and_return_is_sent_on_issue_day_plus_two():
    # issued and returned 7/1: deposit sent 7/2 01:00, the return 7/3 01:00
    ticket = facts(S.RETURN_PENDING, issued_at=T(2026, 7, 1, 9), returned_at=T(2026, 7, 1, 20))
    assert lc.bank_send_day(ticket) == date(2026, 7, 3)
    assert lc.send_to_bank(ticket, T(2026, 7, 2, 1, 0)) == lc.NOT_APPLICABLE
    assert lc.send_to_bank(ticket, T(2026, 7, 3, 1, 0)) == Move(S.RETURNING)
    # not cancellable on 7/2 although still pending
    assert lc.cancel_return(ticket, T(2026, 7, 2, 10)) == lc.CANCEL_WINDOW_CLOSED


def test_redemptions_and_older_returns_go_the_next_night():
    used = facts(S.USED, redeemed_at=T(2026, 7, 5, 23, 0))
    assert lc.send_to_bank(used, T(2026, 7, 6, 1, 0)) == Move(S.REDEEMING)
    assert lc.send_to_bank(used, T(2026, 7, 5, 23, 30)) == lc.NOT_APPLICABLE
    returned = facts(S.RETURN_PENDING, issued_at=T(2026, 7, 1), returned_at=T(2026, 7, 5, 10))
    assert lc.bank_send_day(returned) == date(2026, 7, 6)


def test_gift_vouchers_never_go_to_the_bank_and_are_finalised_the_next_night():
    used = facts(S.USED, "gift", redeemed_at=T(2026, 7, 5, 10))
    assert lc.send_to_bank(used, T(2026, 7, 6, 1)) == lc.NOT_APPLICABLE
    assert lc.finalise_without_bank(used, T(2026, 7, 5, 23)) == lc.NOT_APPLICABLE
    assert lc.finalise_without_bank(used, T(2026, 7, 6, 1)) == Move(S.REDEEMED)
    pending = facts(S.RETURN_PENDING, "gift", returned_at=T(2026, 7, 5, 10))
    assert lc.finalise_without_bank(pending, T(2026, 7, 6, 1)) == Move(S.RETURNED)
    assert lc.finalise_without_bank(facts(S.USED), T(2026, 7, 6, 1)) == lc.NOT_APPLICABLE


def test_only_the_bank_finalises_what_was_sent():
    assert lc.bank_acknowledged(facts(S.REDEEMING)) == Move(S.REDEEMED)
    assert lc.bank_acknowledged(facts(S.RETURNING)) == Move(S.RETURNED)
    for status in set(ALL) - {S.REDEEMING, S.RETURNING}:
        assert lc.bank_acknowledged(facts(status)) == lc.NOT_APPLICABLE


def test_used_after_expiry_needs_no_bank_step():
    ticket = facts(S.USED_AFTER_EXPIRY, redeemed_at=AFTER_END)
    assert lc.send_to_bank(ticket, AFTER_END + timedelta(days=3)) == lc.NOT_APPLICABLE


def test_every_refusal_reads_in_traditional_chinese():
    refusals = [v for v in vars(lc).values() if isinstance(v, lc.Refusal)]
    assert len(refusals) >= 14
    assert all(not r.message.isascii() for r in refusals)


# Random sequences ---------------------------------------------------------------------------

def _apply(f: Facts, action: str, at: datetime, fee: int | None) -> Facts:
    result = {
        "redeem": lambda: lc.redeem(f, at),
        "cancel_redemption": lambda: lc.cancel_redemption(f, at),
        "return": lambda: lc.return_ticket(f, at, fee),
        "cancel_return": lambda: lc.cancel_return(f, at),
        "expire": lambda: lc.expire(f, at),
        "send": lambda: lc.send_to_bank(f, at),
        "ack": lambda: lc.bank_acknowledged(f),
        "finalise": lambda: lc.finalise_without_bank(f, at),
    }[action]()
    if isinstance(result, lc.Refusal):
        return f
    assert (f.status, result.to) in lc.TRANSITIONS, (f.status, action, result.to)
    changes = {"status": result.to}
    if action == "redeem":
        changes["redeemed_at"] = at
    if action == "return":
        changes["returned_at"] = at
    return replace(f, **changes)


steps = st.lists(st.tuples(
    st.sampled_from(["redeem", "cancel_redemption", "return", "cancel_return", "expire", "send",
                     "ack", "finalise"]),
    st.integers(0, 72),  # hours to wait before the action
    st.one_of(st.none(), st.integers(-5, 700)),
), max_size=25)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["pickup", "gift"]), st.integers(0, 10), steps)
def test_no_sequence_leaves_the_table(kind, days_to_end, sequence):
    at = T(2026, 7, 1, 9)
    f = facts(kind=kind, expires_on=date(2026, 7, 1) + timedelta(days=days_to_end), issued_at=at)
    for action, hours, fee in sequence:
        at = at + timedelta(hours=hours)
        before = f
        f = _apply(f, action, at, fee)
        if kind == "gift":  # gift vouchers never hold escrow states
            assert f.status not in {S.UNUSED_ESCROW_EXPIRED, S.USED_AFTER_EXPIRY,
                                    S.RETURNED_ESCROW_EXPIRED, S.REDEEMING, S.RETURNING}
        else:
            assert f.status is not S.EXPIRED
        if before.status in {S.REDEEMED, S.RETURNED, S.EXPIRED}:
            assert f.status is before.status  # final states stay final
        if f.status is S.UNUSED and before.status is S.UNUSED_ESCROW_EXPIRED:
            raise AssertionError("escrow expiry cannot be undone")
