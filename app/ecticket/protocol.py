"""The ECTicket API's side of the wire that needs no database: the result codes (RtnCode), the
refusal a handler raises, and reading Data's fields the way ECPay's clients send them (PHP
clients send numbers as strings and "" for a field they leave out).

RtnCode (ours; clients test only `=== 1` and show RtnMsg):
1 Success · 3001 parameter error {name} · 3002 duplicate order number · 3003 not found ·
3004 the ticket's status forbids it · 3005 service or IssueType not enabled · 3006 product not
issuable · 3007 time window over · 3008 not permitted · 3009 rate limit · 3010 payment order
missing, unpaid or amount mismatch · 9999 system error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.ecpay import keys
from app.ecpay.json_api import Flavour, int_field, text_field

SUCCESS = 1
PARAMETER = 3001
DUPLICATE = 3002
NOT_FOUND = 3003
STATUS = 3004
NOT_ENABLED = 3005
NOT_ISSUABLE = 3006
TOO_LATE = 3007
NOT_PERMITTED = 3008
RATE_LIMITED = 3009
PAYMENT = 3010
SYSTEM = 9999

ALNUM = re.compile(r"[A-Za-z0-9]+")
DATE = re.compile(r"[0-9]{8}")  # yyyyMMdd


class Refused(Exception):
    """A handler's refusal: the RtnCode and RtnMsg to answer (inside an accepted envelope)."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


def parameter(name: str, why: str = "") -> Refused:
    return Refused(PARAMETER, f"Parameter error: {name}" + (f" ({why})" if why else ""))


def absent(value: Any) -> bool:
    return value is None or value == ""


def text(fields: Mapping[str, Any], name: str, size: int, *, required: bool = False,
         pattern: re.Pattern[str] | None = None) -> str:
    """A String(size) field: "" when left out (Refused if `required`), Refused when too long,
    not text, or not matching `pattern`."""
    value = fields.get(name)
    if absent(value):
        if required:
            raise parameter(name, "required")
        return ""
    found = text_field(value)
    if found is None or len(found) > size or "\x00" in found:
        raise parameter(name)
    if pattern is not None and not pattern.fullmatch(found):
        raise parameter(name)
    return found


def integer(fields: Mapping[str, Any], name: str, *, required: bool = False, low: int = 0,
            high: int = 2_147_483_647) -> int | None:
    """An Int field (a JSON integer or ASCII digits); None when left out."""
    value = fields.get(name)
    if absent(value):
        if required:
            raise parameter(name, "required")
        return None
    found = int_field(value)
    if found is None or not low <= found <= high:
        raise parameter(name)
    return found


def code(fields: Mapping[str, Any], name: str, allowed: tuple[str, ...], *,
         required: bool = False) -> str:
    """A code field (`"1"` or `1`) among `allowed`; "" when left out."""
    value = fields.get(name)
    if absent(value):
        if required:
            raise parameter(name, "required")
        return ""
    found = text_field(value)
    if found not in allowed:
        raise parameter(name)
    return found


def one_of(fields: Mapping[str, Any], names: Mapping[str, int]) -> tuple[str, str]:
    """Exactly one of `names` ({name: size}, alphanumeric): (name, value)."""
    given = [(name, text(fields, name, size, pattern=ALNUM)) for name, size in names.items()]
    present = [(name, value) for name, value in given if value]
    if len(present) != 1:
        raise parameter("/".join(names), "exactly one")
    return present[0]


@dataclass(frozen=True)
class Result:
    """A handler's answer: the inner Data (RtnCode 1 added) and whether it changed anything.

    `csv`: a call whose success is a file, not an envelope (OrderDetail): the CSV's text, in
    pieces read lazily (streamed as the response body; `data` is then unused), and its
    `filename`."""

    data: dict[str, Any]
    changed: bool = False
    csv: Iterable[str] | None = None
    filename: str = ""


def ok(message: str = "Success", **data: Any) -> dict[str, Any]:
    return {"RtnCode": SUCCESS, "RtnMsg": message, **data}


def failed(refusal: Refused) -> dict[str, Any]:
    return {"RtnCode": refusal.code, "RtnMsg": refusal.message, **refusal.extra}


# The ECTicket calls open and seal with the store's ECTicket pair if it has one, else its shared
# pair (app.ecpay.keys.ticket_pairs_for).
ECTICKET = Flavour(mac=True, outer_platform=True, pairs=keys.ticket_pairs_for)
