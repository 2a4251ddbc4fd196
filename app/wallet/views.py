"""The consumer's e-ticket wallet (電子票夾): `/t/<token>`, public, mobile-first.

GET shows the entry page (電子票券核銷登入頁) until this browser confirms the link (mobile's
last four digits, or an e-mailed code), then the tickets. The purchaser's link also offers
轉贈 (with a confirm step), 重新發送 of a transfer's link, and 申請退貨 when the merchant
enabled it. Unknown, replaced and cancelled links all get the same "link not valid" page (404),
and their attempts are counted per IP address (429 past the limit).

The wallet acts as the consumer whoever is logged in elsewhere in this browser: no store scope,
history names the consumer. Every answer is `Cache-Control: no-store`, `Referrer-Policy:
no-referrer` (the token is in the URL) and `X-Robots-Tag: noindex`.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app import ratelimit
from app.bounds import BIGINT_MAX, INT_MAX, whole_number
from app.db import db
from app.errors import DomainError, InvalidInput, NotFound
from app.forms import place_field_errors
from app.history import Actor, set_actor
from app.ratelimit import TooManyAttempts
from app.tenancy import set_scope
from app.wallet import confirm, links, rules, services
from app.wallet.cards import issuer_of, wallet_of
from app.wallet.forms import AnswerForm, RecipientForm, ReturnForm
from app.wallet.links import Holding
from app.web import committed

bp = Blueprint("wallet", __name__, url_prefix="/t")

LINK_NOT_VALID = "此連結無效"
CONFIRM_FIRST = "請先輸入手機末四碼確認身分"
CONFIRM_FIRST_BY_CODE = "請先輸入電子郵件中的驗證碼確認身分（尚未收到請按「寄送驗證碼至 Email」）"
STALE_FORM = "表單已過期，請重新整理頁面後再試"


class LinkNotValid(NotFound):
    """Unknown, replaced or cancelled: one answer for all."""


@bp.app_template_filter("mask_name")
def mask_name(name: str) -> str:
    return rules.mask_name(name or "")


@bp.before_request
def act_as_the_consumer() -> None:
    set_scope(None)
    g.store = None
    set_actor(Actor(None, "消費者（電子票夾）", None, None, _ip()))


@bp.after_request
def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.errorhandler(LinkNotValid)
def link_not_valid(err: LinkNotValid):  # noqa: ANN201
    return render_template("wallet/invalid.html"), 404


@bp.errorhandler(DomainError)
def refused(err: DomainError):  # noqa: ANN201
    db.session.rollback()
    return render_template("wallet/message.html", message=err.message), err.status


@bp.errorhandler(CSRFError)
def stale_form(err: CSRFError):  # noqa: ANN201
    return render_template("wallet/message.html", message=STALE_FORM, back=True), 400


def _ip() -> str:
    return request.remote_addr or ""


def _open(token: str) -> Holding:
    """The link's holding, or LinkNotValid (counted); 429 for an address trying many links."""
    ratelimit.check(confirm.UNKNOWN_LINK_PER_IP, _ip())
    holding = links.resolve(token)
    if holding is None:
        ratelimit.count_failure(confirm.UNKNOWN_LINK_PER_IP, _ip())
        raise LinkNotValid(LINK_NOT_VALID)
    return holding


def _reopen(token: str) -> Holding:
    """After a rollback: the holding as it is now."""
    db.session.expire_all()
    holding = links.resolve(token)
    if holding is None:
        raise LinkNotValid(LINK_NOT_VALID)
    return holding


def _ids(name: str) -> list[int]:
    """The ticked ticket ids; a value no ticket id can be is dropped."""
    return [n for v in request.form.getlist(name) if (n := whole_number(v, 1, BIGINT_MAX)) is not None]


def _entry(holding: Holding, *, form: AnswerForm | None = None, error: str | None = None,
           status: int = 200):  # noqa: ANN202
    how = confirm.method(holding)
    form = form or AnswerForm(formdata=None)
    if how == "email":
        form.answer.label.text = "Email 驗證碼"
    return render_template(
        "wallet/entry.html", holding=holding, issuer=issuer_of(holding), method=how, form=form,
        error=error, masked_email=rules.mask_email(holding.holder_email) if how == "email" else "",
    ), status


def _wallet(holding: Holding, *, recipient: RecipientForm | None = None,
            returning: ReturnForm | None = None, transfer_error: str | None = None,
            return_error: str | None = None, chosen: list[int] | None = None,
            status: int = 200):  # noqa: ANN202
    return render_template(
        "wallet/page.html", holding=holding, wallet=wallet_of(holding),
        recipient=recipient or RecipientForm(formdata=None),
        returning=returning or ReturnForm(formdata=None), transfer_error=transfer_error,
        return_error=return_error, chosen=set(chosen or ()),
    ), status


