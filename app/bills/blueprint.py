"""The merchant's billing pages (六 帳單報表): one blueprint, its views in app/bills/views.py."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("billing", __name__, url_prefix="/billing")
