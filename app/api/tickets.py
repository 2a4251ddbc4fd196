"""Redemption and the ticket lifecycle for counters and POS systems (7-3 E–H):
POST /redemptions, POST /tickets/<serial>/cancel-redemption | return | cancel-return,
GET /tickets/<serial>/history.

The same services as the counter pages, so the same rules, windows and compare-and-set. What
the API adds:

- The same-answer rule (docs/tickets.md): a code that is unknown, malformed (wrong length,
  alphabet or check character) or another store's, or that this account may not redeem (a
  branch not on the product's list, a dissolved partner relation), gets one and the same 404,
  byte for byte, so codes cannot be probed; the first three take one path (one digest, one
  statement, no row). Each of those counts as a failed lookup, per account and per IP; over
  the limit every lookup answers 429 with `Retry-After`.
- Tickets are named by serial for the other actions: the issuer's, or for a partner store one
  of a product granted to it (the visibility of a code lookup, in the same one statement);
  anything else, and anything this account may not do to the ticket, is 404.
- Every POST takes an `Idempotency-Key` (app.api.idempotency); the views therefore do not
  commit: `@idempotent` commits the work together with the answer it keeps.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from flask_login import current_user
from sqlalchemy import select

from app import ratelimit
from app.api import api_route, schema
from app.api.idempotency import idempotent
from app.api.payloads import iso, json_body, timestamp_schema
from app.auth.access import acting_account as _actor
from app.auth.access import acting_principal, read_store
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import InvalidInput, NotFound, json_error
from app.history import HistoryEntry, action_label
from app.products.models import ProductKind
from app.stores.models import Branch, Store
from app.tickets import services
from app.tickets.actions import NotAllowedHere
from app.tickets.models import Ticket
from app.tickets.plain import TicketRow
from app.tickets.status import TicketStatus

UNKNOWN_SERIAL = "查無此票券序號"
REASON_MAX = 500
_LOOKUP_RULES = (ratelimit.UNKNOWN_CODE_PER_ACCOUNT, ratelimit.UNKNOWN_CODE_PER_IP)

_DATE = {"type": "string", "format": "date"}
_NULLABLE_STRING = {"type": ["string", "null"]}

TICKET = schema("Ticket", {
    "type": "object",
    "required": ["serial", "code", "status", "status_label", "kind", "face_value", "product",
                 "valid_from", "expires_on", "redeemed_at", "redeemed_by", "returned_at",
                 "return_fee", "order_no"],
    "properties": {
        "serial": {"type": "string", "description": "票券序號（16 碼英數字）"},
        "code": {**_NULLABLE_STRING, "description": "核銷代碼（僅發行商店可見；可核銷商店為 null）"},
        "status": {"enum": [s.value for s in TicketStatus], "description": "票券狀態"},
        "status_label": {"type": "string", "description": "票券狀態（中文，例如「已使用」）"},
        "kind": {"enum": [k.value for k in ProductKind], "description": "pickup：提貨券；gift：贈品券"},
        "face_value": {"type": "integer", "description": "面額（新台幣元）"},
        "product": {"type": "object", "required": ["id", "name"],
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "valid_from": {"type": ["string", "null"], "format": "date",
                       "description": "使用起始日（非即期電子票券；其他為 null）"},
        "expires_on": {**_DATE, "description": "價金保管迄日（提貨券）或使用期限（贈品券）"},
        "redeemed_at": timestamp_schema("核銷時間；未核銷為 null", nullable=True),
        "redeemed_by": {
            "type": ["object", "null"], "description": "核銷單位；未核銷為 null",
            "required": ["store", "branch"],
            "properties": {"store": {"type": "string", "description": "核銷商店名稱"},
                           "branch": {**_NULLABLE_STRING, "description": "核銷分店名稱（總店為 null）"}},
        },
        "returned_at": timestamp_schema("退貨時間；未退貨為 null", nullable=True),
        "return_fee": {"type": ["integer", "null"], "description": "退貨手續費（新台幣元）；無則為 null"},
        "order_no": {"type": "string", "description": "ECT訂單編號"},
    },
})

HISTORY = schema("TicketHistory", {
    "type": "object",
    "required": ["serial", "history"],
    "properties": {
        "serial": {"type": "string"},
        "history": {
            "type": "array", "description": "自發行起的每一筆異動，依時間先後",
            "items": {
                "type": "object",
                "required": ["at", "action", "action_label", "from_status", "to_status", "actor",
                             "store", "branch", "reason"],
                "properties": {
                    "at": timestamp_schema(),
                    "action": {"type": "string", "examples": ["redeemed", "redemption_cancelled",
                                                             "returned", "return_cancelled"]},
                    "action_label": {"type": "string", "description": "動作（中文）"},
                    "from_status": {**_NULLABLE_STRING, "description": "變更前的票券狀態"},
                    "to_status": {**_NULLABLE_STRING, "description": "變更後的票券狀態"},
                    "actor": {"type": "string", "description": "操作帳號（或「系統」）"},
                    "store": {**_NULLABLE_STRING, "description": "操作商店名稱"},
                    "branch": {**_NULLABLE_STRING, "description": "操作分店名稱（總店為 null）"},
                    "reason": {"type": "string", "description": "原因或備註"},
                },
            },
        },
    },
})

_REASON = {"type": ["string", "null"], "maxLength": REASON_MAX}
REDEMPTION_REQUEST = {
    "type": "object", "required": ["code"], "additionalProperties": False,
    "properties": {"code": {"type": "string", "minLength": 1,
                            "description": "核銷代碼（不分大小寫；空白與 - 會略去）"}},
}
CANCEL_REDEMPTION_REQUEST = {
    "type": "object", "additionalProperties": False,
    "description": "可省略（空的請求內容亦可）",
    "properties": {"reason": {**_REASON, "description": "取消原因（選填）"}},
}
RETURN_REQUEST = {
    "type": "object", "required": ["reason"], "additionalProperties": False,
    "properties": {
        "reason": {**_REASON, "minLength": 1, "description": "退貨原因"},
        "fee": {"type": ["integer", "null"], "minimum": 0,
                "description": "退貨手續費（新台幣元，選填）：僅價金保管期間內的提貨券，不可超過面額"},
    },
}
CANCEL_RETURN_REQUEST = {
    "type": "object", "required": ["reason"], "additionalProperties": False,
    "properties": {"reason": {**_REASON, "minLength": 1, "description": "取消退貨原因"}},
}

_ERROR = {"$ref": "#/components/schemas/Error"}
_REFUSED = ("票券狀態或時間不允許（error.code 為原因，例如 AlreadyRedeemed、NotYetValid、Expired、"
            "CancelWindowClosed、SentToBank、FeeAboveFaceValue；已核銷／已退貨時訊息含時間、地點與人員）",
            _ERROR)
_RATE_LIMITED = ("查詢錯誤的核銷代碼次數過多（rate_limited）；請於 Retry-After 秒後再試", _ERROR)




# Input -----------------------------------------------------------------------------------------

def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: message})


def _body(allowed: set[str], *, may_be_empty: bool = False) -> dict[str, Any]:
    if may_be_empty and not request.get_data():
        return {}
    body = json_body()
    if unknown := sorted(set(body) - allowed):
        raise _invalid(unknown[0], f"不支援的欄位：{unknown[0]}")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(name, f"{name} 須為字串")
    return value


def _fee(body: dict[str, Any]) -> int | None:
    value = body.get("fee")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid("fee", "退貨手續費 fee 須為整數（新台幣元）")
    return value


# Output ----------------------------------------------------------------------------------------

def _branch_names(ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(Branch.id, Branch.name).where(Branch.id.in_(wanted))
                              .execution_options(unscoped=True))
    return {row_id: name for row_id, name in rows}


def _store_names(ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {row_id: name for row_id, name in db.session.execute(
        select(Store.id, Store.name).where(Store.id.in_(wanted)))}


def ticket_json(ticket: Ticket | TicketRow, viewer: Store | None = None) -> dict[str, Any]:
    """A ticket as the API shows it to `viewer` (the acting store): the code only to its issuer."""
    viewer = viewer if viewer is not None else g.store
    redeemed_by = None
    if ticket.redeemed_store_id is not None:
        # Usually the acting store and the clerk's branch, already in the session: no query
        # (the acting store itself without even the identity map's lookup).
        store = (viewer if viewer is not None and viewer.id == ticket.redeemed_store_id
                 else db.session.get(Store, ticket.redeemed_store_id))
        branch = (db.session.get(Branch, ticket.redeemed_branch_id, execution_options={"unscoped": True})
                  if ticket.redeemed_branch_id is not None else None)
        redeemed_by = {"store": store.name if store else "", "branch": branch.name if branch else None}
    return {
        "serial": ticket.serial,
        "code": ticket.code if viewer is not None and ticket.store_id == viewer.id else None,
        "status": ticket.current_status.value, "status_label": ticket.current_status.label,
        "kind": ticket.kind.value, "face_value": ticket.face_value,
        "product": {"id": ticket.product_id, "name": ticket.product.name},
        "valid_from": iso(ticket.valid_from), "expires_on": iso(ticket.expires_on),
        "redeemed_at": iso(ticket.redeemed_at), "redeemed_by": redeemed_by,
        "returned_at": iso(ticket.returned_at), "return_fee": ticket.return_fee,
        "order_no": ticket.order_no,  # undeferred by the lookups, else one query
    }


def history_json(ticket: Ticket) -> dict[str, Any]:
    entries = db.session.scalars(
        select(HistoryEntry)
        .where(HistoryEntry.subject_type == Ticket.__tablename__, HistoryEntry.subject_id == ticket.id)
        .order_by(HistoryEntry.at, HistoryEntry.id)).all()
    stores = _store_names({e.actor_store_id for e in entries})
    branches = _branch_names({e.actor_branch_id for e in entries})
    return {"serial": ticket.serial, "history": [
        {"at": iso(e.at), "action": e.action, "action_label": action_label(e.action),
         "from_status": e.from_status, "to_status": e.to_status, "actor": e.actor_label,
         "store": stores.get(e.actor_store_id) if e.actor_store_id else None,
         "branch": branches.get(e.actor_branch_id) if e.actor_branch_id else None,
         "reason": e.reason or ""}
        for e in entries]}


# Finding tickets -------------------------------------------------------------------------------

def _lookup_identities() -> tuple[object, object]:
    return current_user.id, request.remote_addr or ""


def _rate_limited() -> Response | None:
    """429 with Retry-After while this account or this IP has too many failed code lookups."""
    for rule, identity in zip(_LOOKUP_RULES, _lookup_identities(), strict=True):
        try:
            ratelimit.check(rule, identity)
        except ratelimit.TooManyAttempts as refused:
            response, status = json_error(refused.status, refused.code, refused.message)
            response.status_code = status
            response.headers["Retry-After"] = str(int(rule.item.get_expiry()))
            return response
    return None


def _failed_lookup() -> None:
    for rule, identity in zip(_LOOKUP_RULES, _lookup_identities(), strict=True):
        ratelimit.count_failure(rule, identity)


def _ticket_by_serial(serial: str) -> Ticket:
    """A ticket this store may see (its own, or of a product granted to it), by serial; else 404:
    unknown and invisible alike, in one statement."""
    ticket = services.find_visible_by_serial(g.store, serial)
    if ticket is None:
        raise NotFound(UNKNOWN_SERIAL)
    return ticket


# Routes ----------------------------------------------------------------------------------------

@api_route("/redemptions", ["POST"], summary="核銷票券", request_schema=REDEMPTION_REQUEST,
           requires=(Function.REDEEM, Level.MODIFY), endpoint="redeem",
           responses={201: ("已核銷：票券（已送出核銷，票券狀態已變更）", TICKET),
                      409: _REFUSED,
                      422: ("輸入錯誤（未填 code 或非字串）", _ERROR),
                      429: _RATE_LIMITED},
           description="以核銷代碼核銷票券（發行商店，或獲開放跨店核銷的可核銷商店）。同一張票券"
                       "只會核銷一次：已核銷回應 409 AlreadyRedeemed，並說明何時、何處、由誰核銷。"
                       "查無代碼、代碼格式或檢查碼不符、他店票券與無權核銷的回應完全相同（404 "
                       "not_found），處理方式與耗時亦同；以上皆依帳號與 IP 計次，過多時回應 429。")
@idempotent
def redeem():
    code = _body({"code"}).get("code")
    if not isinstance(code, str):
        raise _invalid("code", "請輸入核銷代碼 code（字串）")
    if (limited := _rate_limited()) is not None:
        return limited
    # Who acts and for which store, only read (a bearer token's are not copied into the session).
    store = read_store()
    try:
        ticket = services.find_row_by_code(store, code)  # a plain row: nothing else writes it
        done = services.redeem(acting_principal(), store, ticket)
    except (NotFound, NotAllowedHere):
        _failed_lookup()
        raise NotFound(services.UNKNOWN_CODE) from None
    return ticket_json(done.ticket, store), 201


def _act(ticket: Ticket, action, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN001
    """Run the service; a ticket this account may not act on is 404 like an unknown one."""
    try:
        done = action(_actor(), g.store, ticket, **kwargs)
    except NotAllowedHere:
        raise NotFound(UNKNOWN_SERIAL) from None
    return ticket_json(done.ticket)


@api_route("/tickets/<serial>/cancel-redemption", ["POST"], summary="取消核銷",
           request_schema=CANCEL_REDEMPTION_REQUEST, endpoint="cancel_redemption",
           requires=(Function.CANCEL_REDEMPTION, Level.MODIFY),
           responses={200: ("已取消核銷：票券", TICKET), 409: _REFUSED},
           description="取消核銷，限核銷當日 23:59 前（逾期兌回者不限）；贈品券核銷後無法取消。"
                       "發行商店總店或原核銷單位（含原核銷的可核銷商店）可取消；"
                       "查無序號或此帳號不可操作此票券回應 404。")
@idempotent
def cancel_redemption(serial: str):
    ticket = _ticket_by_serial(serial)
    reason = _text(_body({"reason"}, may_be_empty=True), "reason")
    return _act(ticket, services.cancel_redemption, reason=reason)


@api_route("/tickets/<serial>/return", ["POST"], summary="票券退貨", request_schema=RETURN_REQUEST,
           requires=(Function.RETURN, Level.MODIFY), endpoint="return_ticket",
           responses={200: ("已退貨：票券（待退貨）", TICKET), 409: _REFUSED},
           description="退貨（僅發行商店）：須填原因；價金保管期間內的提貨券可收退貨手續費"
                       "（0 至面額）。查無序號或此帳號不可操作此票券回應 404。")
@idempotent
def return_ticket(serial: str):
    ticket = _ticket_by_serial(serial)
    body = _body({"reason", "fee"})
    reason, fee = _text(body, "reason"), _fee(body)
    return _act(ticket, services.return_ticket, reason=reason, fee=fee)


@api_route("/tickets/<serial>/cancel-return", ["POST"], summary="取消退貨",
           request_schema=CANCEL_RETURN_REQUEST, endpoint="cancel_return",
           requires=(Function.CANCEL_RETURN, Level.MODIFY),
           responses={200: ("已取消退貨：票券", TICKET), 409: _REFUSED},
           description="取消退貨（僅發行商店總店或原退貨分店），須填原因，限退貨當日 23:59 前。"
                       "查無序號或此帳號不可操作此票券回應 404。")
@idempotent
def cancel_return(serial: str):
    ticket = _ticket_by_serial(serial)
    reason = _text(_body({"reason"}), "reason")
    return _act(ticket, services.cancel_return, reason=reason)


@api_route("/tickets/<serial>/history", summary="票券歷程", endpoint="ticket_history",
           requires=(Function.REPORT_TICKETS, Level.VIEW),
           responses={200: HISTORY},
           description="本商店發行的票券自發行起的每一筆異動（核銷、取消核銷、退貨、取消退貨、"
                       "備註…），依時間先後。")
def ticket_history(serial: str):
    try:
        ticket = services.find_by_serial(g.store, serial)
    except NotFound:
        raise NotFound(UNKNOWN_SERIAL) from None
    return history_json(ticket)
