"""The account rules of docs/accounts.md and the login lockout, as tables."""

from datetime import UTC, datetime, timedelta

import pytest

from app.auth import rules

OK = None


@pytest.mark.parametrize(("password", "expected"), [
    ("abc12", rules.MAIN_PASSWORD_RULE),  # 5 characters
    ("abc123", OK),  # 6
    ("abcdefghij1234567890", OK),  # 20
    ("abcdefghij1234567890x", rules.MAIN_PASSWORD_RULE),  # 21
    ("abcdefgh", rules.MAIN_PASSWORD_RULE),  # letters only
    ("12345678", rules.MAIN_PASSWORD_RULE),  # digits only
    ("!@#$%^&*", rules.MAIN_PASSWORD_RULE),  # symbols only
    ("1234!@#$", OK),  # symbols + digits
    ("abcd!@#$", OK),  # symbols + letters
    ("Ab1!Ab1!", OK),  # all three
    ("abc 123", rules.MAIN_PASSWORD_RULE),  # a space is not a symbol
    ("ａｂｃ１２３", rules.MAIN_PASSWORD_RULE),  # full-width letters and digits
    ("abc123！", rules.MAIN_PASSWORD_RULE),  # full-width symbol
    ("密碼abc123", rules.MAIN_PASSWORD_RULE),  # Chinese characters
    ("", rules.MAIN_PASSWORD_RULE),
])
def test_main_password_rule(password, expected):
    assert rules.main_password_problem(password) == expected


SUB_CASES = [
    ("abc12", False),  # 5 characters
    ("abc123", True),  # 6
    ("abcdefghij1234567890", True),  # 20
    ("abcdefghij1234567890x", False),  # 21
    ("abcdefgh", False),  # letters only
    ("12345678", False),  # digits only
    ("ABC123", True),  # upper case counts as letters
    ("abc123!", False),  # symbols are refused for sub-accounts
    ("1234!@#$", False),
    ("abc_123", False),
    ("abc 123", False),
    ("ａｂｃ１２３", False),  # full-width
    ("abc１２３", False),  # full-width digits with ASCII letters
    ("用戶abc123", False),
    ("", False),
]


@pytest.mark.parametrize(("username", "ok"), SUB_CASES)
def test_sub_username_rule(username, ok):
    assert rules.sub_username_problem(username) == (OK if ok else rules.SUB_USERNAME_RULE)


@pytest.mark.parametrize(("password", "ok"), SUB_CASES)
def test_sub_password_rule(password, ok):
    assert rules.sub_password_problem(password) == (OK if ok else rules.SUB_PASSWORD_RULE)


def test_a_trailing_newline_does_not_slip_through_the_sub_rule():
    # `$` in a regex also matches before a final newline; the rule must not accept it.
    assert rules.sub_password_problem("abc123\n") == rules.SUB_PASSWORD_RULE
    assert rules.sub_username_problem("abc123\n") == rules.SUB_USERNAME_RULE


@pytest.mark.parametrize(("remark", "expected"), [
    ("", OK),
    ("門市店長", OK),
    ("一" * 20, OK),  # 20 Chinese characters
    ("一" * 21, rules.REMARK_RULE),  # 21
    ("a" * 20, OK),
    ("a" * 21, rules.REMARK_RULE),
    ("店長王小明 連絡電話 0912345678", rules.REMARK_RULE),  # 21 characters with spaces
    ("店長王小明連絡電話0912345678", OK),  # 19
])
def test_remark_rule(remark, expected):
    assert rules.remark_problem(remark) == expected


NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
W = timedelta(minutes=15)


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize(("failures", "expected"), [
    ([], None),
    (_ago(1, 2, 3, 4), None),  # four failures: not locked
    (_ago(0, 2, 4, 6, 8), NOW - timedelta(minutes=8) + W),  # five: locked from the oldest
    (_ago(0, 1, 2, 3, 4, 5, 6), NOW - timedelta(minutes=4) + W),  # the latest five count
    (_ago(1, 2, 3, 4, 15), None),  # the fifth is exactly 15 minutes old: outside the window
    (_ago(1, 2, 3, 4, 14.9), NOW - timedelta(minutes=14.9) + W),
    (_ago(20, 21, 22, 23, 24), None),  # all old
    ([NOW + timedelta(minutes=1)] * 5, None),  # failures in the future are ignored
])
def test_locked_until(failures, expected):
    assert rules.locked_until(failures, NOW) == expected


def test_locked_until_takes_its_limit_and_window():
    failures = _ago(1, 2, 3)
    assert rules.locked_until(failures, NOW, limit=3) == NOW - timedelta(minutes=3) + W
    assert rules.locked_until(failures, NOW, limit=3, window=timedelta(minutes=2)) is None
