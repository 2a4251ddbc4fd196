"""Products (7-3 A 商品管理): GET/POST /products, GET/PATCH /products/<id>.

The same services as the pages, so the same rules: a pickup voucher needs `escrow_end` after
today, a gift voucher `valid_until` of today or later; the lists are ids of the store's open
partner stores and of its own branches; after the first issuance only the three lists may
change (409 otherwise, nothing saved). Bad input answers 422 with a message per field.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import g, request, url_for

from app.api import api_route, schema
from app.api.payloads import PAGE_QUERY, iso, json_body, page_schema, paginate, timestamp_schema
from app.auth.access import acting_account as _actor
from app.auth.permissions import Function, Level
from app.daterange import parse_range
from app.db import db
from app.errors import InvalidInput
from app.products import queries, services
from app.products.models import BranchRole, Product, ProductKind
from app.products.queries import ProductFilter
from app.products.services import FACE_VALUE_MAX, NAME_MAX, TEXT_MAX, ProductInput
from app.tenancy import get_owned_or_404
from app.uploads.views import url_for_upload

_DATE = {"type": ["string", "null"], "format": "date"}
_DATE_OR_EMPTY = {"type": "string", "anyOf": [{"format": "date"}, {"maxLength": 0}]}
_IDS = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}

PRODUCT = schema("Product", {
    "type": "object",
    "required": ["id", "name", "kind", "face_value", "description", "usage_instructions",
                 "escrow_end", "valid_until", "listed", "partner_stores", "redeem_branches",
                 "return_branches", "image_url", "has_issued", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "maxLength": NAME_MAX, "description": "商品名稱"},
        "kind": {"enum": [k.value for k in ProductKind], "description": "pickup：提貨券；gift：贈品券"},
        "face_value": {"type": "integer", "minimum": 1, "maximum": FACE_VALUE_MAX,
                       "description": "面額（新台幣元）"},
        "description": {"type": "string", "description": "商品描述"},
        "usage_instructions": {"type": "string", "description": "使用說明"},
        "escrow_end": {**_DATE, "description": "價金保管迄日（提貨券；贈品券為 null）"},
        "valid_until": {**_DATE, "description": "使用期限（贈品券；提貨券為 null）"},
        "listed": {"type": "boolean", "description": "上架中（僅上架商品可發行）"},
        "partner_stores": {
            "type": "array", "description": "跨店核銷：開放核銷的可核銷商店（空：不開放）",
            "items": {"type": "object", "required": ["id", "merchant_code", "name"],
                      "properties": {"id": {"type": "integer"},
                                     "merchant_code": {"type": "string", "description": "商店代號"},
                                     "name": {"type": "string"}}},
        },
        "redeem_branches": {"$ref": "#/components/schemas/BranchList"},
        "return_branches": {"$ref": "#/components/schemas/BranchList"},
        "image_url": {"type": ["string", "null"], "description": "商品圖片（顯示於電子票券兌換頁）"},
        "has_issued": {"type": "boolean",
                       "description": "已有發行紀錄：此後僅可修改 partner_stores、"
                                      "redeem_branches、return_branches"},
        "created_at": timestamp_schema(),
        "updated_at": timestamp_schema(),
    },
})

schema("BranchList", {
    "type": "array", "description": "分店名單（空：所有具權限的帳號皆可操作）",
    "items": {"type": "object", "required": ["id", "code", "name"],
              "properties": {"id": {"type": "integer"},
                             "code": {"type": "string", "description": "分店編號"},
                             "name": {"type": "string"}}},
})

_WRITABLE: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "description": "商品名稱"},
    "kind": {"enum": [k.value for k in ProductKind], "description": "pickup：提貨券；gift：贈品券"},
    "face_value": {"type": "integer", "minimum": 1, "maximum": FACE_VALUE_MAX, "description": "面額"},
    "description": {"type": ["string", "null"], "maxLength": TEXT_MAX, "description": "商品描述"},
    "usage_instructions": {"type": ["string", "null"], "maxLength": TEXT_MAX,
                           "description": "使用說明"},
    "escrow_end": {**_DATE, "description": "價金保管迄日（提貨券必填，須晚於今日）"},
    "valid_until": {**_DATE, "description": "使用期限（贈品券必填，不可早於今日）"},
    "partner_stores": {**_IDS, "description": "可核銷商店的商店 id（須為開啟中的可核銷商店）"},
    "redeem_branches": {**_IDS, "description": "核銷分店 id（須為本商店的分店；空：全部）"},
    "return_branches": {**_IDS, "description": "退貨分店 id（須為本商店的分店；空：全部）"},
}

NEW_PRODUCT = {"type": "object", "required": ["name", "kind", "face_value"],
               "properties": _WRITABLE, "additionalProperties": False}
PRODUCT_CHANGES = {"type": "object", "properties": _WRITABLE, "additionalProperties": False,
                   "description": "只需給要修改的欄位。已有發行紀錄的商品僅可修改三份名單。"}

LIST_QUERY: dict[str, dict[str, Any]] = {
    "q": {"type": "string", "description": "商品名稱包含"},
    "kind": {"enum": [k.value for k in ProductKind]},
    "listed": {"type": "boolean", "description": "true：上架中；false：已下架"},
    "start": {**_DATE_OR_EMPTY, "description": "建立日期起（含；空字串：不限）"},
    "end": {**_DATE_OR_EMPTY, "description": "建立日期迄（含）；區間至多 1 年"},
    **PAGE_QUERY,
}

_LIST_FIELDS = {"partner_stores": "partner_store_ids", "redeem_branches": "redeem_branch_ids",
                "return_branches": "return_branch_ids"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(body: dict[str, Any], base: ProductInput) -> ProductInput:
    """The body's fields onto `base`, each checked for its JSON type (422 per field)."""
    problems: dict[str, str] = {}
    unknown = sorted(set(body) - set(_WRITABLE))
    for key in unknown:
        problems[key] = "不支援或不可修改的欄位"
    values: dict[str, Any] = {}
    for key in ("name", "description", "usage_instructions"):
        if key in body:
            value = body[key]
            if value is None and key != "name":
                value = ""
            if not isinstance(value, str):
                problems[key] = "須為字串"
            else:
                values[key] = value
    if "kind" in body:
        try:
            values["kind"] = ProductKind(body["kind"])
        except ValueError:
            problems["kind"] = "票券類型須為 pickup（提貨券）或 gift（贈品券）"
    if "face_value" in body:
        if _is_int(body["face_value"]):
            values["face_value"] = body["face_value"]
        else:
            problems["face_value"] = services.FACE_VALUE_RULE
    for key in ("escrow_end", "valid_until"):
        if key in body:
            value = body[key]
            if value is None:
                values[key] = None
                continue
            try:
                values[key] = date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                values[key] = None
            if values[key] is None:
                problems[key] = "日期格式須為 YYYY-MM-DD"
    for key, attr in _LIST_FIELDS.items():
        if key in body:
            value = body[key]
            if isinstance(value, list) and all(_is_int(v) for v in value):
                values[attr] = value
            else:
                problems[key] = "須為 id（整數）的陣列"
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    return replace(base, **values)


