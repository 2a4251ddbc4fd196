"""`POST /1.0.0/Credit/DoAction`: ECPay's card back-office API (信用卡關帳/退刷/取消/放棄), server to
server, in the AES JSON envelope (app.ecpay.envelope). Flask-free: `handle` takes the body and
the caller's address and gives the response object; the view commits.

Envelope (outer) checks answer `TransCode`/`TransMsg` with `Data` = "" and change nothing; once
the envelope is accepted (TransCode 1) the result is `RtnCode`/`RtnMsg` inside the encrypted
Data, encrypted with the pair the request came in with. The codes other than 1 are ours (ECPay
publishes none); docs/checkout.md lists them.

C, E and N go through app.credit.services.perform — the same compare-and-set as the back-office
pages and the jobs, so a call racing a page has one winner and the loser gets 2003.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder
from app.credit import calendar, refunds, services, states
from app.credit.states import Action
from app.db import db
from app.ecpay import envelope, keys
from app.errors import DomainError
from app.stores.models import Store

UNSCOPED = {"unscoped": True}
TIMESTAMP_WINDOW = 600  # seconds either side of now
SUCCESS = "Success"

# Outer (envelope) failures: TransCode, TransMsg.
BAD_FORMAT = (10001, "Invalid request format")
BAD_PARAMETER = 10002  # "Invalid parameter: {name}"
NOT_AUTHORISED = (10003, "Merchant not authorised")
EXPIRED = (10004, "Timestamp expired")
DECRYPT_FAILED = (10005, "Data decrypt failed")
NOT_JSON = (10006, "Data is not valid JSON")
MISMATCH = (10008, "MerchantID mismatch")
SYSTEM_ERROR = (10099, "System error")

# Inner results: RtnCode, RtnMsg.
SUCCEEDED = (1, "Succeeded")
PARAMETER_ERROR = 2001  # "Parameter error: {name}"
NOT_FOUND = (2002, "Transaction not found")
NOT_ALLOWED = 2003  # "Action not allowed in state {state}"
AMOUNT_ERROR = (2004, "TotalAmount error")
OVER_DATE = (2006, "error_overDate")
BUSY = (2007, "Auto-close in progress")  # 20:15–20:30 Taipei, stores with auto-close on

_ACTIONS = {"C": Action.CLOSE, "E": Action.CANCEL_CLOSE, "N": Action.ABANDON, "R": Action.REFUND}
_TEXT_FIELDS = {"MerchantTradeNo": 20, "TradeNo": 20}


@dataclass
class Answer:
    """The response object and whether the database work should be kept (committed)."""

    body: dict[str, Any]
    changed: bool = False


def outer(merchant_id: str, code: tuple[int, str], data: str = "") -> dict:
    return {"MerchantID": merchant_id, "RpHeader": {"Timestamp": int(clock.now().timestamp())},
            "TransCode": code[0], "TransMsg": code[1], "Data": data}


def _int(value: Any) -> int | None:
    """Lenient Int: a JSON integer or an ASCII-digit string ("" = absent → None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


def _store_of(merchant_id: str) -> Store | None:
    return db.session.scalar(select(Store).where(Store.merchant_code == merchant_id))


def parse_body(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def handle(raw: bytes, remote_ip: str) -> Answer:
    """The response to one DoAction request body from `remote_ip`."""
    body = parse_body(raw)
    if body is None:
        return Answer(outer("", BAD_FORMAT))
    merchant_id = _text(body.get("MerchantID"))
    echo = merchant_id if merchant_id and len(merchant_id) <= 10 else ""
    header = body.get("RqHeader")
    stamp = _int(header.get("Timestamp")) if isinstance(header, dict) else None
    data = body.get("Data")
    for name, bad in (("MerchantID", not echo), ("RqHeader.Timestamp", stamp is None),
                      ("Data", not isinstance(data, str) or not data)):
        if bad:
            return Answer(outer(echo, (BAD_PARAMETER, f"Invalid parameter: {name}")))
    assert merchant_id is not None and stamp is not None and isinstance(data, str)
    store = _store_of(merchant_id)
    pairs = keys.pairs_for(store.id) if store is not None else []
    if store is None or not pairs \
            or not keys.ip_allowed(keys.allowed_ips_of(store.id), remote_ip):
        return Answer(outer(echo, NOT_AUTHORISED))
    if abs(int(clock.now().timestamp()) - stamp) > TIMESTAMP_WINDOW:
        return Answer(outer(echo, EXPIRED))
    fields, pair = None, None
    for candidate in pairs:
        try:
            fields, _ = envelope.decrypt_json(data, candidate.hash_key, candidate.hash_iv)
        except envelope.NotJsonObject:
            return Answer(outer(echo, NOT_JSON))
        except envelope.DecryptError:
            continue
        pair = candidate
        break
    if fields is None or pair is None:
        return Answer(outer(echo, DECRYPT_FAILED))
    platform = _text(fields.get("PlatformID")) or ""
    if platform and platform != merchant_id:
        return Answer(outer(echo, MISMATCH))
    if _text(fields.get("MerchantID")) != merchant_id:
        # A platform acting for a store bound to it would pass here; ectix has no such binding
        # yet, so Data.MerchantID must be the outer MerchantID.
        return Answer(outer(echo, MISMATCH))
    if _auto_closes(store) and calendar.in_quiet_window(clock.now()):
        result, changed = BUSY, False
    else:
        result, changed = _act(store, fields)
    inner: dict[str, Any] = {"RtnCode": result[0], "RtnMsg": result[1]}
    if platform:
        inner["PlatformID"] = platform
    inner |= {"MerchantID": merchant_id,
              "MerchantTradeNo": _text(fields.get("MerchantTradeNo")) or "",
              "TradeNo": _text(fields.get("TradeNo")) or ""}
    encrypted, _ = envelope.encrypt_json(inner, pair.hash_key, pair.hash_iv)
    return Answer(outer(echo, (1, SUCCESS), encrypted), changed=changed)


def _auto_closes(store: Store) -> bool:
    settings = keys.settings_of(store.id)
    return settings is None or settings.auto_close


def _transaction(store: Store, merchant_trade_no: str, trade_no: str) -> CardTransaction | None:
    return db.session.scalar(
        select(CardTransaction).join(CheckoutOrder, CheckoutOrder.id == CardTransaction.order_id)
        .where(CheckoutOrder.store_id == store.id,
               CheckoutOrder.merchant_trade_no == merchant_trade_no,
               CheckoutOrder.trade_no == trade_no)
        .execution_options(**UNSCOPED))


def _act(store: Store, fields: dict[str, Any]) -> tuple[tuple[int, str], bool]:
    """(RtnCode, RtnMsg) of the action the Data asks for, and whether it changed anything."""
    values: dict[str, str] = {}
    for name, size in _TEXT_FIELDS.items():
        value = _text(fields.get(name))
        if not value or len(value) > size:
            return (PARAMETER_ERROR, f"Parameter error: {name}"), False
        values[name] = value
    action = _ACTIONS.get(_text(fields.get("Action")) or "")
    if action is None:
        return (PARAMETER_ERROR, "Parameter error: Action"), False
    amount = _int(fields.get("TotalAmount"))
    if amount is None:
        return (PARAMETER_ERROR, "Parameter error: TotalAmount"), False
    txn = _transaction(store, values["MerchantTradeNo"], values["TradeNo"])
    if txn is None:
        return NOT_FOUND, False
    if action is Action.REFUND:
        return refund_action(txn, amount)
    if amount != txn.amount:  # C, N: the authorised amount; E: the close amount (= the same)
        return AMOUNT_ERROR, False
    try:
        services.perform(txn, action, reason=f"DoAction API：{action.label}")
    except DomainError as refused:
        if refused.code == "error_overDate":
            return OVER_DATE, False
        db.session.refresh(txn)
        return (NOT_ALLOWED, f"Action not allowed in state {txn.status.value}"), False
    return SUCCEEDED, True


def refund_action(txn: CardTransaction, amount: int) -> tuple[tuple[int, str], bool]:
    """`R` (退刷): a refund of `amount` (app.credit.refunds, the pages' service). A refused
    amount (not positive, above what is left, partial on an installment transaction) is 2004;
    a state that takes no refund (authorised, a full refund while close requested) is 2003."""
    try:
        refunds.refund(txn, amount, reason="DoAction API：退刷")
    except DomainError as refused:
        db.session.refresh(txn)
        if refused.message in (states.REFUND_AMOUNT, states.PARTIAL_NOT_ALLOWED):
            return (AMOUNT_ERROR[0], f"TotalAmount error: {refused.message}"), False
        return (NOT_ALLOWED, f"Action not allowed in state {txn.status.value}"), False
    return SUCCEEDED, True
