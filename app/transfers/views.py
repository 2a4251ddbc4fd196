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

from app import clock, history, listing, spreadsheets
from app.auth.access import acting_account, may, requires
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import DomainError, InvalidInput
from app.forms import place_field_errors
from app.htmx import redirect_to, render
from app.orders.rules import mask_mobile
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.tickets.models import Order
from app.transfers import queries, services
from app.transfers.forms import CancelForm, TransferQueryForm
from app.transfers.models import Transfer, TransferItemState, TransferStatus

bp = Blueprint("transfers", __name__, url_prefix="/transfers")

XLSX_HEADERS = ["商店代號", "轉贈編號", "轉贈時間", "ECT訂單編號", "轉贈人姓名", "轉贈人手機",
                "轉贈人 Email", "受贈人姓名", "受贈人手機", "受贈人 Email", "張數", "票券序號", "狀態",
                "取消時間", "取消原因"]
CHUNK = 500


# 查詢轉贈紀錄 -------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.TRANSFER_RECORDS)
def index():
    form = TransferQueryForm(formdata=request.args)
    readable = listing.reads_children()
    context = {"form": form, "page": None, "serials": {}, "order_nos": {}, "error": None,
               "mask_mobile": mask_mobile,
               "show_store": readable, "stores": listing.stores_shown()}
    try:
        start, end = listing.checked_period(form, narrowed=form.searches_one())
    except InvalidInput as err:
        context["error"] = err.message
        return render("transfers/index.html", **context), 422
    flt = queries.TransferFilter(
        transfer_no=form.transfer_no.data or "", order_no=form.order_no.data or "",
        person=form.person.data or "", status=form.chosen_status(), start=start, end=end,
        readable=readable)
    if request.args.get("format") == "xlsx":
        return _xlsx(flt)
    page = paginate(queries.transfers(flt))
    context.update(page=page, serials=queries.serials((t.id for t in page.items), readable=readable),
                   order_nos=queries.order_numbers((t.order_id for t in page.items),
                                                   readable=readable))
    return render("transfers/index.html", **context)


def _xlsx(flt: queries.TransferFilter):  # noqa: ANN202
    stores = listing.stores_shown()

    def row(transfer: Transfer, order_no: str, serials: list[str]) -> tuple:
        store = stores.get(transfer.store_id)
        return (store.merchant_code if store else "", transfer.transfer_no, transfer.created_at,
                order_no, transfer.giver_name, transfer.giver_mobile, transfer.giver_email,
                transfer.recipient_name, transfer.recipient_mobile, transfer.recipient_email,
                transfer.ticket_count, "、".join(serials), transfer.status.label,
                transfer.cancelled_at, transfer.cancel_reason)

    def rows():  # noqa: ANN202
        chunk: list[tuple[Transfer, str]] = []
        for transfer, order_no in db.session.execute(
                queries.transfer_rows(flt).execution_options(yield_per=CHUNK)):
            chunk.append((transfer, order_no))
            if len(chunk) == CHUNK:
                yield from _chunk_rows(chunk, row, flt.readable)
                chunk = []
        yield from _chunk_rows(chunk, row, flt.readable)

    day = clock.business_day()
    return spreadsheets.xlsx_response(f"電子票券轉贈紀錄_{g.store.merchant_code}_{day:%Y%m%d}.xlsx",
                                      XLSX_HEADERS, rows(), sheet_title="電子票券轉贈紀錄")


def _chunk_rows(chunk, row, readable: bool):  # noqa: ANN001, ANN202
    serials = queries.serials((t.id for t, _ in chunk), readable=readable)
    for transfer, order_no in chunk:
        yield row(transfer, order_no, serials.get(transfer.id, []))


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
    try:
        services.cancel(acting_account(), g.store, transfer.id, reason=form.reason.data)
    except DomainError as err:
        db.session.rollback()
        transfer = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id)
                                     .execution_options(populate_existing=True))
        if isinstance(err, InvalidInput) and place_field_errors(form, err):
            return _detail(transfer, form, status=422)
        return _detail(transfer, form, error=err.message, status=err.status)
    back = sum(1 for item, _ in queries.items(transfer) if item.state is TransferItemState.CANCELLED)
    db.session.commit()
    flash(f"已取消轉贈 {transfer.transfer_no}：{back} 張未使用的票券已返還原購買人，受贈人的連結已失效",
          "success")
    return redirect_to(url_for("transfers.detail", transfer_id=transfer.id))
