"""管理後台首頁: the merchant's home. Dashboards (issue 7) grow here."""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from flask_login import current_user, login_required

from app.auth.access import merchant_required
from app.db import db
from app.htmx import render
from app.news.models import published

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def root():
    if current_user.is_operator:
        return redirect(url_for("operator.stores"))
    return redirect(url_for("home.index"))


@bp.route("/home")
@merchant_required
def index():
    news = db.session.scalars(published().limit(5)).all()
    return render("home/index.html", news=news, contract=g.store.current_contract)
