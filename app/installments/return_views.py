"""8-3 A 訂單退貨 and 8-3 B 訂單取消退貨: find an order by its merchant order number, see its
periods, and return every unused period at once (with the handling fee split over them) or
cancel the return of every pending one. Each needs its own function (the seed ticks 查詢 on
these nodes); the services check it again."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, request, url_for
from flask_login import current_user

from app.auth.access import requires
from app.auth.permissions import Function
from app.htmx import redirect_to, render
from app.installments import services
from app.installments import status as rules
from app.installments.blueprint import bp
from app.installments.forms import CancelReturnForm, OrderLookupForm, OrderReturnForm
from app.installments.models import InstallmentOrder
from app.installments.status import PeriodStatus
from app.web import committed

P = PeriodStatus


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    endpoint: str
    function: Function
    button: str
    hint: str


RETURN = Page("return", "訂單退貨", "installments.order_return", Function.INSTALLMENT_ORDER_RETURN,
              "退貨", "輸入廠商訂單編號查詢訂單，設定退貨手續費、輸入退貨原因後點選【退貨】，"
              "訂單內所有未使用序號將一併退貨。")
CANCEL = Page("cancel", "訂單取消退貨", "installments.order_cancel_return",
              Function.INSTALLMENT_ORDER_CANCEL_RETURN, "取消退貨",
              "輸入廠商訂單編號查詢訂單，輸入取消退貨原因後點選【取消退貨】，訂單內所有待退貨序號將一併取消。")


def _refusal(page: Page, order: InstallmentOrder) -> str | None:
    """Why the page's action cannot be done on the order now (shown instead of the button)."""
    statuses = [p.status for p in order.periods]
    if page is RETURN:
        refusal = rules.return_refusal(statuses)
    else:
        refusal = services.cancel_refusal(statuses, order.returned_at)
    return refusal.message if refusal else None


def _show(page: Page, form: OrderReturnForm | CancelReturnForm | None = None, status: int = 200):  # noqa: ANN202
    lookup = OrderLookupForm(request.args)
    order = None
    if form is not None and not form.order_id.errors:  # a refused action: the order acted on
        order = services.get_order(g.store, form.order_id.data or 0)
        lookup.merchant_order_no.data = order.merchant_order_no if order else ""
    searched = bool(lookup.merchant_order_no.data)
    if order is None and searched and lookup.validate():
        order = services.find_order(g.store, lookup.merchant_order_no.data or "")
    if order is not None and form is None:
        form = (OrderReturnForm if page is RETURN else CancelReturnForm)(order_id=order.id)
    return render("installments/order_action.html", page=page, lookup=lookup, order=order,
                  searched=searched, form=form,
                  refusal=_refusal(page, order) if order is not None else None,
                  amounts=order.amounts if order is not None else None), status


def _act(page: Page, form: OrderReturnForm | CancelReturnForm):  # noqa: ANN202
    if not form.validate_on_submit():
        return _show(page, form, 422)
    with committed(form) as outcome:
        if page is RETURN:
            assert isinstance(form, OrderReturnForm)
            order = services.return_order(current_user, g.store, form.order_id.data or 0,
                                          fee=form.fee.data or 0, reason=form.reason.data or "")
        else:
            order = services.cancel_return(current_user, g.store, form.order_id.data or 0,
                                           reason=form.reason.data or "")
    if outcome.refused:
        outcome.error_on_form()
        return _show(page, form, outcome.status)
    flash(rules.RETURNED_OK if page is RETURN else rules.CANCELLED_OK, "success")
    return redirect_to(url_for(page.endpoint, merchant_order_no=order.merchant_order_no))


@bp.get("/order-return")
@requires(Function.INSTALLMENT_ORDER_RETURN)
def order_return():  # noqa: ANN201
    return _show(RETURN)


@bp.post("/order-return")
@requires(Function.INSTALLMENT_ORDER_RETURN)
def order_return_post():  # noqa: ANN201
    return _act(RETURN, OrderReturnForm())


@bp.get("/order-cancel-return")
@requires(Function.INSTALLMENT_ORDER_CANCEL_RETURN)
def order_cancel_return():  # noqa: ANN201
    return _show(CANCEL)


@bp.post("/order-cancel-return")
@requires(Function.INSTALLMENT_ORDER_CANCEL_RETURN)
def order_cancel_return_post():  # noqa: ANN201
    return _act(CANCEL, CancelReturnForm())
