"""Issuance by API (7-3 B): POST /batches, GET /batches/<id>, GET /tickets/<serial>.

The same services as the upload page, so the same rules and the same idempotency: the rows
are checked exactly as the template's rows are (`prepare_batch`), and the batch is confirmed
in the same request. Wrong rows answer 422 with every row's errors and leave nothing behind (a
merchant order number another batch took, even one confirmed while this request ran, is such
a row error: app/issuance/rules.py, rule e); an import number already used answers 409 and
issues nothing. Issuing runs in the background:
poll GET /batches/<id> until `status` is `succeeded` (the tickets are listed then) or `failed`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.api import api_route, schema
from app.api.payloads import iso, json_body
from app.auth.access import acting_account as _actor
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.issuance import services
from app.issuance.columns import COLUMNS, KEY_OF
from app.issuance.models import Batch, BatchStatus
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod, DeliveryType
from app.tenancy import get_owned_or_404
from app.tickets.codes import MAX_TICKETS_PER_BATCH
from app.tickets.models import Order, Ticket
from app.tickets.status import TicketStatus

METHODS = sorted({m.method for m in DeliveryMethod})
BAD_PAIR = "出券類型與發行方式的組合不正確（cvs：ibon；paper：platform_print、merchant_print；" \
           "electronic：immediate、deferred）"
PLATFORM_ID_MAX = 20

_NULLABLE_STRING = {"type": ["string", "null"]}

TICKET = schema("IssuedTicket", {
    "type": "object",
    "required": ["serial", "code", "link", "pickup_code", "status", "order_no",
                 "merchant_order_no", "face_value", "product_id", "valid_from", "expires_on"],
    "properties": {
        "serial": {"type": "string", "description": "票券序號（16 碼英數字）"},
        "code": {"type": "string", "description": "核銷代碼（含檢查碼）"},
        "link": {**_NULLABLE_STRING, "format": "uri",
                 "description": "電子票券連結（電子票券；其他出券類型為 null）"},
        "pickup_code": {**_NULLABLE_STRING, "description": "超商取票代碼（超商票券；其他為 null）"},
        "status": {"enum": [s.value for s in TicketStatus], "description": "票券狀態"},
        "order_no": {"type": "string", "description": "ECT訂單編號"},
        "merchant_order_no": {"type": "string", "description": "廠商訂單編號"},
        "face_value": {"type": "integer", "description": "面額（新台幣元）"},
        "product_id": {"type": "integer"},
        "valid_from": {**_NULLABLE_STRING, "format": "date",
                       "description": "使用起始日（非即期電子票券；其他為 null）"},
        "expires_on": {"type": "string", "format": "date",
                       "description": "價金保管迄日（提貨券）或使用期限（贈品券）"},
    },
})

BATCH = schema("Batch", {
    "type": "object",
    "required": ["id", "import_no", "status", "progress", "errors", "tickets"],
    "properties": {
        "id": {"type": "integer"},
        "import_no": {"type": "string", "description": "匯入單號"},
        "status": {"enum": [s.value for s in BatchStatus],
                   "description": "queued：排隊中；issuing：發行中；succeeded：發行成功；"
                                  "failed：發行失敗（preview：後台上傳尚未確認）"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100, "description": "發行進度（%）"},
        "errors": {**_NULLABLE_STRING, "description": "發行失敗原因（或批次錯誤）；無則為 null"},
        "tickets": {"type": "array", "items": TICKET,
                    "description": "發行成功後的票券；其他狀態為空陣列"},
    },
})

ACCEPTED = schema("BatchAccepted", {
    "type": "object", "required": ["id", "status"],
    "properties": {"id": {"type": "integer"},
                   "status": {"enum": [s.value for s in BatchStatus]}},
})

INVALID_ROWS = schema("InvalidRows", {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "examples": ["invalid_rows", "invalid"]},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "rows": {"type": "array", "description": "有錯誤的列（row 從 1 起算）",
                     "items": {"type": "object", "required": ["row", "errors"],
                               "properties": {"row": {"type": "integer"},
                                              "errors": {"type": "object",
                                                         "additionalProperties": {"type": "string"},
                                                         "description": "欄位 → 錯誤原因"}}}},
            "batch_errors": {"type": "array", "items": {"type": "string"},
                             "description": f"整批的錯誤（例如超過 {MAX_TICKETS_PER_BATCH} 張）"},
        },
    }},
})

NEW_BATCH = {
    "type": "object",
    "required": ["import_no", "delivery_type", "method", "rows"],
    "additionalProperties": False,
    "properties": {
        "import_no": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,30}$",
                      "description": "匯入單號：同一商店內不可重複，同一匯入單號不會重複發行"},
        "delivery_type": {"enum": [t.value for t in DeliveryType],
                          "description": "出券類型：cvs 超商、paper 紙本、electronic 電子"},
        "method": {"enum": METHODS,
                   "description": "發行方式：cvs → ibon；paper → platform_print（綠界列印）、"
                                  "merchant_print（廠商列印）；electronic → immediate（即期）、"
                                  "deferred（非即期）。須為合約已開通者"},
        "kind": {"enum": [k.value for k in ProductKind],
                 "description": "票券類型（選填）：pickup 提貨券、gift 贈品券；給定時每列商品須相符"},
        "platform_id": {"type": ["string", "null"], "maxLength": PLATFORM_ID_MAX,
                        "description": "平台／POS 夥伴的 PlatformID（記錄於票券）"},
        "rows": {
            "type": "array", "minItems": 1, "maxItems": MAX_TICKETS_PER_BATCH,
            "description": "每列一項商品；merchant_order_no 相同的列為同一筆訂單（購買人須相同）；"
                           f"所有列的 quantity 加總最多 {MAX_TICKETS_PER_BATCH} 張",
            "items": {
                "type": "object",
                "required": [c.key for c in COLUMNS if c.always_required],
                "properties": {c.key: dict(c.schema) for c in COLUMNS},
            },
        },
    },
}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: message})


def _method(body: dict[str, Any]) -> DeliveryMethod:
    delivery_type, method = body.get("delivery_type"), body.get("method")
    if not isinstance(delivery_type, str) or not delivery_type:
        raise _invalid("delivery_type", "請提供出券類型 delivery_type")
    if not isinstance(method, str) or not method:
        raise _invalid("method", "請提供發行方式 method")
    try:
        return DeliveryMethod(f"{delivery_type}:{method}")
    except ValueError:
        raise InvalidInput(BAD_PAIR, fields={"delivery_type": BAD_PAIR, "method": BAD_PAIR}) \
            from None


def _kind(body: dict[str, Any]) -> ProductKind | None:
    kind = body.get("kind")
    if kind is None or kind == "":
        return None
    try:
        return ProductKind(kind)
    except (ValueError, TypeError):
        raise _invalid("kind", "票券類型 kind 須為 pickup（提貨券）或 gift（贈品券）") from None


def _rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The API rows as the template's rows (a row that is not an object is checked as empty)."""
    rows = body.get("rows")
    if not isinstance(rows, list):
        raise _invalid("rows", "rows 須為陣列（每列一項商品）")
    if len(rows) > MAX_TICKETS_PER_BATCH:
        raise _invalid("rows", f"每次發行上限為 {MAX_TICKETS_PER_BATCH} 張"
                               f"（rows 最多 {MAX_TICKETS_PER_BATCH} 列）")
    mapped = []
    for index, row in enumerate(rows, start=1):
        row = row if isinstance(row, dict) else {}
        record: dict[str, Any] = {c.header: row.get(c.key) for c in COLUMNS}
        record["_row"] = index
        mapped.append(record)
    return mapped


