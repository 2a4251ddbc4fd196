"""7-3 C 已發行訂單管理: query issued orders (Excel of the query), an order with its tickets and
history, 變更購買人, 補發, and each ticket's history.

Every order is loaded through the acting store (`get_owned_or_404`) and every ticket through its
order, so another store's ids answer 404. The buttons follow `app.orders.rules` and the modify
right; the services check both again after locking the order.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for

from app import history, listing
from app.auth.access import acting_account as _actor
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.columns import Column
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.orders import queries, rules, services
from app.orders.forms import OrderQueryForm, PurchaserForm
from app.pagination import paginate_rows
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import DeliveryType
from app.tenancy import get_owned_or_404
from app.tickets.codes import display_code
from app.tickets.models import Order
from app.web import committed

bp = Blueprint("orders", __name__, url_prefix="/orders")



# The list and its Excel: rows of (Order, import_no).
COLUMNS = (
    Column("order_no", "ECT訂單編號", lambda r: r.Order.order_no, "code"),
    Column("merchant_order_no", "廠商訂單編號", lambda r: r.Order.merchant_order_no),
    Column("import_no", "匯入單號", lambda r: r.import_no),
    Column("delivery_type", "出券類型", lambda r: r.Order.delivery_method.delivery_type.label),
    Column("delivery_method", "發行方式", lambda r: r.Order.delivery_method.label),
    Column("purchaser_name", "購買人姓名", lambda r: r.Order.purchaser_name),
    Column("purchaser_mobile", "購買人手機", lambda r: r.Order.purchaser_mobile,
           shown=lambda r: rules.mask_mobile(r.Order.purchaser_mobile)),
    Column("purchaser_email", "購買人 Email", lambda r: r.Order.purchaser_email, excel_only=True),
    Column("ticket_count", "張數", lambda r: r.Order.ticket_count, "number"),
    Column("amount", "金額", lambda r: r.Order.amount, "money"),
    Column("created_at", "發行時間", lambda r: r.Order.created_at, "datetime"),
)


def masked_code(code: str) -> str:
    """核銷代碼 with only its last four characters visible, grouped as `display_code` shows it."""
    return display_code(rules.mask_code(code))


# 查詢已發行訂單 ------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.ISSUED_ORDERS)
@offers_saved_filters(OrderQueryForm)
def index():
    form = OrderQueryForm(formdata=request.args)
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None}
    try:
        start, end = listing.checked_period(form, narrowed=form.searches_one())
    except InvalidInput as err:
        context["error"] = err.message
        return render("orders/index.html", **context), 422
    flt = queries.OrderFilter(
        store_id=g.store.id, order_no=form.order_no.data or "",
        merchant_order_no=form.merchant_order_no.data or "", import_no=form.import_no.data or "",
        purchaser=form.purchaser.data or "", delivery_type=form.delivery_type.data or "",
        start=start, end=end)
    if listing.excel_asked():
        return listing.excel("已發行訂單", COLUMNS, db.session.execute(queries.order_rows(flt)))
    context.update(page=paginate_rows(queries.order_rows(flt)))
    return render("orders/index.html", **context)


# 訂單明細 ------------------------------------------------------------------------------------

def _detail(order: Order, *, error: str | None = None, status: int = 200):  # noqa: ANN202
    tickets = queries.order_tickets(order)
    state = services.state_of(tickets)
    kind = services.delivery_type(order)
    may_modify = may(Function.ISSUED_ORDERS, Level.MODIFY)
    return render(
        "orders/detail.html", order=order, tickets=tickets, state=state, error=error,
        method=order.delivery_method, method_label=order.delivery_method.full_label,
        import_no=queries.import_nos([order.batch_id]).get(order.batch_id, ""),
        may_modify=may_modify,
        change_refusal=rules.change_purchaser_refusal(kind, printed=state.printed,
                                                      transferred=state.transferred),
        resend_offered=rules.resend_offered(kind),
        resend_refusal=rules.resend_refusal(kind, printed=state.printed,
                                            transferred=state.transferred),
        paper=kind == DeliveryType.PAPER.value, masked_code=masked_code,
        mask=rules.mask_code, entries=history.entries_for(order)), status


@bp.get("/<int:order_id>")
@requires(Function.ISSUED_ORDERS)
def detail(order_id: int):
    return _detail(get_owned_or_404(Order, order_id))


# 變更購買人 ----------------------------------------------------------------------------------

@bp.route("/<int:order_id>/purchaser", methods=["GET", "POST"])
@requires(Function.ISSUED_ORDERS, Level.MODIFY)
def change_purchaser(order_id: int):
    order = get_owned_or_404(Order, order_id)
    if request.method == "GET":
        form = PurchaserForm(formdata=None, data={
            "name": order.purchaser_name, "mobile": order.purchaser_mobile,
            "email": order.purchaser_email, "revision": services.purchaser_revision(order)})
    else:
        form = PurchaserForm()
    error, status = None, 200
    if form.validate_on_submit():
        with committed(form) as saving:
            outcome = services.change_purchaser(
                _actor(), g.store, order.id, name=form.name.data, mobile=form.mobile.data,
                email=form.email.data, expected_revision=form.revision.data)
        if saving.saved:
            flash(outcome.message, outcome.category)
            return redirect_to(url_for("orders.detail", order_id=order.id))
        error, status = saving.error, saving.status
    elif request.method == "POST":
        status = 422
    state = services.order_state(order)
    kind = services.delivery_type(order)
    refusal = rules.change_purchaser_refusal(kind, printed=state.printed,
                                             transferred=state.transferred)
    return render("orders/change_purchaser.html", order=order, form=form, error=error,
                  refusal=refusal, method_label=order.delivery_method.full_label,
                  paper_notice=None if rules.notifies_on_change(kind) else rules.PAPER_NO_NOTICE,
                  kind=kind), status


# 補發 ----------------------------------------------------------------------------------------

@bp.post("/<int:order_id>/resend")
@requires(Function.ISSUED_ORDERS, Level.MODIFY)
def resend(order_id: int):
    order = get_owned_or_404(Order, order_id)
    with committed() as saving:
        outcome = services.resend_notice(_actor(), g.store, order.id)
    if saving.refused:
        return _detail(order, error=saving.error, status=saving.status)
    flash(outcome.message, outcome.category)
    return redirect_to(url_for("orders.detail", order_id=order.id))


# 票券歷程 ------------------------------------------------------------------------------------

@bp.get("/<int:order_id>/tickets/<bigint:ticket_id>/history")
@requires(Function.ISSUED_ORDERS)
def ticket_history(order_id: int, ticket_id: int):
    order = get_owned_or_404(Order, order_id)
    ticket = queries.order_ticket(order, ticket_id)
    if ticket is None:
        abort(404)
    return render("orders/ticket_history.html", order=order, ticket=ticket,
                  masked_code=masked_code(ticket.code), entries=history.entries_for(ticket),
                  method_label=ticket.delivery_method.full_label)
