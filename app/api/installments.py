"""Installment orders by API (八 分期核銷): POST /installment-orders,
GET /installment-orders/<merchant_order_no>.

The same service as the upload page (app/installments/issuing.py), so the same rules and the
same messages: one order is checked as one row of the template and issued in the request (a
one-order batch), so the answer holds the order with its periods. The POST needs an
`Idempotency-Key`: a retry with the same key and body gets the first answer and never issues
twice; a merchant order number already used answers 409 `order_no_used`. The views do not
commit: `@idempotent` commits the work together with the answer it keeps.
"""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.api import api_route, schema
from app.api.idempotency import idempotent
from app.api.payloads import iso, json_body, timestamp_schema
from app.auth.access import acting_account as _actor
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.installments import issuing
from app.installments import issuing_rules as rules
from app.installments.models import InstallmentOrder
from app.installments.status import PeriodStatus
from app.issuance.columns import MERCHANT_ORDER_NO_MAX
from app.issuance.rules import ORDER_NO_PATTERN, order_no_taken

BODY_MAX = 16 * 1024  # one order's fields fit in far less
UNKNOWN_ORDER = "找不到此訂單（或不屬於此商店）"
_NULLABLE_STRING = {"type": ["string", "null"]}
_DATE = {"type": "string", "format": "date"}

PERIOD = schema("InstallmentPeriod", {
    "type": "object",
    "required": ["number", "serial", "face_value", "expected_date", "status", "status_label"],
    "properties": {
        "number": {"type": "integer", "minimum": 1, "description": "第幾期"},
        "serial": {"type": "string", "description": "序號（16 碼英數字）"},
        "face_value": {"type": "integer", "description": "面額（新台幣元）"},
        "expected_date": {**_DATE, "description": "預計核銷日：當日自動核銷"},
        "status": {"enum": [s.value for s in PeriodStatus],
                   "description": "unused 未使用、redeeming 核銷中、redeemed 已核銷、"
                                  "return_pending 待退貨、returning 退貨中、returned 已退貨"},
        "status_label": {"type": "string", "description": "序號狀態（中文）"},
    },
})

ORDER = schema("InstallmentOrder", {
    "type": "object",
    "required": ["order_no", "merchant_order_no", "total_amount", "period_count", "period_days",
                 "first_date", "purchaser_name", "mobile", "email", "refund_notify_url",
                 "issued_at", "returned_at", "periods"],
    "properties": {
        "order_no": {"type": "string", "description": "ECT訂單編號"},
        "merchant_order_no": {"type": "string", "description": "廠商訂單編號"},
        "total_amount": {"type": "integer", "description": "訂單總金額（新台幣元）"},
        "period_count": {"type": "integer", "description": "期數（發行時合約的核銷設定）"},
        "period_days": {"type": "integer", "description": "每期天數（發行時合約的核銷設定）"},
        "first_date": {**_DATE, "description": "首期預計核銷日"},
        "purchaser_name": {"type": "string"},
        "mobile": {"type": "string", "description": "購買人手機（未提供為空字串）"},
        "email": {"type": "string", "description": "購買人 Email（未提供為空字串）"},
        "refund_notify_url": {"type": "string",
                              "description": "發行時的退款結果主動通知 URL（之後修改設定不影響此訂單）"},
        "issued_at": timestamp_schema("發行時間"),
        "returned_at": timestamp_schema("訂單退貨時間（未退貨為 null）", nullable=True),
        "periods": {"type": "array", "items": PERIOD, "description": "各期序號，依期別排序"},
    },
})

NEW_ORDER = {
    "type": "object",
    "required": [c.key for c in rules.COLUMNS if c.always_required],
    "additionalProperties": False,
    "properties": {c.key: dict(c.schema) for c in rules.COLUMNS},
}

# What each field must be in JSON (the rules then check the value, as in the template).
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "merchant_order_no": ((str,), "字串"),
    "total_amount": ((int,), "整數"),
    "purchaser_name": ((str,), "字串"),
    "mobile": ((str, type(None)), "字串或 null"),
    "email": ((str, type(None)), "字串或 null"),
    "first_date": ((str, type(None)), "字串（yyyy-mm-dd）或 null"),
}


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body's fields, each of its JSON type (422 with every wrong field otherwise)."""
    problems = {key: "不支援的欄位" for key in sorted(set(body) - set(_TYPES))}
    for key, (types, label) in _TYPES.items():
        value = body.get(key)
        if key in body and (not isinstance(value, types) or isinstance(value, bool)):
            problems[key] = f"{key} 須為{label}"
    if problems:
        first = next(iter(problems.values()))
        if first == "不支援的欄位":
            first = f"不支援的欄位：{'、'.join(k for k, v in problems.items() if v == '不支援的欄位')}"
        raise InvalidInput(first, fields=problems)
    return {key: body.get(key) for key in _TYPES}


