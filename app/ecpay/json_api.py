"""Serving ECPay's JSON APIs — the card back office's DoAction and the ECTicket merchant API —
from the merchant's side of the wire: the envelope checks, in ECPay's order, and the answers.
Flask-free: a view hands over the raw body and the caller's address and sends back the dict.

Request: `{"PlatformID"?, "MerchantID", "RqHeader": {"Timestamp"}, "Data", "CheckMacValue"?}`.
Checks, in order (each answers `TransCode`/`TransMsg` with `Data` = "" and changes nothing):

| # | failure | TransCode |
|---|---|---|
| 1 | the body is not a JSON object | 10001 |
| 2 | MerchantID, RqHeader.Timestamp, Data (ECTicket: CheckMacValue) missing or mistyped | 10002 |
|   | (ECTicket) a PlatformID neither absent, "" nor a string of at most 10 | 10002 |
| 3 | merchant unknown or keyless, an address not allowed, a PlatformID not its parent | 10003 |
| 4 | Timestamp more than 10 minutes from now | 10004 |
| 5 | Data: Base64, AES, padding, URL-decoding, UTF-8 | 10005 |
| 6 | the decrypted Data is not a JSON object | 10006 |
| 7 | CheckMacValue does not match the plaintext (ECTicket) | 10007 |
| 8 | Data.MerchantID is not the outer MerchantID | 10008 |

A platform (PlatformID, ECTicket) is a parent store (母商店) calling for one of its children:
its own keys sign and encrypt. An accepted request is answered `TransCode` 1 with the result
encrypted under the pair the request came with (and, ECTicket, its CheckMacValue).

Outer types are the spec's: MerchantID and PlatformID are Strings, so a JSON number there is
mistyped (10002), never read as its digits. The lenient reading of PHP clients (a number for a
String, digits for an Int: `text_field`, `int_field`) is for the fields inside Data — and for
RqHeader.Timestamp, which PHP clients may send as digits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app import clock
from app.db import db
from app.ecpay import envelope, keys
from app.stores.models import Store

TIMESTAMP_WINDOW = 600  # seconds either side of now
MAX_BODY = 256 * 1024

BAD_FORMAT = (10001, "Invalid request format")
BAD_PARAMETER = 10002  # "Invalid parameter: {name}"
NOT_AUTHORISED = (10003, "Merchant not authorised")
EXPIRED = (10004, "Timestamp expired")
DECRYPT_FAILED = (10005, "Data decrypt failed")
NOT_JSON = (10006, "Data is not valid JSON")
MAC_ERROR = (10007, "CheckMacValue error")
MISMATCH = (10008, "MerchantID mismatch")
SYSTEM_ERROR = (10099, "System error")
SUCCESS = (1, "Success")


@dataclass(frozen=True)
class Flavour:
    """What differs between ECPay's JSON APIs."""

    mac: bool  # an outer CheckMacValue over the Data plaintext (ECTicket)
    outer_platform: bool  # PlatformID beside MerchantID (ECTicket), or inside Data (DoAction)
    pairs: Callable[[int], list[keys.Pair]] = keys.pairs_for  # the store's pairs, current first


DO_ACTION = Flavour(mac=False, outer_platform=False)


@dataclass
class Request:
    """An accepted envelope."""

    store: Store  # the store the call is for (MerchantID)
    merchant_id: str
    platform_id: str  # "" when none
    pair: keys.Pair  # the pair that opened it: the answer is sealed with it
    fields: dict[str, Any]  # the decrypted Data
    plaintext: str = field(repr=False)


@dataclass
class Refused:
    body: dict[str, Any]


def int_field(value: Any) -> int | None:
    """A lenient Int (PHP clients send strings): a JSON integer or ASCII digits; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def text_field(value: Any) -> str | None:
    """A String field; a JSON integer is taken as its digits; anything else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def string_field(value: Any) -> str | None:
    """An outer String field (MerchantID, PlatformID): a JSON string, else None (mistyped)."""
    return value if isinstance(value, str) else None


def parse_body(raw: bytes) -> dict | None:
    if len(raw) > MAX_BODY:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _stamp() -> dict[str, int]:
    return {"Timestamp": int(clock.now().timestamp())}


