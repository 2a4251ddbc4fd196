"""The operator console's one blueprint (/operator); its routes are in `views` (stores,
contracts, rates, news, jobs) and `billing_views` (bills and payments)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("operator", __name__, url_prefix="/operator")
