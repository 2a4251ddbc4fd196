"""Pure rules of two-factor login, the login IP allow-list and the repeated-failure notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from app.auth import twofactor_rules as rules

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
AT = datetime(2026, 11, 21, 3, 0, 15, tzinfo=UTC)
STEP = int(AT.timestamp()) // 30


def code_at(moment: datetime) -> str:
    return pyotp.TOTP(SECRET).at(moment)


@pytest.mark.parametrize(("label", "code", "last_step", "expected"), [
    ("current code", code_at(AT), None, STEP),
    ("with a blank in it", code_at(AT)[:3] + " " + code_at(AT)[3:], None, STEP),
    ("previous step (drift)", code_at(AT - timedelta(seconds=30)), None, STEP - 1),
    ("next step (drift)", code_at(AT + timedelta(seconds=30)), None, STEP + 1),
    ("expired: two steps ago", code_at(AT - timedelta(seconds=60)), None, None),
    ("expired: ten minutes ago", code_at(AT - timedelta(minutes=10)), None, None),
    ("reused: its step was accepted", code_at(AT), STEP, None),
    ("older than the last accepted", code_at(AT - timedelta(seconds=30)), STEP, None),
    ("newer than the last accepted", code_at(AT), STEP - 1, STEP),
    ("wrong digits", "000000" if code_at(AT) != "000000" else "111111", None, None),
    ("too short", code_at(AT)[:5], None, None),
    ("letters", "abcdef", None, None),
    ("empty", "", None, None),
    ("none", None, None, None),
])
def test_totp_codes(label, code, last_step, expected):
    assert rules.totp_step(SECRET, code, AT, last_step=last_step) == expected, label


def test_a_secret_and_its_uri_work_in_an_authenticator():
    secret = rules.new_secret()
    uri = rules.provisioning_uri(secret, "issuer01")
    parsed = pyotp.parse_uri(uri)
    assert uri.startswith("otpauth://totp/") and "issuer01" in uri
    assert rules.totp_step(secret, parsed.at(AT), AT, last_step=None) == STEP
    assert rules.grouped_key("ABCDEFGHIJ") == "ABCD EFGH IJ"


def test_recovery_codes_are_ten_distinct_and_read_back_however_typed():
    codes = rules.new_recovery_codes()
    assert len(codes) == 10 == len(set(codes))
    raw = codes[0].replace("-", "")
    for typed in (codes[0], codes[0].upper(), f" {raw[:5]} {raw[5:]} ", raw):
        assert rules.normalise_recovery_code(typed) == raw
    for bad in ("", "abc", "abcde-fghj0", "abcde-fghjkl", None):
        assert rules.normalise_recovery_code(bad) == ""


def test_code_digests_are_keyed_and_bound_to_purpose_and_account():
    digest = rules.code_digest(b"k1", "login", 7, "123456")
    assert len(digest) == 64 and "123456" not in digest
    assert digest != rules.code_digest(b"k2", "login", 7, "123456")
    assert digest != rules.code_digest(b"k1", "remove", 7, "123456")
    assert digest != rules.code_digest(b"k1", "login", 8, "123456")
    assert all(len(c) == 6 and c.isdigit() for c in (rules.new_email_code() for _ in range(50)))


@pytest.mark.parametrize(("raw", "stored"), [
    ("", ""),
    ("203.0.113.5", "203.0.113.5"),
    (" 203.0.113.5 ; 198.51.100.0/24 ;", "203.0.113.5;198.51.100.0/24"),
    ("203.0.113.5;203.0.113.5/32", "203.0.113.5"),  # the same network twice
    ("2001:db8::1;2001:db8:1::/48", "2001:db8::1;2001:db8:1::/48"),
    ("10.0.0.7/8", "10.0.0.7/8"),  # host bits set: kept as typed, matched as 10.0.0.0/8
])
def test_ip_lists_that_parse(raw, stored):
    assert rules.parse_ip_list(raw)[0] == stored


@pytest.mark.parametrize(("raw", "says"), [
    ("203.0.113", "「203.0.113」不是有效的 IP 位址或網段"),
    ("203.0.113.5,198.51.100.1", "不是有效的 IP 位址或網段"),  # a comma is not the separator
    ("example.com", "「example.com」不是有效"),
    ("10.0.0.0/33", "「10.0.0.0/33」不是有效"),
    (";".join(f"203.0.113.{i}" for i in range(1, 20)), "至多 200 字元"),
])
def test_ip_lists_refused(raw, says):
    with pytest.raises(rules.BadIpList) as err:
        rules.parse_ip_list(raw)
    assert says in err.value.message


@pytest.mark.parametrize(("stored", "ip", "allowed"), [
    ("", "198.51.100.9", True),
    ("203.0.113.5", "203.0.113.5", True),
    ("203.0.113.5", "203.0.113.6", False),
    ("198.51.100.0/24;203.0.113.5", "198.51.100.200", True),
    ("10.0.0.7/8", "10.255.0.1", True),
    ("203.0.113.5", "::ffff:203.0.113.5", True),
    ("2001:db8:1::/48", "2001:db8:1:2::3", True),
    ("2001:db8:1::/48", "203.0.113.5", False),
    ("203.0.113.5", "", False),
    ("203.0.113.5", "not-an-ip", False),
])
def test_ip_allowed(stored, ip, allowed):
    assert rules.ip_allowed(stored, ip) is allowed


@pytest.mark.parametrize(("failures", "threshold", "due"), [
    (1, 3, False), (2, 3, False), (3, 3, True), (4, 3, False), (9, 3, False),
    (1, 1, True), (2, 1, False), (10, 10, True), (0, 3, False),
])
def test_the_failure_notice_is_sent_once_a_streak(failures, threshold, due):
    assert rules.failure_notice_due(failures, threshold) is due


def test_threshold_range():
    assert rules.threshold_problem(3) is None and rules.threshold_problem(10) is None
    assert rules.threshold_problem(0) and rules.threshold_problem(11) and rules.threshold_problem(None)
