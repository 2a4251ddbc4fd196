"""The reports blueprint (/reports). Each report keeps its routes in its own module, imported
at the bottom so they register on this blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from app.reports import (  # noqa: E402, F401 - the modules add their routes to bp
    branch_views,
    circulation_views,
    cross_store_views,
    ticket_views,
)
