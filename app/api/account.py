"""The calling account and its API tokens: GET /me, GET /tokens, DELETE /tokens/<id>."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_login import current_user
from sqlalchemy import select

from app.api import api_route, schema
from app.api.payloads import PAGE_QUERY, iso, page_schema, paginate, timestamp_schema
from app.auth.access import acting_account, may, store_mode
from app.auth.models import AccountKind, ApiToken
from app.auth.permissions import Level, functions_for
from app.auth.services import revoke_api_token
from app.db import db
from app.tenancy import get_owned_or_404

ME = schema("Me", {
    "type": "object",
    "required": ["username", "kind", "store", "functions"],
    "properties": {
        "username": {"type": "string"},
        "kind": {"enum": [k.value for k in AccountKind if k is not AccountKind.OPERATOR],
                 "description": "main：管理者；sub：子帳號"},
        "store": {
            "type": "object",
            "required": ["merchant_code", "name"],
            "properties": {"merchant_code": {"type": "string", "description": "商店代號"},
                           "name": {"type": "string"}},
        },
        "functions": {
            "type": "array",
            "description": "此帳號在此商店可使用的功能及層級（modify 包含 view）",
            "items": {
                "type": "object",
                "required": ["function", "label", "level"],
                "properties": {"function": {"type": "string"}, "label": {"type": "string"},
                               "level": {"enum": [lv.value for lv in Level]}},
            },
        },
    },
})

TOKEN = schema("ApiToken", {
    "type": "object",
    "required": ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "金鑰開頭幾碼，用來辨認（金鑰本身不再顯示）"},
        "created_at": timestamp_schema(),
        "last_used_at": timestamp_schema("最近使用時間（約略，每分鐘更新一次）", nullable=True),
        "revoked_at": timestamp_schema(nullable=True),
    },
})


def token_json(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "created_at": iso(token.created_at), "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at)}


@api_route("/me", summary="目前的帳號", responses={200: ME},
           description="金鑰所屬的帳號、商店，以及可使用的功能。")
def me():
    account = current_user
    store = g.store
    functions = []
    for function in functions_for(store_mode()):
        if function.info.has_modify and may(function, Level.MODIFY):
            level = Level.MODIFY
        elif may(function, Level.VIEW):
            level = Level.VIEW
        else:
            continue
        functions.append({"function": function.value, "label": function.label,
                          "level": level.value})
    return {"username": account.username, "kind": account.kind.value,
            "store": {"merchant_code": store.merchant_code, "name": store.name},
            "functions": functions}


@api_route("/tokens", summary="我的 API 金鑰", query=PAGE_QUERY,
           responses={200: page_schema(TOKEN)},
           description="此帳號的 API 金鑰（含已撤銷者），新的在前；不含金鑰本身。")
def tokens():
    stmt = (select(ApiToken).where(ApiToken.account_id == current_user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    return paginate(stmt, token_json)


@api_route("/tokens/<int:token_id>", ["DELETE"], summary="撤銷 API 金鑰",
           responses={200: ("已撤銷（再次撤銷不變）", TOKEN)},
           description="撤銷自己的金鑰；管理者也可撤銷本商店其他帳號的金鑰。")
def revoke_token(token_id: int):
    token = get_owned_or_404(ApiToken, token_id)
    revoke_api_token(acting_account(), token)
    db.session.commit()
    return token_json(token)
