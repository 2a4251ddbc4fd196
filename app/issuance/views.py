"""7-3 B 票券發行: 批次發行設定 (upload, preview, confirm) and 批次發行結果 (the batches, each row
polling itself while it is queued or issuing).

The steps of the seed: choose 出券類型 and 發行方式 (only those the contract enables), 票券類型,
匯入單號 and the xlsx file, 【確認匯入】 → 預覽發行明細 (wrong rows in red with the reason per
cell; nothing can be issued while any row is wrong; the rows with their errors as xlsx; upload
again with the same 匯入單號 to replace the preview) → 【確認發行】 (asked twice) → the job runs in
the background and 批次發行結果 shows its progress.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, render_template, request, url_for
from sqlalchemy import select

from app import spreadsheets
from app.auth.access import acting_account as _actor
from app.auth.access import may, requires
from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.bounds import INT_MAX, whole_number
from app.db import db
from app.errors import DomainError
from app.htmx import redirect_to, render
from app.issuance import services, template, uploading
from app.issuance.columns import COLUMNS
from app.issuance.forms import UploadForm
from app.issuance.models import Batch, BatchStatus
from app.issuance.rules import count_orders
from app.pagination import paginate
from app.products.models import Product, ProductKind
from app.products.queries import listed_products
from app.stores.models import DeliveryMethod, DeliveryType
from app.tenancy import get_owned_or_404
from app.tickets.codes import MAX_TICKETS_PER_BATCH

bp = Blueprint("issuance", __name__, url_prefix="/issuance")

ORDER_NOS_TAKEN = "部分廠商訂單編號已被其他匯入單號使用，整批未發行；請修正標示的列後重新上傳。"
ALL_WRONG = "只要有任何一列資料錯誤，整批都無法發行；請修正後以同一匯入單號重新上傳。"
POLLING = (BatchStatus.QUEUED, BatchStatus.ISSUING)
STATUS_STYLES = {BatchStatus.PREVIEW: "secondary", BatchStatus.QUEUED: "secondary",
                 BatchStatus.ISSUING: "primary", BatchStatus.SUCCEEDED: "success",
                 BatchStatus.FAILED: "danger"}




def _methods() -> list[DeliveryMethod]:
    contract = g.store.current_contract
    enabled = set(contract.methods) if contract else set()
    return [m for m in DeliveryMethod if m in enabled]  # in the seed's order


def _refusal(method: DeliveryMethod | None = None) -> str | None:
    """Why this account may not issue in this store now (shown instead of the form)."""
    refusal = services.issuance_refusal(_actor(), g.store, method)
    return refusal.message if refusal else None


def _upload_form(batch: Batch | None = None) -> UploadForm:
    if batch is not None and request.method == "GET":
        method = batch.delivery_method
        form = UploadForm(formdata=None, data={
            "delivery_type": method.delivery_type.value, "method": method.value,
            "kind": batch.kind or None, "import_no": batch.import_no})
    else:
        form = UploadForm()
    form.offer(_methods())
    return form


def _method_groups(form: UploadForm) -> list[tuple[DeliveryType, list[Any]]]:
    """The method radios grouped under their delivery type, for the page."""
    groups: list[tuple[DeliveryType, list[Any]]] = []
    for choice in form.method:
        method = DeliveryMethod(choice.data)
        if not groups or groups[-1][0] is not method.delivery_type:
            groups.append((method.delivery_type, []))
        groups[-1][1].append(choice)
    return groups


def _settings_page(form: UploadForm, status: int = 200):  # noqa: ANN202
    return render("issuance/index.html", form=form, refusal=_refusal(),
                  groups=_method_groups(form), max_tickets=MAX_TICKETS_PER_BATCH,
                  products=listed_products(g.store.id)), status


# 批次發行設定 ----------------------------------------------------------------------------------

@bp.get("/")
@requires(Function.ISSUANCE)
def index():
    return _settings_page(_upload_form())


@bp.get("/template", endpoint="template")
@requires(Function.ISSUANCE)
def template_download():
    return spreadsheets.workbook_response(template.TEMPLATE_FILENAME, template.template_workbook())


@bp.get("/template/mine", endpoint="my_template")
@requires(Function.ISSUANCE)
def my_template_download():
    """下載範本（含我的商品）: one row per listed product, its 商品編號 filled."""
    products = [(p.id, p.name) for p in listed_products(g.store.id)]
    return spreadsheets.workbook_response(template.PREFILLED_FILENAME,
                                          template.prefilled_workbook(products))


@bp.get("/rules")
@requires(Function.ISSUANCE)
def rules():
    return render("issuance/rules.html", columns=COLUMNS,
                  other_rules=template.OTHER_RULES, headers=template.ISSUANCE_HEADERS,
                  sheet=template.ISSUANCE_SHEET)


@bp.post("/upload")
@requires(Function.ISSUANCE, Level.MODIFY)
def upload():
    form = _upload_form()
    if _refusal() is not None:  # the page shows why, and no form
        return _settings_page(form, 409)
    if not form.validate():
        return _settings_page(form, 422)
    batch, status = uploading.prepared(form, lambda: services.prepare_batch(
        _actor(), g.store, import_no=form.import_no.data, method=form.chosen_method(),
        kind=form.chosen_kind(), rows=template.read_issuance_rows(form.file.data.stream),
        source="upload"))
    if batch is None:
        return _settings_page(form, status)
    db.session.commit()
    return redirect_to(url_for("issuance.preview", batch_id=batch.id))


# 預覽發行明細 ----------------------------------------------------------------------------------

def _products(batch: Batch) -> dict[int, Product]:
    # Kept rows are read as untrusted: a number no product id can be (an earlier reader kept
    # 2147483648) is not looked up, so a stored preview cannot turn the page into an error.
    ids = {n for r in batch.rows
           if (n := whole_number(r["values"].get("product_id"), 1, INT_MAX)) is not None}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(
        select(Product).where(Product.store_id == batch.store_id, Product.id.in_(ids)))}


def _totals(batch: Batch, products: dict[int, Product]) -> dict[str, int]:
    tickets = amount = 0
    for row in batch.rows:
        quantity = row["values"].get("quantity") or 0
        tickets += quantity
        product = products.get(row["values"].get("product_id"))
        if product is not None:
            amount += product.face_value * quantity
    return {"orders": count_orders(batch.rows), "tickets": tickets, "amount": amount}


@bp.get("/batches/<int:batch_id>")
@requires(Function.ISSUANCE)
def preview(batch_id: int):
    batch = get_owned_or_404(Batch, batch_id)
    products = _products(batch)
    wrong = not services.batch_is_issuable(batch)
    form = _upload_form(batch)
    return render("issuance/preview.html", batch=batch, products=products,
                  totals=_totals(batch, products), columns=COLUMNS,
                  batch_errors=[e for e in batch.error.splitlines() if e], wrong=wrong,
                  is_preview=batch.status is BatchStatus.PREVIEW, all_wrong=ALL_WRONG,
                  refusal=_refusal(batch.delivery_method), form=form,
                  groups=_method_groups(form),
                  method=batch.delivery_method,
                  kind=ProductKind(batch.kind) if batch.kind else None,
                  may_modify=may(Function.ISSUANCE, Level.MODIFY),
                  max_tickets=MAX_TICKETS_PER_BATCH)


@bp.get("/batches/<int:batch_id>/errors.xlsx")
@requires(Function.ISSUANCE)
def error_rows(batch_id: int):
    """Every row in the template's columns, plus 錯誤原因: fix the file and upload it again."""
    batch = get_owned_or_404(Batch, batch_id)
    return template.error_rows_response(template.TICKETS, f"發行錯誤明細_{batch.import_no}.xlsx",
                                        batch.rows)


