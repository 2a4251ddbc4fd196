"""九 信用卡收單: the store's card transactions after their authorisation.

- 交易明細查詢: by 授權日期 or 關帳日期 (at most three months) or an order number, status, the
  card's last four digits and the amount; a page of them or the Excel of the query.
- 要關帳列表 (or 未關帳), 已關帳列表 (by 關帳日期), 關帳失敗列表: the same columns and Excel.
- A transaction's detail: every field, the order, the history (operator, IP, time), the note
  (備註), and 關帳 / 取消關帳 / 放棄 where the state machine (app.credit.states) allows them.
- 批次關帳: the ticked transactions each asked to close; the page says how many closed and
  which were refused, and why.

Seeing needs 信用卡收單 at 查詢; acting (and the note) needs 修改. Another store's transaction
is 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from app import history, listing
from app.auth.access import may, requires
from app.auth.permissions import Function, Level
from app.bounds import INT_MAX, whole_number
from app.checkout.models import CardTransaction, OrderStatus, TransactionStatus
from app.checkout.rules import masked_card
from app.credit import balance, batch, queries, refunds, services, states
from app.credit.columns import COLUMNS, installments_of
from app.credit.states import Action
from app.db import db
from app.errors import InvalidInput, NotFound
from app.forms import strip
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.web import committed, form_status, saved

bp = Blueprint("credit", __name__, url_prefix="/vendor/credit")

MAX_SELECTED = 500
BAD_SELECTION = f"勾選的交易有誤（一次最多 {MAX_SELECTED} 筆），請重新勾選"
NONE_SELECTED = "請先勾選要關帳的交易"
BAD_ACTION = "不支援的操作"
# The detail page's buttons, in order: what each is called and the confirmation it asks.
# A refund is taken from a close-requested (partial) or closed (partial or full) transaction.
REFUNDABLE = (TransactionStatus.CLOSE_REQUESTED, TransactionStatus.CLOSED)
BUTTONS = (
    (Action.CLOSE, "關帳", "btn-primary",
     "確定將此筆交易關帳？系統將於每日 20:15 的關帳作業向銀行請款。"),
    (Action.CANCEL_CLOSE, "取消關帳", "btn-outline-secondary",
     "確定取消關帳？取消後此筆交易不會再自動關帳，需要請款時請再按【關帳】。"),
    (Action.ABANDON, "放棄（取消授權）", "btn-outline-danger",
     "確定放棄此筆授權？交易將被取消且無法還原，消費者需重新刷卡。"),
)
ACTIONS = {a.value: a for a, *_ in BUTTONS}


def _choices(pairs: tuple[tuple[str, str], ...]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _amount(form: FlaskForm, field: StringField) -> None:
    if field.data and whole_number(field.data, 1, INT_MAX) is None:
        raise ValidationError("金額須為正整數")


class ListForm(FlaskForm):
    class Meta:
        csrf = False

    start = StringField("日期（起）", filters=[strip], validators=[Length(max=10)])
    end = StringField("日期（迄）", filters=[strip], validators=[Length(max=10)])
    card_last4 = StringField("卡號末四碼", filters=[strip], validators=[
        Optional(), Regexp(r"^[0-9]{4}$", message="卡號末四碼須為 4 位數字")])
    order_no = StringField("訂單編號", filters=[strip], validators=[Length(max=20)],
                           description="廠商訂單編號或綠界交易編號")
    amount = StringField("金額", filters=[strip], validators=[Length(max=10), _amount])


class QueryForm(ListForm):
    date_type = SelectField("日期類型", choices=_choices(queries.DATE_TYPES), default="authorised",
                            validate_choice=True)
    status = SelectField("交易狀態", choices=_choices(queries.STATUSES), default="", validate_choice=True)


class CloseRequestedForm(ListForm):
    state = SelectField("狀態", choices=_choices((("close_requested", "要關帳"),
                                                ("authorised", "未關帳"))),
                        default="close_requested", validate_choice=True)


class NoteForm(FlaskForm):
    note = TextAreaField("備註", filters=[strip],
                         validators=[Length(max=batch.NOTE_MAX, message=batch.NOTE_TOO_LONG)],
                         render_kw={"rows": 3, "maxlength": batch.NOTE_MAX})


class RefundForm(FlaskForm):
    amount = StringField("退刷金額", filters=[strip], validators=[Length(max=9)],
                         render_kw={"inputmode": "numeric", "maxlength": 9})
    reason = StringField("退刷原因（選填）", filters=[strip], validators=[Length(max=100)],
                         render_kw={"maxlength": 100})


# The pages of lists: (title, what the page says, the date it reads, its form, its fixed filter).
LISTS = {
    "credit.transactions": ("交易明細查詢",
                            "查詢信用卡交易，並可勾選未關帳的交易【批次關帳】。點選【明細】可查看交易明細、"
                            "歷程，並進行關帳、取消關帳、放棄（取消授權）及編輯備註。"),
    "credit.close_requested": ("要關帳列表",
                               "「要關帳」的交易將於每日 20:15 的關帳作業向銀行請款；選擇「未關帳」"
                               "可查詢尚未關帳的授權交易並勾選【批次關帳】。"),
    "credit.closed": ("已關帳列表", "已關帳並向銀行請款的交易，依關帳日期查詢。"),
    "credit.close_failed": ("關帳失敗列表",
                            "最近一次關帳失敗的交易，依關帳失敗日期查詢。若要再關帳請款，請點選【明細】"
                            "後按【關帳】。"),
}
PERIOD_NOTE = "未填日期時查詢最近 30 天，查詢區間不可超過三個月；以訂單編號查詢且未填日期時，不限日期。"


def _list_page(form: ListForm, **fixed):  # noqa: ANN003, ANN202
    endpoint = request.endpoint or ""
    title, intro = LISTS[endpoint]
    context = {"form": form, "columns": COLUMNS, "page": None, "error": None, "title": title,
               "intro": intro, "endpoint": endpoint, "note": PERIOD_NOTE,
               "may_modify": may(Function.CREDIT_TRANSACTIONS, Level.MODIFY),
               "AUTHORISED": TransactionStatus.AUTHORISED, "max_selected": MAX_SELECTED}
    try:
        start, end = listing.checked_period(form, narrowed=bool(form.order_no.data))
    except InvalidInput as err:
        context["error"] = err.message
        return render("credit/list.html", **context), 422
    flt = queries.Filter(store_id=g.store.id, start=start, end=end,
                         card_last4=form.card_last4.data or "",
                         order_no=form.order_no.data or "",
                         amount=whole_number(form.amount.data) if form.amount.data else None,
                         **fixed)
    stmt = queries.transactions(flt)
    if listing.excel_asked():
        return listing.excel(title, COLUMNS,
                             db.session.scalars(stmt.execution_options(yield_per=1_000)))
    context["page"] = paginate(stmt)
    return render("credit/list.html", **context)


@bp.get("/transactions")
@requires(Function.CREDIT_TRANSACTIONS)
def transactions():
    """交易明細查詢."""
    form = QueryForm(formdata=request.args)
    return _list_page(form, date_type=form.date_type.data or "authorised",
                      status=form.status.data or "")


@bp.get("/close-requested")
@requires(Function.CREDIT_TRANSACTIONS)
def close_requested():
    """要關帳列表 (or 未關帳: the authorised ones, to batch-close)."""
    form = CloseRequestedForm(formdata=request.args)
    state = form.state.data or "close_requested"
    return _list_page(form, status=state,
                      date_type="close_requested" if state == "close_requested" else "authorised")


@bp.get("/closed")
@requires(Function.CREDIT_TRANSACTIONS)
def closed():
    """已關帳列表, by 關帳日期."""
    return _list_page(ListForm(formdata=request.args), status=TransactionStatus.CLOSED.value,
                      date_type="closed")


@bp.get("/close-failed")
@requires(Function.CREDIT_TRANSACTIONS)
def close_failed():
    """關帳失敗列表: the transactions whose last close failed, by when it failed."""
    return _list_page(ListForm(formdata=request.args), failed_only=True,
                      date_type="close_failed")


def _selected() -> list[int] | None:
    values = request.form.getlist("transaction_id")
    ids = [whole_number(v, 1) for v in values[:MAX_SELECTED + 1]]
    if len(values) > MAX_SELECTED or any(i is None for i in ids):
        return None
    return list(dict.fromkeys(i for i in ids if i is not None))


@bp.post("/batch-close")
@requires(Function.CREDIT_TRANSACTIONS, Level.MODIFY)
def batch_close():
    """批次關帳: each ticked transaction asked to close; the refused ones listed with why."""
    back = request.form.get("back", "")
    back_url = url_for(back) if back in LISTS else url_for("credit.transactions")
    ids = _selected()
    if ids is None:
        flash(BAD_SELECTION, "danger")
        return redirect_to(back_url)
    if not ids:
        flash(NONE_SELECTED, "warning")
        return redirect_to(back_url)
    txns = queries.owned(g.store.id, ids)
    if len(txns) != len(ids):
        raise NotFound("找不到勾選的交易")  # another store's id: nothing is closed
    with committed() as outcome:
        result = batch.close_many(txns)
    if outcome.refused:
        outcome.flash_error()
        return redirect_to(back_url)
    return render("credit/batch_result.html", result=result, back_url=back_url,
                  card=lambda t: masked_card(t.card_first6, t.card_last4))


def _status_label(value: str | None) -> str:
    """A history entry's status (a transaction's or its order's) in words."""
    for kind in (TransactionStatus, OrderStatus):
        try:
            return kind(value).label
        except ValueError:
            continue
    return value or ""