def _unconfirmed(holding: Holding):  # noqa: ANN202
    """The entry page (403) when this browser has not confirmed the link, else None."""
    if confirm.confirmed(holding, request):
        return None
    first = {"mobile": CONFIRM_FIRST, "email": CONFIRM_FIRST_BY_CODE}.get(confirm.method(holding),
                                                                       confirm.NO_CONTACT)
    return _entry(holding, error=first, status=403)


def _back(token: str, anchor: str | None = None) -> Response:
    return redirect(url_for("wallet.page", token=token, _anchor=anchor), code=303)


@bp.get("/<token>")
def page(token: str):
    holding = _open(token)
    if not confirm.confirmed(holding, request):
        return _entry(holding)
    return _wallet(holding)


@bp.post("/<token>/confirm")
def confirm_holder(token: str):
    holding = _open(token)
    form = AnswerForm()
    if not form.validate():
        return _entry(holding, form=form, status=422)
    try:
        confirm.check_answer(holding, form.answer.data or "", _ip())
    except TooManyAttempts as err:
        return _entry(holding, form=form, error=err.message, status=err.status)
    except DomainError as err:
        if not place_field_errors(form, err):
            return _entry(holding, form=form, error=err.message, status=err.status)
        return _entry(holding, form=form, status=err.status)
    response = _back(token)
    confirm.remember(response, holding)
    return response


@bp.post("/<token>/code")
def send_code(token: str):
    holding = _open(token)
    with committed() as outcome:
        masked = confirm.send_code(holding, _ip())
    if outcome.refused:
        return _entry(holding, error=outcome.error, status=outcome.status)
    flash(f"驗證碼已寄至 {masked}，請於 {rules.CODE_WINDOW_SECONDS // 60} 分鐘內輸入", "success")
    return _back(token)


@bp.post("/<token>/transfer")
def transfer(token: str):
    holding = _open(token)
    if (refusal := _unconfirmed(holding)) is not None:
        return refusal
    form = RecipientForm()
    ids = _ids("ticket_ids")
    data = {"name": form.name.data, "mobile": form.mobile.data, "email": form.email.data}
    try:
        if not form.validate():
            raise InvalidInput(STALE_FORM)
        if request.form.get("step") != "confirm":
            recipient = services.check_transfer(holding, ids, **data)  # rolls back
            holding = _reopen(token)
            chosen = [c for c in wallet_of(holding).cards if c.ticket_id in set(ids)]
            return render_template("wallet/transfer_confirm.html", holding=holding,
                                   issuer=issuer_of(holding), cards=chosen, recipient=recipient)
        made = services.transfer(holding, ids, **data)
    except DomainError as err:
        db.session.rollback()
        holding = _reopen(token)
        placed = place_field_errors(form, err)
        return _wallet(holding, recipient=form, chosen=ids, status=err.status,
                       transfer_error=None if placed and err.status == 422 else err.message)
    message = (f"已將 {made.ticket_count} 張票券轉贈給 {rules.mask_name(made.recipient_name)}"
               f"（轉贈編號 {made.transfer_no}），受贈人將收到含新連結的通知")
    db.session.commit()
    flash(message, "success")
    return _back(token, "transfers")


@bp.post("/<token>/resend")
def resend(token: str):
    holding = _open(token)
    if (refusal := _unconfirmed(holding)) is not None:
        return refusal
    with committed() as outcome:
        made, channels = services.resend(holding, whole_number(request.form.get("transfer_id"), 1, INT_MAX))
        message = (f"已重新發送轉贈通知（{'、'.join(channels)}）給 {rules.mask_name(made.recipient_name)}"
                   f"（轉贈編號 {made.transfer_no}）")
    if outcome.refused:
        return _wallet(_reopen(token), transfer_error=outcome.error, status=outcome.status)
    flash(message, "success")
    return _back(token, "transfers")


@bp.post("/<token>/return")
def apply_return(token: str):
    holding = _open(token)
    if (refusal := _unconfirmed(holding)) is not None:
        return refusal
    form = ReturnForm()
    ids = _ids("ticket_ids")
    with committed(form) as outcome:
        if not form.validate():
            message = form.reason.errors[0] if form.reason.errors else STALE_FORM
            raise InvalidInput(message, fields={"reason": message} if form.reason.errors else None)
        made = services.apply_return(holding, ids, form.reason.data)
    if outcome.refused:
        shown = outcome.error or (None if outcome.status == 422 else outcome.refusal.message)
        return _wallet(_reopen(token), returning=form, chosen=ids, status=outcome.status,
                       return_error=shown)
    flash(f"已送出 {len(made)} 張票券的退貨申請，商店將以 Email 或電話與您聯繫", "success")
    return _back(token, "returns")
