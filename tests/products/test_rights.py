"""The table of who may act on a product's tickets (docs/accounts.md)."""

from __future__ import annotations

import pytest

from app.products import rights as r
from app.products.rights import PerformedBy, ProductLists, Unit

ISSUER, PARTNER, STRANGER = 1, 2, 3
A, B, C = 11, 12, 13  # the issuer's branches
PB = 21  # a branch of the partner store

HEAD = Unit(ISSUER)
BRANCH_A = Unit(ISSUER, A)
BRANCH_B = Unit(ISSUER, B)
BRANCH_A_DISABLED = Unit(ISSUER, A, branch_enabled=False)
HEAD_DISABLED_NEVER = Unit(ISSUER)  # a head office has no branch to disable
PARTNER_HEAD = Unit(PARTNER)
PARTNER_BRANCH = Unit(PARTNER, PB)
PARTNER_BRANCH_DISABLED = Unit(PARTNER, PB, branch_enabled=False)
STRANGER_HEAD = Unit(STRANGER)

OPEN_LISTS = ProductLists(ISSUER)  # empty lists: every branch; no partner
LISTED_A = ProductLists(ISSUER, redeem_branch_ids=frozenset({A}),
                        return_branch_ids=frozenset({B}))
GRANTED = ProductLists(ISSUER, partner_store_ids=frozenset({PARTNER}))


@pytest.mark.parametrize(
    ("unit", "lists", "relation_open", "expected"),
    [
        (HEAD, OPEN_LISTS, False, None),
        (HEAD, LISTED_A, False, None),  # the head office is never limited by the lists
        (BRANCH_A, OPEN_LISTS, False, None),  # empty list: every branch
        (BRANCH_A, LISTED_A, False, None),  # listed branch
        (BRANCH_B, LISTED_A, False, r.BRANCH_NOT_IN_REDEEM_LIST),  # unlisted branch
        (BRANCH_A_DISABLED, OPEN_LISTS, False, r.BRANCH_DISABLED),
        (BRANCH_A_DISABLED, LISTED_A, False, r.BRANCH_DISABLED),
        (PARTNER_HEAD, GRANTED, True, None),  # granted, relation open
        (PARTNER_BRANCH, GRANTED, True, None),  # any unit of the partner store
        (PARTNER_BRANCH_DISABLED, GRANTED, True, r.BRANCH_DISABLED),
        (PARTNER_HEAD, GRANTED, False, r.RELATION_DISSOLVED),  # dissolved or blocked
        (PARTNER_HEAD, OPEN_LISTS, True, r.NOT_GRANTED),  # relation open, product not granted
        (STRANGER_HEAD, GRANTED, False, r.NOT_GRANTED),
        (STRANGER_HEAD, OPEN_LISTS, False, r.NOT_GRANTED),
    ],
)
def test_may_redeem(unit, lists, relation_open, expected):
    assert r.may_redeem(unit, lists, relation_open=relation_open) == expected


@pytest.mark.parametrize(
    ("unit", "lists", "redeemed_by", "relation_open", "expected"),
    [
        (HEAD, LISTED_A, PerformedBy(ISSUER, A), False, None),  # head office cancels anything
        (HEAD, GRANTED, PerformedBy(PARTNER), False, None),  # even a partner's, after dissolving
        (BRANCH_A, LISTED_A, PerformedBy(ISSUER, A), False, None),  # the branch that redeemed
        (BRANCH_B, LISTED_A, PerformedBy(ISSUER, A), False, r.NOT_THE_REDEEMER),
        (BRANCH_A, LISTED_A, PerformedBy(ISSUER, None), False, r.NOT_THE_REDEEMER),
        (BRANCH_A, GRANTED, PerformedBy(PARTNER), False, r.NOT_THE_REDEEMER),
        (BRANCH_A_DISABLED, LISTED_A, PerformedBy(ISSUER, A), False, r.BRANCH_DISABLED),
        (PARTNER_HEAD, GRANTED, PerformedBy(PARTNER), True, None),
        (PARTNER_HEAD, GRANTED, PerformedBy(PARTNER, PB), True, None),
        (PARTNER_BRANCH, GRANTED, PerformedBy(PARTNER, PB), True, None),
        (PARTNER_BRANCH, GRANTED, PerformedBy(PARTNER, None), True, r.NOT_THE_REDEEMER),
        (PARTNER_HEAD, GRANTED, PerformedBy(PARTNER), False, r.RELATION_DISSOLVED),
        (PARTNER_HEAD, GRANTED, PerformedBy(ISSUER), True, r.NOT_THE_REDEEMER),
        (STRANGER_HEAD, GRANTED, PerformedBy(PARTNER), False, r.RELATION_DISSOLVED),
    ],
)
def test_may_cancel_redemption(unit, lists, redeemed_by, relation_open, expected):
    assert r.may_cancel_redemption(unit, lists, redeemed_by,
                                   relation_open=relation_open) == expected


@pytest.mark.parametrize(
    ("unit", "lists", "expected"),
    [
        (HEAD, OPEN_LISTS, None),
        (HEAD, LISTED_A, None),
        (BRANCH_A, OPEN_LISTS, None),
        (BRANCH_B, LISTED_A, None),  # B is the return branch
        (BRANCH_A, LISTED_A, r.BRANCH_NOT_IN_RETURN_LIST),  # A may redeem but not return
        (BRANCH_A_DISABLED, OPEN_LISTS, r.BRANCH_DISABLED),
        (PARTNER_HEAD, GRANTED, r.ISSUER_ONLY),  # partners never return
        (STRANGER_HEAD, OPEN_LISTS, r.ISSUER_ONLY),
    ],
)
def test_may_return(unit, lists, expected):
    assert r.may_return(unit, lists) == expected


@pytest.mark.parametrize(
    ("unit", "returned_by", "expected"),
    [
        (HEAD, PerformedBy(ISSUER, B), None),
        (HEAD, PerformedBy(ISSUER, None), None),
        (BRANCH_B, PerformedBy(ISSUER, B), None),
        (BRANCH_A, PerformedBy(ISSUER, B), r.NOT_THE_RETURNER),
        (BRANCH_A, PerformedBy(ISSUER, None), r.NOT_THE_RETURNER),
        (Unit(ISSUER, B, branch_enabled=False), PerformedBy(ISSUER, B), r.BRANCH_DISABLED),
        (PARTNER_HEAD, PerformedBy(ISSUER, None), r.ISSUER_ONLY),
    ],
)
def test_may_cancel_return(unit, returned_by, expected):
    assert r.may_cancel_return(unit, LISTED_A, returned_by) == expected


@pytest.mark.parametrize(("unit", "expected"), [
    (HEAD, None), (BRANCH_A, None), (BRANCH_A_DISABLED, r.BRANCH_DISABLED),
    (PARTNER_BRANCH_DISABLED, r.BRANCH_DISABLED),
])
def test_only_enabled_branches_operate_tickets(unit, expected):
    assert r.may_operate_tickets(unit) == expected


def test_refusals_read_in_the_clerks_language():
    for refusal in (r.BRANCH_DISABLED, r.BRANCH_NOT_IN_REDEEM_LIST, r.NOT_GRANTED,
                    r.RELATION_DISSOLVED, r.ISSUER_ONLY, r.NOT_THE_REDEEMER, r.NOT_THE_RETURNER):
        assert str(refusal) == refusal.message and not refusal.message.isascii()