def _detail(txn: CardTransaction, note_form: NoteForm,
            refund_form: RefundForm | None = None) -> str:
    may_modify = may(Function.CREDIT_TRANSACTIONS, Level.MODIFY)
    facts = services.facts_of(txn)
    may_refund = may_modify and txn.status in REFUNDABLE and facts.left > 0
    buttons = [(a, label, cls, confirm) for a, label, cls, confirm in BUTTONS
               if may_modify and states.decide(facts, a).allowed]
    entries = sorted([*history.entries_for(txn), *history.entries_for(txn.order)],
                     key=lambda e: (e.at, e.id), reverse=True)
    return render("credit/detail.html", txn=txn, order=txn.order, buttons=buttons,
                  may_modify=may_modify, note_form=note_form, entries=entries,
                  card=masked_card(txn.card_first6, txn.card_last4),
                  installments=installments_of(txn), status_label=_status_label,
                  close_days=states.CLOSE_DAYS, age_days=facts.age_days, facts=facts,
                  may_refund=may_refund, refund_form=refund_form or RefundForm(),
                  refunds=refunds.of(txn),
                  card_balance=balance.of(txn.store_id) if may_refund else 0)


@bp.get("/transactions/<int:transaction_id>")
@requires(Function.CREDIT_TRANSACTIONS)
def detail(transaction_id: int):
    txn = get_owned_or_404(CardTransaction, transaction_id)
    return _detail(txn, NoteForm(data={"note": txn.note}))