def _platform_id(body: dict[str, Any]) -> str | None:
    value = body.get("platform_id")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > PLATFORM_ID_MAX:
        raise _invalid("platform_id", f"platform_id 須為字串，最多 {PLATFORM_ID_MAX} 字")
    return value


def _invalid_rows(batch: Batch):  # noqa: ANN202
    """422 with every wrong row (its errors keyed by the API's field names) and the batch's."""
    rows = [{"row": r["row"],
             "errors": {KEY_OF.get(header, header): message
                        for header, message in r["errors"].items()}}
            for r in batch.rows if r["errors"]]
    batch_errors = [e for e in batch.error.splitlines() if e]
    if rows:
        message = f"發行資料有 {len(rows)} 列錯誤，整批未發行"
    else:
        message = batch_errors[0] if batch_errors else "發行資料有錯誤，整批未發行"
    return jsonify({"error": {"code": "invalid_rows", "message": message, "rows": rows,
                              "batch_errors": batch_errors}}), 422


@api_route("/batches", ["POST"], summary="批次發行票券", request_schema=NEW_BATCH,
           requires=(Function.ISSUANCE, Level.MODIFY), endpoint="create_batch",
           responses={202: ("已受理：檢查無誤並排入發行", ACCEPTED),
                      409: ("匯入單號已使用（import_no_used）、發行服務未開通、合約尚未生效或已到期、"
                            "設定未完成、合約未開通此發行方式或分店停用；皆未發行",
                            {"$ref": "#/components/schemas/Error"}),
                      422: ("輸入錯誤；或有任何一列錯誤（invalid_rows，附每列錯誤），整批未發行",
                            INVALID_ROWS)},
           description="檢查所有列（與後台上傳發行資料相同的規則），無誤則確認發行並於背景發行，"
                       "回應 202；以 GET /batches/{id} 查詢進度與票券。只要有任何一列錯誤，"
                       "回應 422 並列出每列的錯誤，不建立任何資料。同一匯入單號只會發行一次："
                       "再次送出回應 409，不會重複發行。")
