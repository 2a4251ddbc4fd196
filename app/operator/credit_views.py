"""The operator's card closes (逾期未關帳信用卡交易): a store's card transactions still authorised
more than 21 days after their authorisation. The store, its pages and its DoAction calls get
error_overDate for them; only the platform operator may still close them (ECPay: 「產生錯誤
訊息 error_overDate 須通知客服協助關帳」; docs/checkout.md §9). The close is
app.credit.services.operator_close — the same compare-and-set as the merchant's close — and
its history names the operator.
"""

from __future__ import annotations

from flask import flash, url_for

from app import clock
from app.auth.access import operator_required
from app.checkout.models import CardTransaction
from app.checkout.rules import masked_card
from app.credit import queries
from app.credit import services as credit
from app.credit.states import CLOSE_DAYS
from app.db import db
from app.htmx import redirect_to, render
from app.operator.blueprint import bp, of_store_or_404
from app.pagination import paginate
from app.stores.models import Store
from app.web import committed

PER_PAGE = 50
CONFIRM = ("確定代商店將此筆授權逾 {days} 天的交易關帳？交易將改為「要關帳」，於當日自動關帳時向銀行請款，"
           "且無法由平台取消。")


@bp.get("/stores/<int:store_id>/card-transactions/over-date")
@operator_required
def over_date_cards(store_id: int):
    store = db.get_or_404(Store, store_id)
    page = paginate(queries.over_date(store.id, clock.business_day()), per_page=PER_PAGE)
    return render("operator/over_date_cards.html", store=store, page=page, close_days=CLOSE_DAYS,
                  confirm=CONFIRM.format(days=CLOSE_DAYS),
                  card=lambda t: masked_card(t.card_first6, t.card_last4))


@bp.post("/stores/<int:store_id>/card-transactions/<int:transaction_id>/close")
@operator_required
def close_over_date_card(store_id: int, transaction_id: int):
    store = db.get_or_404(Store, store_id)
    txn = of_store_or_404(CardTransaction, store, transaction_id)
    with committed() as outcome:
        credit.operator_close(txn)
    if outcome.saved:
        flash(f"交易 {txn.order.trade_no} 已代為關帳（{txn.status.label}）", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("operator.over_date_cards", store_id=store.id))
