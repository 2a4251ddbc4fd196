"""Pure wallet rules: status in plain words, what each ticket offers, masking, codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.tickets.status import TicketStatus as S
from app.wallet import rules
from app.wallet.rules import Plain


@pytest.mark.parametrize(("status", "usable", "plain"), [
    (S.UNUSED, True, Plain.USABLE),
    (S.UNUSED, False, Plain.NOT_STARTED),  # deferred, before its start date
    (S.UNUSED_ESCROW_EXPIRED, True, Plain.USABLE),  # still redeemable
    (S.USED, False, Plain.USED),
    (S.REDEEMING, False, Plain.USED),
    (S.REDEEMED, False, Plain.USED),
    (S.USED_AFTER_EXPIRY, False, Plain.USED),
    (S.RETURN_PENDING, False, Plain.RETURNED),
    (S.RETURNING, False, Plain.RETURNED),
    (S.RETURNED, False, Plain.RETURNED),
    (S.RETURNED_ESCROW_EXPIRED, False, Plain.RETURNED),
    (S.EXPIRED, False, Plain.EXPIRED),
])
def test_plain_status(status, usable, plain):
    assert rules.plain_status(status, usable=usable) is plain


def test_every_status_has_plain_words():
    labels = {rules.plain_status(s, usable=True).label for s in S}
    assert labels == {"可使用", "已使用", "已退貨", "已失效"}
    assert rules.plain_status(S.UNUSED, usable=False).label == "尚未開始"


# (status, usable, given, transferable, pending, purchaser, offered) → (plain, code, transfer, return)
SHOWN = [
    (S.UNUSED, True, False, True, False, True, True, Plain.USABLE, True, True, True),
    (S.UNUSED, True, False, True, False, False, True, Plain.USABLE, True, False, False),  # recipient
    (S.UNUSED, True, True, False, False, True, True, Plain.GIVEN, False, False, False),  # given away
    (S.UNUSED, True, False, True, True, True, True, Plain.USABLE, True, False, False),  # return pending
    (S.UNUSED, True, False, False, False, True, True, Plain.USABLE, True, False, True),  # gift voucher
    (S.UNUSED, True, False, True, False, True, False, Plain.USABLE, True, True, False),  # returns off
    (S.UNUSED, False, False, True, False, True, True, Plain.NOT_STARTED, False, True, True),
    (S.USED, False, False, False, False, True, True, Plain.USED, False, False, False),
    (S.USED, False, True, False, False, True, True, Plain.GIVEN, False, False, False),  # used by recipient
    (S.RETURNED, False, False, False, False, True, True, Plain.RETURNED, False, False, False),
    (S.EXPIRED, False, False, False, False, True, True, Plain.EXPIRED, False, False, False),
    (S.UNUSED_ESCROW_EXPIRED, True, False, True, False, True, True, Plain.USABLE, True, True, True),
]


@pytest.mark.parametrize(("status", "usable", "given", "transferable", "pending", "purchaser", "offered",
                          "plain", "code", "may_transfer", "may_return"), SHOWN)
def test_what_a_ticket_shows_and_offers(status, usable, given, transferable, pending, purchaser, offered,
                                        plain, code, may_transfer, may_return):
    shown = rules.shown(status, usable=usable, given_away=given, transferable=transferable,
                        return_pending=pending, purchaser=purchaser, returns_offered=offered)
    assert (shown.plain, shown.show_code, shown.may_transfer, shown.may_apply_return) == (
        plain, code, may_transfer, may_return)


@pytest.mark.parametrize(("name", "masked"), [
    ("王小明", "王○明"), ("王明", "王○"), ("王", "○"), ("", ""), ("歐陽娜娜", "歐○○娜"),
    ("John Smith", "J○○○○○○○○h"), ("  陳大文 ", "陳○文"),
])
def test_mask_name(name, masked):
    assert rules.mask_name(name) == masked


@pytest.mark.parametrize(("email", "masked"), [
    ("buyer@example.com", "bu***@example.com"), ("a@b.tw", "a***@b.tw"), ("nonsense", "***"),
])
def test_mask_email(email, masked):
    assert rules.mask_email(email) == masked


@pytest.mark.parametrize(("typed", "ok"), [
    ("5678", True), (" 5678 ", True), ("56-78", True), ("5679", False), ("678", False),
    ("45678", False), ("", False), ("abcd", False), ("５６７８", True),  # full-width digits are digits
])
def test_last_four_matches(typed, ok):
    assert rules.last_four_matches("0912345678", typed) is ok


def test_last_four_of_no_mobile_never_matches():
    assert rules.last_four_matches("", "0000") is False


KEY = b"k" * 32
AT = datetime(2026, 11, 22, 4, 0, 5, tzinfo=UTC)


def test_emailed_code_is_six_digits_and_depends_on_subject_window_and_key():
    window = rules.code_window(AT)
    code = rules.emailed_code(KEY, "s", window)
    assert len(code) == 6 and code.isdigit()
    assert code == rules.emailed_code(KEY, "s", window)
    others = {rules.emailed_code(KEY, "t", window), rules.emailed_code(KEY, "s", window + 1),
              rules.emailed_code(b"x" * 32, "s", window)}
    assert code not in others


@pytest.mark.parametrize(("later", "ok"), [
    (timedelta(0), True), (timedelta(minutes=9), True),
    (timedelta(minutes=10), True),  # the next window still takes the previous window's code
    (timedelta(minutes=19, seconds=54), True), (timedelta(minutes=20), False),
    (timedelta(minutes=-1), False),  # a code is not valid before it was made
])
def test_a_code_holds_for_its_window_and_the_next(later, ok):
    code = rules.emailed_code(KEY, "s", rules.code_window(AT))
    assert rules.code_matches(KEY, "s", code, AT + later) is ok


def test_a_code_for_another_subject_does_not_match():
    code = rules.emailed_code(KEY, "s", rules.code_window(AT))
    assert rules.code_matches(KEY, "other", code, AT) is False
    assert rules.code_matches(KEY, "s", code[:5], AT) is False
