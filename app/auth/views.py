"""Login, logout and the store switcher (切換子商店代號)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest

from app import clock
from app.auth import devices, services, twofactor_views
from app.auth.access import mode_of
from app.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SwitchStoreForm
from app.auth.login_session import begin_session, complete_login
from app.auth.permissions import Function, Level
from app.db import db
from app.errors import InvalidInput
from app.extensions import login_manager
from app.ratelimit import TooManyAttempts

bp = Blueprint("auth", __name__)

SESSION_EXPIRED = "請先登入"


# An HTMX request without a session -----------------------------------------------------------
# A page's HTMX request (a counter lookup, a list's filter) cannot follow a redirect to the login
# page: it would swap the login form into the page. It is answered 401 with HX-Redirect to the
# login page, whose `next` is the page the user was on (HX-Current-URL), so after logging in they
# are back there. app.js sends any 401 to the same place. A session that is gone entirely (the
# cookie expired) fails the CSRF check first; without a login that is the same expiry.

def _page_path() -> str:
    """The path (and query) of the page that sent this HTMX request, else of the request."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path and (not current.netloc or current.netloc == request.host):
        return current.path + (f"?{current.query}" if current.query else "")
    return request.full_path.rstrip("?")


def _login_again() -> Response:
    response = Response(SESSION_EXPIRED, 401, content_type="text/plain; charset=utf-8")
    response.headers["HX-Redirect"] = url_for("auth.login", next=_page_path())
    return response


@login_manager.unauthorized_handler
def unauthorized():  # noqa: ANN201
    if request.headers.get("HX-Request") == "true":
        return _login_again()
    flash(SESSION_EXPIRED, "warning")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@bp.app_errorhandler(CSRFError)
def csrf_failed(err: CSRFError):  # noqa: ANN201
    if request.headers.get("HX-Request") == "true" and not current_user.is_authenticated:
        return _login_again()
    return current_app.handle_http_exception(BadRequest(err.description))


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home_for(account) -> str:  # noqa: ANN001
    """Where an account lands after login: the operator's overview; a clerk (a sub-account bound
    to a branch, with the right to redeem there) the counter; anyone else the home page."""
    if account.is_operator:
        return url_for("operator.overview")
    if (account.branch_id is not None and not account.is_main
            and account.may(Function.REDEEM, Level.MODIFY, mode=mode_of(account.store))):
        return url_for("counter.redeem")
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        device = devices.read(request)
        result = services.authenticate(
            form.username.data, form.password.data,
            ip=request.remote_addr or "", user_agent=request.headers.get("User-Agent", ""),
            device=device,
        )
        db.session.commit()  # the login history is kept whatever the outcome
        if result.account is not None:
            target = _safe_next(form.next.data) or _home_for(result.account)
            if twofactor_views.second_step_needed(result.account):  # 雙因子驗證: not yet logged in
                return twofactor_views.begin_second_step(result.account, target)
            response = complete_login(result.account, target, device=device,
                                      ip=request.remote_addr or "",
                                      user_agent=request.headers.get("User-Agent", ""))
            db.session.commit()  # the new-device notice, if any
            return response
        flash(result.message, "danger")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # this browser's session ends on the server (a copied cookie stops working too); the
        # account's other browsers stay signed in
        services.end_session(current_user._get_current_object(),  # type: ignore[attr-defined]
                             session.get(services.SESSION_ID, ""),
                             now=int(clock.now().timestamp()),
                             keep_seconds=current_app.config["SESSION_MAX_HOURS"] * 3600)
        db.session.commit()
    logout_user()
    session.clear()
    flash("您已登出", "info")
    return redirect(url_for("auth.login"))


@bp.route("/switch-store", methods=["POST"])
@login_required
def switch_store():
    form = SwitchStoreForm()
    if not form.validate_on_submit():
        abort(400)
    allowed = {s.id: s for s in services.switchable_stores(current_user)}
    try:
        store_id = int(form.store_id.data)
    except ValueError:
        abort(404)
    if store_id not in allowed:
        abort(404)
    # a new session for the new store (the old cookie's content is not carried over)
    begin_session(current_user._get_current_object(),  # type: ignore[attr-defined]
                  started=session.get(services.STARTED), store_id=store_id)
    flash(f"已切換為 {allowed[store_id].label}", "success")
    return redirect(url_for("home.index"))


# 忘記密碼 ---------------------------------------------------------------------------------

RESET_REQUESTED = ("若此帳號存在，重設密碼連結已寄至該商店的技術及帳務聯絡人電子信箱，"
                   "連結 30 分鐘內有效且僅能使用一次。")


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            services.request_password_reset(form.username.data, ip=request.remote_addr or "")
        except TooManyAttempts as err:
            db.session.rollback()
            flash(err.message, "danger")
            return render_template("auth/forgot_password.html", form=form), 429
        db.session.commit()  # the mail leaves after the commit
        flash(RESET_REQUESTED, "info")  # the same answer whether the account exists or not
        return redirect(url_for("auth.forgot_password"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    live = services.live_reset_token(token)
    status = 200
    if live is None:
        status = 410
    elif form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data)
        except InvalidInput as err:
            db.session.rollback()
            form.new_password.errors = [*form.new_password.errors,
                                        *err.fields.values()] or [err.message]
            status = 422
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash("密碼已重設，請以新密碼登入", "success")
            return redirect(url_for("auth.login"))
    elif form.is_submitted():
        status = 422
    response = make_response(render_template(
        "auth/reset_password.html", form=form, live=live,
        invalid_message=services.RESET_LINK_INVALID,
        password_rule=services.password_rule(live.account) if live else ""), status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's address
    return response
