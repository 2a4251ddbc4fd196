"""The JSON API at /api/v1: bearer tokens only, every route declared with its OpenAPI description.

A feature adds its routes in a module of this package (or its own `api.py`) with `api_route`
and imports it at the bottom of this file, so they are on the blueprint before it is
registered. The document is served at `GET /api/v1/openapi.json`.
"""

from flask import Blueprint

from app.api.routing import Api
from app.extensions import csrf

API_VERSION = "1.0.0"

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens only (a session cookie never authenticates under /api/), so CSRF cannot apply.
csrf.exempt(bp)

api = Api(bp, title="ectix API", version=API_VERSION,
          description="ECTicket 發行管理平台 API。以 `Authorization: Bearer <API 金鑰>` 驗證；"
                      "錯誤一律回應 `{\"error\": {\"code\", \"message\"}}`。")
api_route = api.route
schema = api.schema

# Route modules: imported here so their routes exist before the blueprint is registered.
from app.api import account, batches, installments, products, tickets  # noqa: E402, F401

__all__ = ["bp", "api", "api_route", "schema", "API_VERSION"]
