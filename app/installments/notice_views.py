"""An order's refund notice (退款結果主動通知) as the merchant sees it: a fragment the order page
of 分期核銷訂單報表 loads (hx-get), with the notice's status, URL and every attempt."""

from __future__ import annotations

from flask import render_template

from app.auth.access import requires
from app.auth.permissions import Function
from app.installments import notices
from app.installments.blueprint import bp
from app.installments.models import InstallmentOrder, NoticeStatus
from app.tenancy import get_owned_or_404


@bp.get("/orders/<int:order_id>/refund-notice")
@requires(Function.INSTALLMENT_REPORTS)
def refund_notice(order_id: int):
    order = get_owned_or_404(InstallmentOrder, order_id)
    notice = notices.notice_of(order)
    attempts = notices.attempts_of(notice) if notice is not None else []
    return render_template("installments/_refund_notice.html", order=order, notice=notice,
                           attempts=attempts, NoticeStatus=NoticeStatus)