def refused(flavour: Flavour, merchant_id: str, platform_id: str,
            code: tuple[int, str]) -> dict[str, Any]:
    """An envelope refusal: TransCode/TransMsg, `Data` (and CheckMacValue) empty."""
    body: dict[str, Any] = {"PlatformID": platform_id} if flavour.outer_platform else {}
    body |= {"MerchantID": merchant_id, "RpHeader": _stamp(), "TransCode": code[0],
             "TransMsg": code[1], "Data": ""}
    if flavour.mac:
        body["CheckMacValue"] = ""
    return body


def answer(flavour: Flavour, request: Request, inner: dict[str, Any]) -> dict[str, Any]:
    """TransCode 1 and `inner` (RtnCode, RtnMsg, …) encrypted under the request's pair."""
    data, plaintext = envelope.encrypt_json(inner, request.pair.hash_key, request.pair.hash_iv)
    body: dict[str, Any] = {"PlatformID": request.platform_id} if flavour.outer_platform else {}
    body |= {"MerchantID": request.merchant_id, "RpHeader": _stamp(), "TransCode": SUCCESS[0],
             "TransMsg": SUCCESS[1], "Data": data}
    if flavour.mac:
        body["CheckMacValue"] = envelope.ticket_check_mac_value(
            plaintext, request.pair.hash_key, request.pair.hash_iv)
    return body


def _store(merchant_id: str) -> Store | None:
    if not merchant_id or len(merchant_id) > 10 or "\x00" in merchant_id:
        return None
    return db.session.scalar(select(Store).where(Store.merchant_code == merchant_id))


def _short(value: str | None) -> str:
    return value if value and len(value) <= 10 else ""


def open_request(flavour: Flavour, raw: bytes, remote_ip: str) -> Request | Refused:
    """The accepted request, or the refusal to send back (checks 1–8, in order)."""
    body = parse_body(raw)
    if body is None:
        return Refused(refused(flavour, "", "", BAD_FORMAT))
    merchant_id = string_field(body.get("MerchantID"))
    given_platform = body.get("PlatformID") if flavour.outer_platform else None
    platform_id = "" if given_platform is None else string_field(given_platform)
    echo, echo_platform = _short(merchant_id), _short(platform_id)

    def no(code: tuple[int, str]) -> Refused:
        return Refused(refused(flavour, echo, echo_platform, code))

    header = body.get("RqHeader")
    stamp = int_field(header.get("Timestamp")) if isinstance(header, dict) else None
    data = body.get("Data")
    mac = body.get("CheckMacValue")
    for name, bad in (("MerchantID", not echo),
                      ("PlatformID", platform_id is None or len(platform_id) > 10),
                      ("RqHeader.Timestamp", stamp is None),
                      ("Data", not isinstance(data, str) or not data),
                      ("CheckMacValue", flavour.mac and (not isinstance(mac, str) or not mac
                                                         or len(mac) > 64))):
        if bad:
            return no((BAD_PARAMETER, f"Invalid parameter: {name}"))
    assert merchant_id is not None and stamp is not None and isinstance(data, str)
    store = _store(merchant_id)
    signer = store
    if store is not None and platform_id and platform_id != merchant_id:
        signer = _store(platform_id)
        if signer is None or store.parent_id != signer.id:
            signer = None
    pairs = flavour.pairs(signer.id) if signer is not None else []
    if store is None or signer is None or not pairs \
            or not keys.ip_allowed(keys.allowed_ips_of(signer.id), remote_ip):
        return no(NOT_AUTHORISED)
    if abs(int(clock.now().timestamp()) - stamp) > TIMESTAMP_WINDOW:
        return no(EXPIRED)
    opened = None
    for pair in pairs:
        try:
            fields, plaintext = envelope.decrypt_json(data, pair.hash_key, pair.hash_iv)
        except envelope.NotJsonObject:
            return no(NOT_JSON)
        except envelope.DecryptError:
            continue
        opened = Request(store, merchant_id, platform_id or "", pair, fields, plaintext)
        break
    if opened is None:
        return no(DECRYPT_FAILED)
    if flavour.mac and not envelope.verify_ticket_mac(opened.plaintext, mac, opened.pair.hash_key,
                                                      opened.pair.hash_iv):
        return no(MAC_ERROR)
    if text_field(opened.fields.get("MerchantID")) != merchant_id:
        return no(MISMATCH)
    return opened