@bp.post("/transactions/<int:transaction_id>/act")
@requires(Function.CREDIT_TRANSACTIONS, Level.MODIFY)
def act(transaction_id: int):
    """關帳 (C), 取消關帳 (E) or 放棄 (N): refused, its message and nothing changed."""
    txn = get_owned_or_404(CardTransaction, transaction_id, for_update=True)
    action = ACTIONS.get(request.form.get("action", ""))
    if action is None:
        raise InvalidInput(BAD_ACTION, fields={"action": BAD_ACTION})
    with committed() as outcome:
        services.perform(txn, action)
    if outcome.refused:
        outcome.flash_error()
    else:
        flash(f"交易 {txn.order.trade_no} 已{action.label}"
              f"（{txn.status.label}）", "success")
    return redirect_to(url_for("credit.detail", transaction_id=transaction_id))


@bp.post("/transactions/<int:transaction_id>/refund")
@requires(Function.CREDIT_TRANSACTIONS, Level.MODIFY)
def refund(transaction_id: int):
    """退刷 (R): a negative entry of the amount typed, settled at the next close."""
    txn = get_owned_or_404(CardTransaction, transaction_id, for_update=True)
    form = RefundForm()
    amount = whole_number(form.amount.data, 1, 10**9) if form.validate() else None
    if amount is None:
        if not form.amount.errors:
            form.amount.errors = [states.REFUND_AMOUNT]
        db.session.rollback()
        return _detail(txn, NoteForm(data={"note": txn.note}), form), 422
    with committed(form) as outcome:
        refunds.refund(txn, amount, reason=form.reason.data or "")
    if outcome.refused:
        db.session.refresh(txn)
        form.amount.errors = [outcome.error or outcome.refusal.message]
        return _detail(txn, NoteForm(data={"note": txn.note}), form), 422
    flash(f"已退刷 NT${amount:,}（下次關帳時入帳，關帳前可取消）", "success")
    return redirect_to(url_for("credit.detail", transaction_id=transaction_id))


@bp.post("/transactions/<int:transaction_id>/note")
@requires(Function.CREDIT_TRANSACTIONS, Level.MODIFY)
def note(transaction_id: int):
    """備註: saved with its change in the history."""
    txn = get_owned_or_404(CardTransaction, transaction_id, for_update=True)
    form = NoteForm()
    if done := saved(form, lambda: batch.set_note(txn, form.note.data or ""),
                     done=lambda changed: ("備註已更新", "success") if changed
                     else ("備註未變更", "info"),
                     to=url_for("credit.detail", transaction_id=transaction_id)):
        return done
    db.session.refresh(txn)
    return _detail(txn, form), form_status(form)