def order_json(order: InstallmentOrder) -> dict[str, Any]:
    return {
        "order_no": order.order_no, "merchant_order_no": order.merchant_order_no,
        "total_amount": order.total_amount, "period_count": order.period_count,
        "period_days": order.period_days, "first_date": iso(order.first_date),
        "purchaser_name": order.purchaser_name, "mobile": order.purchaser_mobile,
        "email": order.purchaser_email, "refund_notify_url": order.refund_notify_url,
        "issued_at": iso(order.created_at), "returned_at": iso(order.returned_at),
        "periods": [{"number": p.number, "serial": p.serial, "face_value": p.face_value,
                     "expected_date": iso(p.expected_date), "status": p.status.value,
                     "status_label": p.status.label} for p in order.periods],
    }


def _order(merchant_order_no: str) -> InstallmentOrder | None:
    if not ORDER_NO_PATTERN.fullmatch(merchant_order_no):
        return None  # never a stored number (and never a NUL byte for the database)
    return db.session.scalar(
        select(InstallmentOrder)
        .where(InstallmentOrder.store_id == g.store.id,
               InstallmentOrder.merchant_order_no == merchant_order_no)
        .options(selectinload(InstallmentOrder.periods)))


@api_route("/installment-orders", ["POST"], summary="發行分期核銷訂單", request_schema=NEW_ORDER,
           requires=(Function.INSTALLMENT_REPORTS, Level.MODIFY),
           endpoint="create_installment_order",
           responses={201: ("已發行：訂單與各期序號", ORDER),
                      409: ("廠商訂單編號已使用（order_no_used）、發行服務未開通、合約尚未生效或已到期、"
                            "非分期核銷商店、合約未設定核銷設定，或同一 Idempotency-Key 的請求仍在處理中"
                            "（request_in_progress）；皆未發行", {"$ref": "#/components/schemas/Error"}),
                      413: ("請求內容太大", {"$ref": "#/components/schemas/Error"}),
                      422: ("輸入錯誤（fields 列出每個欄位的錯誤，與上傳發行訂單的訊息相同）、缺少或錯誤的 "
                            "Idempotency-Key；未發行", {"$ref": "#/components/schemas/Error"})},
           description="發行一筆分期核銷訂單（與後台「上傳發行訂單」的一列相同的規則）。期數與每期天數依"
                       "合約的核銷設定；訂單總金額依期數平均分配為各期面額，餘數加在第 1 期；首期預計核銷日"
                       "未提供時為發行日加上每期天數。發行時記錄當下的退款結果主動通知 URL。"
                       "須提供 Idempotency-Key：以相同的鍵與內容重送，回應第一次的結果，不會重複發行。")
@idempotent(required=True)
def create_installment_order():
    fields = _fields(json_body(max_bytes=BODY_MAX))
    try:
        order = issuing.issue_order(_actor(), g.store, fields)
    except IntegrityError:  # a concurrent request took the same merchant order number first
        db.session.rollback()
        number = fields["merchant_order_no"]
        taken = issuing.used_order_nos(g.store.id, [number])
        if number not in taken:
            raise
        message = order_no_taken(taken[number])
        raise DomainError(message, code=issuing.ORDER_NO_USED,
                          fields={"merchant_order_no": message}) from None
    return (order_json(order), 201,
            {"Location": url_for("api.installment_order",
                                 merchant_order_no=order.merchant_order_no)})


@api_route("/installment-orders/<merchant_order_no>", summary="查詢分期核銷訂單",
           endpoint="installment_order", requires=(Function.INSTALLMENT_REPORTS, Level.VIEW),
           responses={200: ORDER},
           description=f"本商店的一筆分期核銷訂單（依廠商訂單編號，英數字最多 {MERCHANT_ORDER_NO_MAX} 字）"
                       "與各期序號的面額、預計核銷日及狀態。其他商店的訂單回應 404。")
def installment_order(merchant_order_no: str):
    order = _order(merchant_order_no)
    if order is None:
        raise NotFound(UNKNOWN_ORDER)
    return order_json(order)