def create_batch():
    body = json_body()
    unknown = sorted(set(body) - set(NEW_BATCH["properties"]))
    if unknown:
        raise InvalidInput(f"不支援的欄位：{'、'.join(unknown)}",
                           fields={key: "不支援的欄位" for key in unknown})
    import_no = body.get("import_no")
    if not isinstance(import_no, str):
        raise _invalid("import_no", "請填寫匯入單號 import_no")
    method, kind, rows, platform_id = _method(body), _kind(body), _rows(body), _platform_id(body)
    try:
        batch = services.prepare_batch(_actor(), g.store, import_no=import_no, method=method,
                                       kind=kind, rows=rows, source="api",
                                       platform_id=platform_id)
        if not services.batch_is_issuable(batch):
            response = _invalid_rows(batch)
            db.session.rollback()  # nothing stays: the checked rows are in this answer
            return response
        outcome = services.confirm_batch(_actor(), g.store, batch)
        if outcome is services.Confirmation.ORDER_NOS_TAKEN:  # by a batch confirmed meanwhile
            response = _invalid_rows(batch)
            db.session.rollback()
            return response
        if outcome is services.Confirmation.ALREADY_CONFIRMED:
            db.session.rollback()
            raise DomainError(services.IMPORT_NO_USED, code="import_no_used")
        db.session.commit()
    except IntegrityError:  # a concurrent request created the same import number first
        db.session.rollback()
        raise DomainError(services.IMPORT_NO_USED, code="import_no_used") from None
    except DomainError:
        db.session.rollback()
        raise
    return ({"id": batch.id, "status": batch.status.value}, 202,
            {"Location": url_for("api.batch", batch_id=batch.id)})


def _progress(batch: Batch) -> int:
    if batch.status is BatchStatus.SUCCEEDED:
        return 100
    if batch.status is BatchStatus.ISSUING and batch.ticket_count:
        return min(99, batch.issued_count * 100 // batch.ticket_count)
    return 0


def ticket_json(ticket: Ticket, order: Order) -> dict[str, Any]:
    electronic = order.delivery_method.delivery_type is DeliveryType.ELECTRONIC
    link = (f"{current_app.config['PUBLIC_BASE_URL']}/t/{order.link_token}"
            if electronic and order.link_token else None)
    return {"serial": ticket.serial, "code": ticket.code, "link": link,
            "pickup_code": order.pickup_code, "status": ticket.current_status.value,
            "order_no": order.order_no, "merchant_order_no": order.merchant_order_no,
            "face_value": ticket.face_value, "product_id": ticket.product_id,
            "valid_from": iso(ticket.valid_from), "expires_on": iso(ticket.expires_on)}


@api_route("/batches/<int:batch_id>", summary="批次發行結果", endpoint="batch",
           requires=(Function.ISSUANCE, Level.VIEW), responses={200: BATCH},
           description="批次的狀態與進度；發行成功後列出每張票券（序號、核銷代碼、電子票券連結或"
                       "取票代碼）。")
def batch(batch_id: int):
    found = get_owned_or_404(Batch, batch_id)
    tickets: list[dict[str, Any]] = []
    if found.status is BatchStatus.SUCCEEDED:
        pairs = db.session.execute(
            select(Ticket, Order).join(Order, Order.id == Ticket.order_id)
            .where(Ticket.batch_id == found.id, Ticket.store_id == found.store_id)
            .order_by(Ticket.id)).all()
        tickets = [ticket_json(t, o) for t, o in pairs]
    errors = found.error or None
    return {"id": found.id, "import_no": found.import_no, "status": found.status.value,
            "progress": _progress(found), "errors": errors, "tickets": tickets}


@api_route("/tickets/<serial>", summary="查詢票券（依票券序號）", endpoint="ticket_by_serial",
           requires=(Function.ISSUANCE, Level.VIEW), responses={200: TICKET},
           description="本商店發行的一張票券，欄位與 GET /batches/{id} 的 tickets 相同。")
def ticket_by_serial(serial: str):
    pair = db.session.execute(
        select(Ticket, Order).join(Order, Order.id == Ticket.order_id)
        .where(Ticket.serial == serial.strip().upper(), Ticket.store_id == g.store.id)).first()
    if pair is None:
        raise NotFound("找不到此票券（或不屬於此商店）")
    return ticket_json(*pair)
