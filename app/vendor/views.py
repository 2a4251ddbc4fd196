"""三、廠商專區: news (最新消息), store profile, login history, contract and fees."""

from __future__ import annotations

from flask import Blueprint, g
from sqlalchemy import select

from app.auth.access import merchant_required, requires
from app.auth.permissions import Function
from app.db import db
from app.htmx import render
from app.news.models import NewsItem
from app.stores.models import Contract, DeliveryType

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.route("/news")
@merchant_required
def news():
    page = db.paginate(select(NewsItem).order_by(NewsItem.published_at.desc()), per_page=20,
                       error_out=False)
    return render("vendor/news.html", page=page)


@bp.route("/news/<int:news_id>")
@merchant_required
def news_item(news_id: int):
    item = db.get_or_404(NewsItem, news_id)
    return render("vendor/news_item.html", item=item)


@bp.route("/contract")
@requires(Function.VENDOR_PROFILE)
def contract():
    contracts = db.session.scalars(
        select(Contract).where(Contract.store_id == g.store.id)
        .order_by(Contract.start_date.desc(), Contract.id.desc())
    ).all()
    return render("vendor/contract.html", contracts=contracts, current=g.store.current_contract,
                  DeliveryType=DeliveryType)
