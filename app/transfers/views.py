"""7-3 K 電子票券轉贈紀錄: query transfers (≤ 3 months, Excel of the query), a transfer with its
tickets and history, and 取消轉贈.

A parent store acting as itself reads its children's transfers but cannot cancel them (it must
switch to the child first, as the seed says): the list and the detail read with `readable`,
the cancel loads the transfer through the acting store only, so anything else answers 404.
The cancel form shows only with 電子票券轉贈紀錄 at 修改; the service checks the right again.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, request, url_for
from sqlalchemy import select

from app import history, listing
from app.auth.access import acting_account, may, requires
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.columns import Column
from app.db import db
from app.errors import InvalidInput
from app.htmx import redirect_to, render
from app.orders.rules import mask_mobile
from app.pagination import paginate_rows
from app.saved_filters.pages import offers_saved_filters
from app.stores.models import Store
from app.tenancy import get_owned_or_404
from app.tickets.models import Order
from app.transfers import queries, services
from app.transfers.forms import CancelForm, TransferQueryForm
from app.transfers.models import Transfer, TransferItemState, TransferStatus
from app.web import committed

bp = Blueprint("transfers", __name__, url_prefix="/transfers")



def columns(stores: dict[int, Store], *, show_store: bool) -> tuple[Column, ...]:
    """The list and its Excel (rows: queries.TransferRow). The store's code is in the Excel
    always, on the page only for a parent reading its children."""
    def store(r: queries.TransferRow) -> Store | None:
        return stores.get(r.transfer.store_id)

    return (
        Column("store", "商店代號", lambda r: store(r).merchant_code if store(r) else "",
               excel_only=not show_store, shown=lambda r: store(r).label if store(r) else ""),
        Column("transfer_no", "轉贈編號", lambda r: r.transfer.transfer_no, "code"),
        Column("created_at", "轉贈時間", lambda r: r.transfer.created_at, "datetime"),
        Column("order_no", "ECT訂單編號", lambda r: r.order_no),
        Column("giver_name", "轉贈人姓名", lambda r: r.transfer.giver_name),
        Column("giver_mobile", "轉贈人手機", lambda r: r.transfer.giver_mobile,
               shown=lambda r: mask_mobile(r.transfer.giver_mobile)),
        Column("giver_email", "轉贈人 Email", lambda r: r.transfer.giver_email, excel_only=True),
        Column("recipient_name", "受贈人姓名", lambda r: r.transfer.recipient_name),
        Column("recipient_mobile", "受贈人手機", lambda r: r.transfer.recipient_mobile,
               shown=lambda r: mask_mobile(r.transfer.recipient_mobile)),
        Column("recipient_email", "受贈人 Email", lambda r: r.transfer.recipient_email,
               excel_only=True),
        Column("ticket_count", "張數", lambda r: r.transfer.ticket_count, "number",
               shown=lambda r: f"{r.transfer.ticket_count} 張"),
        Column("serials", "票券序號", lambda r: "、".join(r.serials), width=40,
               shown=lambda r: r.serials),
        Column("status", "狀態", lambda r: r.transfer.status.label),
        Column("cancelled_at", "取消時間", lambda r: r.transfer.cancelled_at, "datetime"),
        Column("cancel_reason", "取消原因", lambda r: r.transfer.cancel_reason),
    )


# 查詢轉贈紀錄 -------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.TRANSFER_RECORDS)
@offers_saved_filters(TransferQueryForm)
def index():
    form = TransferQueryForm(formdata=request.args)
    readable = listing.reads_children()
    context = {"form": form, "page": None, "rows": [], "error": None, "show_store": readable,
               "columns": columns(listing.stores_shown(), show_store=readable)}
    try:
        start, end = listing.checked_period(form, narrowed=form.searches_one())
    except InvalidInput as err:
        context["error"] = err.message
        return render("transfers/index.html", **context), 422
    flt = queries.TransferFilter(
        transfer_no=form.transfer_no.data or "", order_no=form.order_no.data or "",
        person=form.person.data or "", status=form.chosen_status(), start=start, end=end,
        readable=readable)
    if listing.excel_asked():
        rows = db.session.execute(queries.transfer_rows(flt)
                                  .execution_options(yield_per=queries.CHUNK))
        return listing.excel("電子票券轉贈紀錄", context["columns"],
                             queries.with_serials(rows, readable=readable))
    page = paginate_rows(queries.transfer_rows(flt))
    context.update(page=page, rows=list(queries.with_serials(page.items, readable=readable)))
    return render("transfers/index.html", **context)


# 轉贈明細、歷程、取消轉贈 -------------------------------------------------------------------------

def _detail(transfer: Transfer, form: CancelForm, *, error: str | None = None,
            status: int = 200):  # noqa: ANN202
    order = db.session.get(Order, transfer.order_id, execution_options={"readable": True})
    cancelled_by = (db.session.get(Account, transfer.cancelled_by_id,
                                   execution_options={"unscoped": True})
                    if transfer.cancelled_by_id else None)
    own = transfer.store_id == g.store.id
    stores = listing.stores_shown()
    return render(
        "transfers/detail.html", transfer=transfer, order=order, items=queries.items(transfer),
        entries=history.entries_for(transfer, readable=True), form=form, error=error,
        cancelled_by=cancelled_by, own=own, store=stores.get(transfer.store_id),
        may_modify=may(Function.TRANSFER_RECORDS, Level.MODIFY),
        cancellable=own and transfer.status is TransferStatus.ACTIVE,
        may_order=may(Function.ISSUED_ORDERS), history_status=_history_status), status


def _history_status(value: str | None) -> str:
    try:
        return TransferStatus(value).label if value else ""
    except ValueError:
        return value or ""


@bp.get("/<int:transfer_id>")
@requires(Function.TRANSFER_RECORDS)
def detail(transfer_id: int):
    transfer = get_owned_or_404(Transfer, transfer_id, readable=True)
    return _detail(transfer, CancelForm(formdata=None))


@bp.post("/<int:transfer_id>/cancel")
@requires(Function.TRANSFER_RECORDS, Level.MODIFY)
def cancel(transfer_id: int):
    transfer = get_owned_or_404(Transfer, transfer_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _detail(transfer, form, status=422)
    with committed(form) as outcome:
        services.cancel(acting_account(), g.store, transfer.id, reason=form.reason.data)
        back = sum(1 for item, _ in queries.items(transfer)
                   if item.state is TransferItemState.CANCELLED)
    if outcome.refused:
        transfer = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id)
                                     .execution_options(populate_existing=True))
        return _detail(transfer, form, error=outcome.error, status=outcome.status)
    flash(f"已取消轉贈 {transfer.transfer_no}：{back} 張未使用的票券已返還原購買人，受贈人的連結已失效",
          "success")
    return redirect_to(url_for("transfers.detail", transfer_id=transfer.id))
