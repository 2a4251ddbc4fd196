"""信用卡收單 › 拒絕名單: the store's reject lists of card numbers and of client IPs — list (with
Excel), add one, import an xlsx, switch on/off, delete — and 【列入拒絕交易卡號】 for a card
transaction. Seeing needs 拒絕名單 at 查詢; changing needs 修改.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField, StringField

from app import listing
from app.auth.access import acting_account, may, requires
from app.auth.permissions import Function, Level
from app.checkout.models import CardTransaction
from app.columns import Column
from app.credit import rejects
from app.credit.reject_models import RejectCategory, RejectedCard, RejectedIp
from app.db import db
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.web import committed

bp = Blueprint("credit_reject", __name__, url_prefix="/vendor/credit/reject-list")

KINDS = {"cards": (RejectedCard, "拒絕交易卡號"), "ips": (RejectedIp, "拒絕交易 IP")}
CATEGORY_CHOICES = [SelectChoice(c.label, c.label) for c in RejectCategory]

CARD_COLUMNS = (
    Column("card", "信用卡卡號", lambda r: f"************{r.card_last4}", "code"),
    Column("category", "問題類別", lambda r: r.category.label),
    Column("active", "狀態", lambda r: "啟用" if r.active else "停用"),
    Column("declines", "拒絕次數", lambda r: r.declines, "number"),
    Column("created_at", "建立時間", lambda r: r.created_at, "datetime"),
)
IP_COLUMNS = (Column("ip", "IP", lambda r: r.ip, "code"),) + CARD_COLUMNS[1:]


class EntryForm(FlaskForm):
    value = StringField("值")
    category = SelectField("問題類別", choices=CATEGORY_CHOICES)


class ImportForm(FlaskForm):
    file = FileField("Excel 檔（.xlsx）")


class CategoryForm(FlaskForm):
    category = SelectField("問題類別", choices=CATEGORY_CHOICES)


def _kind(kind: str):  # noqa: ANN202
    return KINDS.get(kind) or abort(404)


def _page(kind: str, form: EntryForm | None = None, status: int = 200,  # noqa: ANN202
          error: str = ""):
    _, title = _kind(kind)
    query = rejects.cards_query() if kind == "cards" else rejects.ips_query()
    columns = CARD_COLUMNS if kind == "cards" else IP_COLUMNS
    if listing.excel_asked():
        return listing.excel(title, columns, db.session.scalars(query))
    return render("credit/reject_list.html", kind=kind, title=title, kinds=KINDS,
                  page=paginate(query), columns=columns, form=form or EntryForm(),
                  import_form=ImportForm(), error=error, headers=rejects.CARD_HEADERS if kind == "cards"
                  else rejects.IP_HEADERS,
                  can_modify=may(Function.CREDIT_REJECT_LIST, Level.MODIFY)), status


@bp.get("")
@requires(Function.CREDIT_REJECT_LIST)
def index():
    return redirect_to(url_for("credit_reject.cards"))


def _entries(kind: str):  # noqa: ANN202
    return _page(kind)


def _add(kind: str):  # noqa: ANN202
    _kind(kind)
    form = EntryForm()
    if not form.validate_on_submit():
        return _page(kind, form, 422)
    with committed(form) as outcome:
        category = rejects.category_of(form.category.data or "")
        if kind == "cards":
            rejects.add_card(acting_account(), g.store, form.value.data or "", category)
        else:
            rejects.add_ip(acting_account(), g.store, form.value.data or "", category)
    if not outcome.saved:
        return _page(kind, form, outcome.status, outcome.error or "")
    flash("已加入拒絕名單", "success")
    return redirect_to(url_for(f"credit_reject.{kind}"))


def _import(kind: str):  # noqa: ANN202
    _kind(kind)
    form = ImportForm()
    upload = request.files.get("file")
    if not form.validate_on_submit() or upload is None or not upload.filename:
        flash("請選擇要匯入的 Excel 檔", "danger")
        return _page(kind, status=422)
    with committed() as outcome:
        result = rejects.import_xlsx(acting_account(), g.store, upload.stream.read(),
                                     cards=kind == "cards")
    if not outcome.saved:
        outcome.flash_error()
        return _page(kind, status=outcome.status)
    flash(f"已匯入 {result.added} 筆，{result.skipped} 筆已在名單中略過", "success")
    return redirect_to(url_for(f"credit_reject.{kind}"))


def _switch(kind: str, entry: int):  # noqa: ANN202
    model, _ = _kind(kind)
    row = get_owned_or_404(model, entry)
    active = request.form.get("active") == "1"
    with committed() as outcome:
        rejects.set_active(acting_account(), g.store, row, active)
    if outcome.saved:
        flash("已啟用（拒收）" if active else "已停用（可交易）", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for(f"credit_reject.{kind}"))


def _delete(kind: str, entry: int):  # noqa: ANN202
    model, _ = _kind(kind)
    row = get_owned_or_404(model, entry)
    with committed() as outcome:
        rejects.remove(acting_account(), g.store, row)
    if outcome.saved:
        flash("已刪除", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for(f"credit_reject.{kind}"))


@bp.post("/transactions/<int:card_transaction_id>")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def from_transaction(card_transaction_id: int):
    """【列入拒絕交易卡號】 on a card transaction (its card, by the digest kept at payment)."""
    txn = get_owned_or_404(CardTransaction, card_transaction_id)
    form = CategoryForm()
    if not form.validate_on_submit():
        return _page("cards", status=422, error=rejects.BAD_CATEGORY)
    with committed() as outcome:
        rejects.add_from_transaction(acting_account(), g.store, txn,
                                     rejects.category_of(form.category.data or ""))
    if outcome.saved:
        flash(f"卡號 ****{txn.card_last4} 已列入拒絕交易卡號", "success")
    else:
        outcome.flash_error()
    return redirect_to(url_for("credit_reject.cards"))



# Each list has its own fixed paths.

@bp.get("/cards")
@requires(Function.CREDIT_REJECT_LIST)
def cards():
    return _entries("cards")


@bp.get("/ips")
@requires(Function.CREDIT_REJECT_LIST)
def ips():
    return _entries("ips")


@bp.post("/cards")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def cards_add():
    return _add("cards")


@bp.post("/ips")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def ips_add():
    return _add("ips")


@bp.post("/cards/import")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def cards_import():
    return _import("cards")


@bp.post("/ips/import")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def ips_import():
    return _import("ips")


@bp.post("/cards/<int:card_id>/switch")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def cards_switch(card_id: int):
    return _switch("cards", card_id)


@bp.post("/ips/<int:ip_id>/switch")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def ips_switch(ip_id: int):
    return _switch("ips", ip_id)


@bp.post("/cards/<int:card_id>/delete")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def cards_delete(card_id: int):
    return _delete("cards", card_id)


@bp.post("/ips/<int:ip_id>/delete")
@requires(Function.CREDIT_REJECT_LIST, Level.MODIFY)
def ips_delete(ip_id: int):
    return _delete("ips", ip_id)
