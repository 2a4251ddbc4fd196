"""The rules of 已發行訂單管理 per delivery type (docs/issuance.md), as tables."""

from __future__ import annotations

import pytest

from app.orders import rules
from app.orders.rules import (
    PAPER_NO_RESEND,
    PRINTED_NO_CHANGE,
    PRINTED_NO_RESEND,
    TRANSFERRED_NO_CHANGE,
)

CHANGE = [
    # type, printed, transferred, answer
    ("cvs", False, False, None),
    ("cvs", True, False, PRINTED_NO_CHANGE),
    ("cvs", True, True, PRINTED_NO_CHANGE),
    ("paper", False, False, None),
    ("paper", True, False, PRINTED_NO_CHANGE),
    ("electronic", False, False, None),
    ("electronic", False, True, TRANSFERRED_NO_CHANGE),
    ("electronic", True, False, None),  # electronic tickets are never "printed" by a kiosk
    ("electronic", True, True, TRANSFERRED_NO_CHANGE),
    ("", False, False, rules.UNKNOWN_TYPE),
]


@pytest.mark.parametrize(("kind", "printed", "transferred", "answer"), CHANGE)
def test_who_may_change_the_purchaser(kind, printed, transferred, answer):
    assert rules.change_purchaser_refusal(kind, printed=printed, transferred=transferred) == answer


RESEND = [
    ("cvs", False, False, None),
    ("cvs", True, False, PRINTED_NO_RESEND),
    ("electronic", False, False, None),
    ("electronic", False, True, None),  # always: to the original purchaser
    ("electronic", True, True, None),
    ("paper", False, False, PAPER_NO_RESEND),
    ("paper", True, False, PAPER_NO_RESEND),
    ("bogus", False, False, rules.UNKNOWN_TYPE),
]


@pytest.mark.parametrize(("kind", "printed", "transferred", "answer"), RESEND)
def test_who_may_re_send(kind, printed, transferred, answer):
    assert rules.resend_refusal(kind, printed=printed, transferred=transferred) == answer


@pytest.mark.parametrize(("kind", "offered", "notifies", "renewed"), [
    ("cvs", True, True, "pickup_code"),
    ("electronic", True, True, "link_token"),
    ("paper", False, False, None),
])
def test_what_each_delivery_type_offers(kind, offered, notifies, renewed):
    assert rules.resend_offered(kind) is offered
    assert rules.notifies_on_change(kind) is notifies
    assert rules.renewed_credential(kind) == renewed


@pytest.mark.parametrize(("kind", "mobile", "email", "answer"), [
    ("cvs", "0912345678", "", None),
    ("cvs", "", "a@example.com", ("mobile", rules.CVS_NEEDS_MOBILE)),
    ("electronic", "", "a@example.com", None),
    ("electronic", "0912345678", "", None),
    ("electronic", "", "", ("mobile", rules.ELECTRONIC_NEEDS_CONTACT)),
    ("paper", "", "", None),
])
def test_the_contact_each_delivery_type_needs(kind, mobile, email, answer):
    assert rules.contact_problem(kind, mobile=mobile, email=email) == answer


@pytest.mark.parametrize(("method", "kind"), [
    ("cvs:ibon", "cvs"), ("paper:merchant_print", "paper"), ("electronic:deferred", "electronic"),
    ("", ""),
])
def test_delivery_type_of_a_method(method, kind):
    assert rules.delivery_type_of(method) == kind


@pytest.mark.parametrize(("mobile", "shown"), [
    ("0912345678", "0912***678"), ("", ""), (None, ""), ("12345", "*****"),
])
def test_mobile_masking(mobile, shown):
    assert rules.mask_mobile(mobile) == shown


@pytest.mark.parametrize(("code", "shown"), [
    ("ABCDEFGHJKMNPQRS", "************PQRS"), ("ABCD", "ABCD"), ("", ""),
])
def test_code_masking(code, shown):
    assert rules.mask_code(code) == shown
