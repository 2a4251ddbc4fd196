"""The shape of the ticket-page fields (pure rules)."""

from __future__ import annotations

import pytest

from app.settings import rules


@pytest.mark.parametrize(("phone", "ok"), [
    ("02-2655-1775", True),
    ("(02) 2655 1775 #123", True),
    ("+886-2-2655-1775", True),
    ("0800123", True),
    ("123456", True),
    ("12345", False),  # too short
    ("1" * 31, False),  # too long
    ("", False),  # required
    ("   ", False),
    ("02-2655-1775 ext", False),  # letters
    ("()+-#  ", False),  # no digit at all
    ("02２６５５", False),  # full-width digits are not accepted
])
def test_phone(phone, ok):
    assert (rules.phone_problem(phone) is None) is ok


@pytest.mark.parametrize(("url", "ok"), [
    ("", True),  # optional
    ("https://line.me/R/ti/p/@shop", True),
    ("http://instagram.com/shop", True),
    ("HTTPS://WWW.FACEBOOK.COM/shop", True),
    ("javascript:alert(1)", False),
    ("ftp://example.com/x", False),
    ("www.facebook.com/shop", False),
    ("https://", False),
    ("https://exa mple.com", False),
    ("https://example.com/" + "a" * 300, False),
])
def test_social_url(url, ok):
    assert (rules.url_problem(url, "LINE") is None) is ok


def test_url_message_names_the_platform():
    assert rules.url_problem("line.me/x", "LINE").startswith("LINE網址")


@pytest.mark.parametrize(("raw", "expected"), [
    ("", ""),
    ("  service@shop.example.tw ", "service@shop.example.tw"),
    ("Service@Shop.Example.TW", "Service@shop.example.tw"),
])
def test_email_is_optional_and_normalised(raw, expected):
    assert rules.normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "a@example.tw;b@example.tw", "a b@example.tw"])
def test_bad_email_is_named(raw):
    message = rules.email_problem(raw)
    assert message is not None and "不是有效的電子信箱" in message


def test_rights_statement_is_required_and_limited():
    assert rules.rights_problem("") == "請輸入權益說明"
    assert rules.rights_problem(" \r\n ") == "請輸入權益說明"
    assert rules.rights_problem("甲" * 2000) is None
    # Windows line ends count once, as they are stored.
    assert rules.rights_problem("甲\r\n" * 1000) is None
    assert "至多 2000 字" in rules.rights_problem("甲" * 2001)
    assert rules.normalise_text(" a\r\nb\rc ") == "a\nb\nc"


def test_where_each_item_shows_follows_the_seed():
    assert rules.SHOWN_ON["cs_phone"] == ("電子票券", "紙本票券", "超商票券", "通知信")
    assert rules.SHOWN_ON["cs_email"] == rules.SHOWN_ON["social"] == ("電子票券", "通知信")
    assert rules.SHOWN_ON["logo"] == ("電子票券", "紙本票券", "通知信")
    assert rules.SHOWN_ON["issuer"] == ("電子票券", "紙本票券", "超商票券", "通知信")
