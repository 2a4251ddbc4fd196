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

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app import clock
from app.checkout.models import CardTransaction, CheckoutOrder
from app.credit import calendar, refunds, services, states
from app.credit.states import Action
from app.db import db
from app.ecpay import json_api, keys
from app.errors import DomainError
from app.stores.models import Store

UNSCOPED = {"unscoped": True}

# Inner results: RtnCode, RtnMsg.
SUCCEEDED = (1, "Succeeded")
PARAMETER_ERROR = 2001  # "Parameter error: {name}"
NOT_FOUND = (2002, "Transaction not found")
NOT_ALLOWED = 2003  # "Action not allowed in state {state}"
AMOUNT_ERROR = (2004, "TotalAmount error")
INSUFFICIENT_BALANCE = (2005, "Insufficient balance")  # app.credit.balance
OVER_DATE = (2006, "error_overDate")
BUSY = (2007, "Auto-close in progress")  # 20:15–20:30 Taipei, stores with auto-close on

_ACTIONS = {"C": Action.CLOSE, "E": Action.CANCEL_CLOSE, "N": Action.ABANDON, "R": Action.REFUND}
_TEXT_FIELDS = {"MerchantTradeNo": 20, "TradeNo": 20}
_int, _text = json_api.int_field, json_api.text_field


@dataclass
class Answer:
    """The response object and whether the database work should be kept (committed)."""

    body: dict[str, Any]
    changed: bool = False


def refusal(code: tuple[int, str]) -> dict[str, Any]:
    """An envelope refusal with nothing known of the caller (a body too large, an exception)."""
    return json_api.refused(json_api.DO_ACTION, "", "", code)


def handle(raw: bytes, remote_ip: str) -> Answer:
    """The response to one DoAction request body from `remote_ip`."""
    opened = json_api.open_request(json_api.DO_ACTION, raw, remote_ip)
    if isinstance(opened, json_api.Refused):
        return Answer(opened.body)
    store, fields, merchant_id = opened.store, opened.fields, opened.merchant_id
    platform = _text(fields.get("PlatformID")) or ""
    if platform and platform != merchant_id:
        # DoAction's PlatformID travels inside Data and must name the caller itself.
        return Answer(json_api.refused(json_api.DO_ACTION, merchant_id, "", json_api.MISMATCH))
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
    return Answer(json_api.answer(json_api.DO_ACTION, opened, inner), changed=changed)


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
    services.lock(txn)  # the amount required is read under the lock the action takes
    if amount != required_amount(txn, action):
        return AMOUNT_ERROR, False
    try:
        services.perform(txn, action, reason=f"DoAction API：{action.label}")
    except DomainError as refused:
        if refused.code == "error_overDate":
            return OVER_DATE, False
        db.session.refresh(txn)
        return (NOT_ALLOWED, f"Action not allowed in state {txn.status.value}"), False
    return SUCCEEDED, True


def required_amount(txn: CardTransaction, action: Action) -> int:
    """The TotalAmount C, E and N take: the authorised amount, but for E (cancel) on a closed
    transaction with refunds pending, the sum of those refunds (what the cancel undoes)."""
    if action is Action.CANCEL_CLOSE and txn.status is states.S.CLOSED:
        pending = services.refund_sums(txn.id)[1]
        if pending:
            return pending
    return txn.amount


def refund_action(txn: CardTransaction, amount: int) -> tuple[tuple[int, str], bool]:
    """`R` (退刷): a refund of `amount` (app.credit.refunds, the pages' service). A refused
    amount (not positive, above what is left, partial on an installment transaction) is 2004;
    a state that takes no refund (authorised, a full refund while close requested) is 2003; a
    refund above the store's card balance (app.credit.balance) is 2005."""
    try:
        refunds.refund(txn, amount, reason="DoAction API：退刷")
    except DomainError as refused:
        db.session.refresh(txn)
        if refused.code == "insufficient_balance":
            return INSUFFICIENT_BALANCE, False
        if refused.message in (states.REFUND_AMOUNT, states.PARTIAL_NOT_ALLOWED):
            return (AMOUNT_ERROR[0], f"TotalAmount error: {refused.message}"), False
        return (NOT_ALLOWED, f"Action not allowed in state {txn.status.value}"), False
    return SUCCEEDED, True
