"""The acquirer adapter: what the cashier asks of a card network, and the sandbox that answers
like ECPay's stage environment. A real acquirer implements `Acquirer` and is named in the
config (CHECKOUT_ACQUIRER; `ACQUIRERS` maps names to factories).

Card input is checked here before any acquirer sees it (digits, a month not past, a 3–4 digit
CVV). There is no Luhn check: ECPay's published test card fails it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

TEST_CARD = "4311952222222222"
TEST_CVV = "222"
TEST_AUTH_CODE = "777777"
DECLINE_CARDS = {"4000000000000002": "發卡銀行拒絕交易（測試拒絕卡）"}
SANDBOX_ONLY = "測試環境僅接受綠界測試卡號"
BAD_CVV = "安全碼錯誤，交易未授權"


@dataclass(frozen=True)
class Card:
    number: str  # digits only; never stored
    exp_month: int
    exp_year: int  # four digits
    cvv: str  # never stored

    @property
    def first6(self) -> str:
        return self.number[:6]

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        n = self.number
        if n.startswith("4"):
            return "VISA"
        if n[:2] in {"34", "37"}:
            return "AMEX"
        if n[:2] == "35":
            return "JCB"
        if n[:2] == "62":
            return "UnionPay"
        if 51 <= int(n[:2]) <= 55 or 2221 <= int(n[:4]) <= 2720:
            return "MasterCard"
        return "其他"


@dataclass(frozen=True)
class Authorisation:
    approved: bool
    auth_code: str = ""
    serial: str = ""  # gwsr
    eci: str = "0"
    reason: str = ""  # why it was declined, for the consumer


class Acquirer(Protocol):
    name: str

    def authorise(self, card: Card, amount: int, *, reference: str) -> Authorisation: ...


class SandboxAcquirer:
    """Approves ECPay's test card (4311-9522-2222-2222, CVV 222, any future expiry) with
    authorisation code 777777; declines the documented decline cards and any other card."""

    name = "sandbox"

    def authorise(self, card: Card, amount: int, *, reference: str) -> Authorisation:
        if card.number in DECLINE_CARDS:
            return Authorisation(False, reason=DECLINE_CARDS[card.number])
        if card.number != TEST_CARD:
            return Authorisation(False, reason=SANDBOX_ONLY)
        if card.cvv != TEST_CVV:
            return Authorisation(False, reason=BAD_CVV)
        return Authorisation(True, auth_code=TEST_AUTH_CODE,
                             serial=str(10_000_000 + secrets.randbelow(90_000_000)))


ACQUIRERS: dict[str, Callable[[], Acquirer]] = {"sandbox": SandboxAcquirer}


def acquirer_named(name: str) -> Acquirer:
    try:
        return ACQUIRERS[name]()
    except KeyError as exc:
        raise RuntimeError(f"unknown acquirer {name!r} (CHECKOUT_ACQUIRER)") from exc


# Card input ----------------------------------------------------------------------------------------

CARD_NUMBER_INVALID = "請輸入正確的信用卡卡號（13 至 19 位數字）"
EXPIRY_INVALID = "請輸入正確的有效期限（MM/YY）"
EXPIRY_PAST = "此卡已過有效期限"
CVV_INVALID = "請輸入卡片背面的 3 或 4 位數安全碼"


def read_card(number: str, expiry: str, cvv: str, *, today: date) -> tuple[Card | None, dict[str, str]]:
    """The card typed on the payment page, or the problems per field (number, expiry, cvv)."""
    problems: dict[str, str] = {}
    digits = re.sub(r"[\s-]", "", number or "")
    if not re.fullmatch(r"[0-9]{13,19}", digits):
        problems["card_number"] = CARD_NUMBER_INVALID
    month = year = 0
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or "")
    if not match or not 1 <= int(match.group(1)) <= 12:
        problems["expiry"] = EXPIRY_INVALID
    else:
        month = int(match.group(1))
        year = int(match.group(2)) + (2000 if len(match.group(2)) == 2 else 0)
        if (year, month) < (today.year, today.month):
            problems["expiry"] = EXPIRY_PAST
    if not re.fullmatch(r"[0-9]{3,4}", (cvv or "").strip()):
        problems["cvv"] = CVV_INVALID
    if problems:
        return None, problems
    return Card(digits, month, year, cvv.strip()), {}
