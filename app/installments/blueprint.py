"""The installment pages' blueprint (八 分期核銷); each page's routes live in their own module and
`app.installments.views` gathers them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("installments", __name__, url_prefix="/installments")