@bp.post("/batches/<int:batch_id>/confirm")
@requires(Function.ISSUANCE, Level.MODIFY)
def confirm(batch_id: int):
    batch = get_owned_or_404(Batch, batch_id)
    try:
        outcome = services.confirm_batch(_actor(), g.store, batch)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect_to(url_for("issuance.preview", batch_id=batch_id))
    db.session.commit()
    if outcome is services.Confirmation.ORDER_NOS_TAKEN:
        flash(ORDER_NOS_TAKEN, "danger")
        return redirect_to(url_for("issuance.preview", batch_id=batch_id))
    if outcome is services.Confirmation.QUEUED:
        flash(f"匯入單號 {batch.import_no} 已確認發行，發行狀態請見下方列表", "success")
    else:
        flash(f"匯入單號 {batch.import_no} 已確認發行過，不會重複發行", "info")
    return redirect_to(url_for("issuance.results"))


# 批次發行結果 ----------------------------------------------------------------------------------

def _usernames(batches: list[Batch]) -> dict[int, str]:
    ids = {b.created_by_id for b in batches} - {None}
    if not ids:
        return {}
    # A parent store's account may have issued for this child store: names are read unscoped.
    return dict(db.session.execute(
        select(Account.id, Account.username).where(Account.id.in_(ids))
        .execution_options(unscoped=True)).all())


def progress(batch: Batch) -> int | None:
    """Percent issued; None while issuing with no count known yet (an animated bar)."""
    if batch.status is BatchStatus.SUCCEEDED:
        return 100
    if batch.status is BatchStatus.ISSUING:
        if batch.issued_count and batch.ticket_count:
            return min(99, batch.issued_count * 100 // batch.ticket_count)
        return None
    return 0


def _row_context(batches: list[Batch]) -> dict[str, Any]:
    return {"usernames": _usernames(batches), "progress": progress, "polling": POLLING,
            "styles": STATUS_STYLES, "method_of": DeliveryMethod, "Status": BatchStatus}


@bp.get("/results")
@requires(Function.ISSUANCE)
def results():
    stmt = (select(Batch).where(Batch.store_id == g.store.id,
                                Batch.status != BatchStatus.PREVIEW)
            .order_by(Batch.created_at.desc(), Batch.id.desc()))
    page = paginate(stmt)
    return render("issuance/results.html", page=page, **_row_context(list(page.items)))


@bp.get("/batches/<int:batch_id>/row")
@requires(Function.ISSUANCE)
def batch_row(batch_id: int):
    """One row of 批次發行結果: what a queued or issuing row polls every second. When it has just
    finished, the whole page is loaded again (the 發行中 banner goes, the row links its orders)."""
    batch = get_owned_or_404(Batch, batch_id)
    response = Response(render_template("issuance/_batch_row.html", batch=batch,
                                        **_row_context([batch])))
    if batch.status not in POLLING and request.args.get("was") in {s.value for s in POLLING}:
        response.headers["HX-Refresh"] = "true"
    return response