def _filter() -> ProductFilter:
    args = request.args
    kind = args.get("kind") or None
    if kind is not None and kind not in {k.value for k in ProductKind}:
        raise InvalidInput("kind 須為 pickup 或 gift", fields={"kind": "kind 須為 pickup 或 gift"})
    listed_arg = (args.get("listed") or "").lower()
    if listed_arg not in {"", "true", "false"}:
        raise InvalidInput("listed 須為 true 或 false",
                           fields={"listed": "listed 須為 true 或 false"})
    start = end = None
    if args.get("start") or args.get("end"):
        start, end = parse_range(args.get("start"), args.get("end"), default_days=365,
                                 max_months=12)
    return ProductFilter(name=(args.get("q") or "").strip()[:100],
                         kind=ProductKind(kind) if kind else None,
                         listed={"true": True, "false": False}.get(listed_arg),
                         start=start, end=end)




def product_json(product: Product) -> dict[str, Any]:
    """A product as the API answers it."""
    def branches(role: BranchRole) -> list[dict[str, Any]]:
        links = sorted((link.branch for link in product.branch_links if link.role is role),
                       key=lambda b: b.code)
        return [{"id": b.id, "code": b.code, "name": b.name} for b in links]

    partners = sorted((link.partner for link in product.partner_links),
                      key=lambda s: s.merchant_code)
    return {
        "id": product.id,
        "name": product.name,
        "kind": product.kind.value,
        "face_value": product.face_value,
        "description": product.description,
        "usage_instructions": product.usage_instructions,
        "escrow_end": iso(product.escrow_end),
        "valid_until": iso(product.valid_until),
        "listed": product.listed,
        "partner_stores": [{"id": s.id, "merchant_code": s.merchant_code, "name": s.name}
                           for s in partners],
        "redeem_branches": branches(BranchRole.REDEEM),
        "return_branches": branches(BranchRole.RETURN),
        "image_url": url_for_upload(product.image),
        "has_issued": product.has_issued,
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
    }


@api_route("/products", summary="商品列表", query=LIST_QUERY,
           requires=(Function.PRODUCTS, Level.VIEW), responses={200: page_schema(PRODUCT)},
           description="本商店的商品，新建立的在前；可依名稱、類型、上架狀態、建立日期篩選。"
                       "（母商店的金鑰只列出母商店自己的商品。）")
def products():
    return paginate(queries.products(_filter()), product_json)


@api_route("/products", ["POST"], summary="新增商品（確認上架）", request_schema=NEW_PRODUCT,
           requires=(Function.PRODUCTS, Level.MODIFY),
           responses={201: ("已建立並上架", PRODUCT)}, endpoint="create_product",
           description="建立商品並上架。商品圖片請於後台上傳。")
def create_product():
    data = _parse(json_body(), ProductInput())
    product = services.create_product(_actor(), g.store, data)
    db.session.commit()
    body = product_json(product)
    return body, 201, {"Location": url_for("api.product", product_id=product.id)}


@api_route("/products/<int:product_id>", summary="商品明細",
           requires=(Function.PRODUCTS, Level.VIEW), responses={200: PRODUCT})
def product(product_id: int):
    return product_json(get_owned_or_404(Product, product_id))


@api_route("/products/<int:product_id>", ["PATCH"], summary="修改商品",
           request_schema=PRODUCT_CHANGES, requires=(Function.PRODUCTS, Level.MODIFY),
           responses={200: PRODUCT}, endpoint="update_product",
           description="只修改所給的欄位。已有發行紀錄的商品，修改名單以外的欄位回應 409，"
                       "且不儲存任何變更。")
def update_product(product_id: int):
    item = get_owned_or_404(Product, product_id, for_update=True)
    data = _parse(json_body(), services.input_of(item))
    services.update_product(_actor(), item, data)
    db.session.commit()
    return product_json(item)
