"""Card input on the payment page and the sandbox acquirer."""

from __future__ import annotations

from datetime import date

import pytest

from app.checkout.acquirer import (
    BAD_CVV,
    CVV_INVALID,
    EXPIRY_INVALID,
    EXPIRY_PAST,
    SANDBOX_ONLY,
    Card,
    SandboxAcquirer,
    acquirer_named,
    read_card,
)

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(("number", "expiry", "cvv", "problems"), [
    ("4311-9522-2222-2222", "12/30", "222", {}),
    ("4311 9522 2222 2222", "11/2026", "222", {}),
    ("4311952222222222", "10/26", "222", {"expiry": EXPIRY_PAST}),
    ("4311952222222222", "13/30", "222", {"expiry": EXPIRY_INVALID}),
    ("4311952222222222", "1230", "222", {"expiry": EXPIRY_INVALID}),
    ("4311952222222222", "12/30", "22", {"cvv": CVV_INVALID}),
    ("4311-9522", "12/30", "222", {"card_number"}),
    ("4311x95222222222", "", "", {"card_number", "expiry", "cvv"}),
])
def test_read_card(number: str, expiry: str, cvv: str, problems) -> None:  # noqa: ANN001
    card, found = read_card(number, expiry, cvv, today=TODAY)
    assert (set(found) if isinstance(problems, set) else found) == problems
    assert (card is None) == bool(problems)


def test_the_test_card_is_approved_with_777777_and_never_luhn_checked() -> None:
    card, _ = read_card("4311-9522-2222-2222", "12/30", "222", today=TODAY)
    assert card is not None and (card.first6, card.last4, card.brand) == ("431195", "2222", "VISA")
    result = SandboxAcquirer().authorise(card, 1200, reference="T1")
    assert result.approved and result.auth_code == "777777" and len(result.serial) == 8


@pytest.mark.parametrize(("number", "cvv", "reason"), [
    ("4000000000000002", "123", "發卡銀行拒絕交易（測試拒絕卡）"),
    ("4311952222222222", "223", BAD_CVV),
    ("5555555555554444", "123", SANDBOX_ONLY),
])
def test_declines(number: str, cvv: str, reason: str) -> None:
    result = SandboxAcquirer().authorise(Card(number, 12, 2030, cvv), 100, reference="T1")
    assert not result.approved and result.reason == reason


def test_unknown_acquirer_name_is_a_configuration_error() -> None:
    assert acquirer_named("sandbox").name == "sandbox"
    with pytest.raises(RuntimeError):
        acquirer_named("nope")
