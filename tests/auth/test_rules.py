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
LIMITS = rules.LoginLimits(per_username_ip=5, per_ip=30, per_username=20, minutes=15)


@pytest.mark.parametrize(("username", "ip", "device", "expected"), [
    # an unknown device: the username at this address, the address, the username anywhere
    ("Owner01", "10.0.0.1", None, [("login-user-ip", 5, ("owner01", "10.0.0.1")),
                                   ("login-ip", 30, ("10.0.0.1",)),
                                   ("login-user", 20, ("owner01",))]),
    # a device that logged in to this username before: only its own count (no address, no
    # username-wide lock someone else could fill)
    ("owner01", "10.0.0.1", "dev-1", [("login-device", 5, ("owner01", "dev-1"))]),
    ("OWNER01", "10.0.0.9", "dev-1", [("login-device", 5, ("owner01", "dev-1"))]),
    ("", "", None, [("login-user-ip", 5, ("", "")), ("login-ip", 30, ("",)),
                    ("login-user", 20, ("",))]),
])
def test_login_counters(username, ip, device, expected):
    assert rules.login_counters(username, ip, device, LIMITS) == expected


def test_login_limits_come_from_the_caller():
    tight = rules.LoginLimits(per_username_ip=2, per_ip=3, per_username=4, minutes=1)
    assert [limit for _, limit, _ in rules.login_counters("a", "b", None, tight)] == [2, 3, 4]


@pytest.mark.parametrize(("until", "expected"), [
    (NOW + timedelta(minutes=15), 15),
    (NOW + timedelta(minutes=14, seconds=1), 15),
    (NOW + timedelta(seconds=59), 1),
    (NOW, 1),  # never "0 minutes"
    (NOW - timedelta(minutes=1), 1),
])
def test_wait_minutes(until, expected):
    assert rules.wait_minutes(until, NOW) == expected


T = int(NOW.timestamp())
IDLE, MAX = 30 * 60, 12 * 3600


@pytest.mark.parametrize(("started", "seen", "now", "expired"), [
    (T, T, T, False),
    (T, T, T + IDLE, False),  # exactly the idle limit
    (T, T, T + IDLE + 1, True),  # idle too long
    (T, T + MAX - 60, T + MAX, False),  # busy all day, up to the absolute limit
    (T, T + MAX, T + MAX + 1, True),  # past the absolute limit however busy
    (None, T, T, True),  # no start stamp: a session from before, or a remember cookie
    (T, None, T, True),
    ("1", T, T, True),  # not a stamp we wrote
])
def test_session_expired(started, seen, now, expired):
    assert rules.session_expired(started, seen, now, idle_seconds=IDLE, max_seconds=MAX) is expired
