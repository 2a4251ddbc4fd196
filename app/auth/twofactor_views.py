"""雙因子驗證 pages: the login's second step, set-up, recovery codes and removal.

After a correct password, an account with two-factor login is not logged in: the session holds
only a pending state (which account, its session epoch, where to go after, since when) that no
other page accepts, since Flask-Login sees nobody. /login/verify turns it into a login with a
valid code; it lapses after PENDING_MINUTES.

An account of a store whose operator requires two-factor login and that has none is logged in,
but every page other than the set-up ones sends it to set-up (ENROL_ENDPOINTS) until it has.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from app import clock
from app.auth import devices, twofactor
from app.auth import twofactor_rules as rules
from app.auth.access import acting_account
from app.auth.forms import EmailCodePurposeForm, TwoFactorCodeForm
from app.auth.login_session import complete_login
from app.auth.models import Account
from app.auth.request_cache import readable_account
from app.db import db
from app.errors import DomainError, InvalidInput
from app.htmx import redirect_to, render
from app.ratelimit import TooManyAttempts

bp = Blueprint("twofactor", __name__)
CODE_SENT = "驗證碼已寄至技術聯絡人電子信箱"

PENDING = "two_factor_pending"
VERIFIED = "two_factor_ok"  # the account id whose required two-factor is known to be set up
PENDING_MINUTES = 10
PENDING_LAPSED = "登入驗證逾時，請重新登入"
MUST_ENROL = "此商店要求所有後台帳號啟用雙因子驗證，請先完成設定"
ENROL_ENDPOINTS = frozenset({
    "twofactor.index", "twofactor.start_totp", "twofactor.start_email", "twofactor.setup",
    "twofactor.resend_setup_code", "auth.logout", "static", "favicon",
})


def _ip() -> str:
    return request.remote_addr or ""


def _agent() -> str:
    return request.headers.get("User-Agent", "")


# The login's second step -------------------------------------------------------------------

def second_step_needed(account: Account) -> bool:
    return twofactor.enabled_factor(account) is not None


def begin_second_step(account: Account, target: str) -> Response:
    """Called by the login view after a correct password: hold the pending state (nothing else)
    and ask for the code. An e-mail method gets its code sent now."""
    factor = twofactor.enabled_factor(account)
    assert factor is not None
    session.clear()
    session[PENDING] = {"id": account.id, "epoch": account.session_epoch, "next": target,
                        "since": clock.now().timestamp()}
    if factor.method == "email":
        try:
            twofactor.send_email_code(account, "login")
        except (TooManyAttempts, InvalidInput) as err:
            flash(err.message, "danger")
    db.session.commit()  # the login event and the e-mailed code
    return redirect(url_for("twofactor.verify_login"))


def _pending_account() -> Account | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    since = pending.get("since")
    if not isinstance(since, int | float) or clock.now().timestamp() - since > PENDING_MINUTES * 60:
        session.pop(PENDING, None)
        return None
    account = db.session.get(Account, pending.get("id"), execution_options={"unscoped": True})
    if account is None or not account.is_active or account.session_epoch != pending.get("epoch"):
        session.pop(PENDING, None)
        return None
    return account


def _verify_page(account: Account, form: TwoFactorCodeForm, status: int = 200):  # noqa: ANN202
    factor = twofactor.enabled_factor(account)
    return render("auth/verify_login.html", form=form, factor=factor, account=account), status


@bp.route("/login/verify", methods=["GET", "POST"])
def verify_login():
    account = _pending_account()
    if account is None:
        flash(PENDING_LAPSED, "warning")
        return redirect(url_for("auth.login"))
    if twofactor.enabled_factor(account) is None:  # removed meanwhile: log in again
        session.pop(PENDING, None)
        return redirect(url_for("auth.login"))
    form = TwoFactorCodeForm()
    if not form.validate_on_submit():
        return _verify_page(account, form, 422 if form.is_submitted() else 200)
    try:
        twofactor.complete_login(account, form.code.data, ip=_ip(), user_agent=_agent())
    except (InvalidInput, TooManyAttempts) as err:
        db.session.commit()  # the failed attempt stays in the login history
        form.code.errors = [err.message]
        return _verify_page(account, form, err.status)
    pending = session[PENDING]
    response = complete_login(account, pending["next"], device=devices.read(request), ip=_ip(),
                              user_agent=_agent())
    session[VERIFIED] = account.id
    db.session.commit()
    return response


@bp.post("/login/verify/send")
def resend_login_code():
    account = _pending_account()
    if account is None:
        flash(PENDING_LAPSED, "warning")
        return redirect(url_for("auth.login"))
    try:
        twofactor.send_email_code(account, "login")
    except (TooManyAttempts, InvalidInput) as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect(url_for("twofactor.verify_login"))
    db.session.commit()
    flash("驗證碼已重新寄出", "info")
    return redirect(url_for("twofactor.verify_login"))


@bp.post("/login/verify/cancel")
def cancel_login():
    session.pop(PENDING, None)
    return redirect(url_for("auth.login"))


# 雙因子驗證 settings page ------------------------------------------------------------------

def _qr_data_uri(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _index_page(status: int = 200, **forms: object):  # noqa: ANN202
    account = acting_account()
    factor = twofactor.two_factor_of(account)
    context = {
        "factor": factor,
        "required": twofactor.required_for(account),
        "remaining": twofactor.remaining_recovery_codes(account) if factor else 0,
        "email_to": twofactor.email_recipients(account),
        "remove_form": forms.get("remove_form") or TwoFactorCodeForm(prefix="remove"),
        "recovery_form": forms.get("recovery_form") or TwoFactorCodeForm(prefix="recovery"),
        "purpose_form": EmailCodePurposeForm(),
    }
    return render("twofactor/index.html", **context), status


@bp.get("/two-factor")
@login_required
def index():
    return _index_page()


@bp.post("/two-factor/totp")
@login_required
def start_totp():
    try:
        twofactor.start_totp(acting_account())
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "warning")
        return redirect_to(url_for("twofactor.index"))
    db.session.commit()
    return redirect_to(url_for("twofactor.setup"))


@bp.post("/two-factor/email")
@login_required
def start_email():
    return _mail_code(lambda: twofactor.start_email(acting_account()), sent=CODE_SENT,
                      then="twofactor.setup", refused_to="twofactor.index")


@bp.post("/two-factor/setup/resend")
@login_required
def resend_setup_code():
    factor = twofactor.two_factor_of(acting_account())
    if factor is None or factor.enabled or factor.method != "email":
        return redirect_to(url_for("twofactor.index"))
    return _mail_code(lambda: twofactor.send_email_code(acting_account(), "setup"),
                      sent="驗證碼已重新寄出", then="twofactor.setup", refused_to="twofactor.setup")


def _mail_code(send: Callable[[], object], *, sent: str, then: str, refused_to: str) -> Response:
    """Mail a code (or start the e-mail method, which mails one): commit and say so, or undo
    and say why (too many codes this hour, no technical contact)."""
    try:
        send()
    except (DomainError, TooManyAttempts) as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect_to(url_for(refused_to))
    db.session.commit()
    flash(sent, "info")
    return redirect_to(url_for(then))


def _recovery_codes_page(codes: list[str], *, first: bool) -> Response:
    response = make_response(render("twofactor/recovery_codes.html", codes=codes, first=first))
    response.headers["Cache-Control"] = "no-store"  # shown this once only
    return response


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@login_required
def setup():
    account = acting_account()
    factor = twofactor.two_factor_of(account)
    if factor is None or factor.enabled:
        return redirect_to(url_for("twofactor.index"))
    form = TwoFactorCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_setup(account, form.code.data, ip=_ip())
        except (InvalidInput, TooManyAttempts) as err:
            db.session.commit()  # a wrong try on an e-mailed code counts
            form.code.errors = [err.message]
            status = err.status
        else:
            db.session.commit()
            login_user(account)  # the other sessions of this account ended; this one goes on
            session[VERIFIED] = account.id
            return _recovery_codes_page(codes, first=True)
    elif form.is_submitted():
        status = 422
    context = {"form": form, "factor": factor}
    if factor.method == "totp":
        context |= {"qr": _qr_data_uri(rules.provisioning_uri(factor.secret, account.username)),
                    "key": rules.grouped_key(factor.secret)}
    else:
        context |= {"email_to": twofactor.email_recipients(account)}
    return render("twofactor/setup.html", **context), status


@bp.post("/two-factor/send-code")
@login_required
def send_code():
    form = EmailCodePurposeForm()
    if not form.validate_on_submit():
        abort(400)
    return _mail_code(lambda: twofactor.send_email_code(acting_account(), form.purpose.data),
                      sent=CODE_SENT, then="twofactor.index", refused_to="twofactor.index")


@bp.post("/two-factor/remove")
@login_required
def remove():
    form = TwoFactorCodeForm(prefix="remove")
    if not form.validate_on_submit():
        return _index_page(422, remove_form=form)
    try:
        twofactor.remove(acting_account(), form.code.data, ip=_ip())
    except (InvalidInput, TooManyAttempts) as err:
        db.session.commit()
        form.code.errors = [err.message]
        return _index_page(err.status, remove_form=form)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "warning")
        return redirect_to(url_for("twofactor.index"))
    db.session.commit()
    session.pop(VERIFIED, None)
    flash("已解除雙因子驗證，請一併移除驗證應用程式中的此帳號", "success")
    return redirect_to(url_for("twofactor.index"))


@bp.post("/two-factor/recovery-codes")
@login_required
def regenerate_recovery_codes():
    form = TwoFactorCodeForm(prefix="recovery")
    if not form.validate_on_submit():
        return _index_page(422, recovery_form=form)
    try:
        codes = twofactor.regenerate_recovery_codes(acting_account(), form.code.data, ip=_ip())
    except (InvalidInput, TooManyAttempts) as err:
        db.session.commit()
        form.code.errors = [err.message]
        return _index_page(err.status, recovery_form=form)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "warning")
        return redirect_to(url_for("twofactor.index"))
    db.session.commit()
    return _recovery_codes_page(codes, first=False)


# Required by the operator: set it up before anything else -----------------------------------

@bp.before_app_request
def enrol_when_required():  # noqa: ANN201
    # The API first: it reads no session and takes bearer tokens only (no proxy lookup of
    # the user on its hot path).
    if (request.path.startswith("/api/") or not current_user.is_authenticated
            or request.endpoint in ENROL_ENDPOINTS):
        return None
    user = current_user._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    if session.get(VERIFIED) == user.id or not twofactor.required_for(readable_account(user)):
        return None  # no query on the usual request: the store came with the account
    if twofactor.enabled_factor(acting_account()) is not None:
        session[VERIFIED] = current_user.id
        return None
    if request.headers.get("HX-Request") == "true":
        response = Response(MUST_ENROL, 403, content_type="text/plain; charset=utf-8")
        response.headers["HX-Redirect"] = url_for("twofactor.index")
        return response
    flash(MUST_ENROL, "warning")
    return redirect(url_for("twofactor.index"))
