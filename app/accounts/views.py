"""四、後台帳號管理: sub-accounts (後台子帳號), own password (密碼設定); API tokens (API 金鑰)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, make_response, request, url_for
from flask_login import current_user, login_user
from sqlalchemy.exc import IntegrityError

from app import history
from app.accounts import queries
from app.accounts.forms import (
    ApiTokenForm,
    DeleteForm,
    GrantsForm,
    LoginIpsForm,
    NewSubAccountForm,
    OwnPasswordForm,
    RemarkForm,
    SubPasswordForm,
    grants_from,
)
from app.auth import rules, services, twofactor
from app.auth.access import acting_account as _actor
from app.auth.access import main_account_required, merchant_required, store_mode
from app.auth.models import Account, AccountKind, ApiToken
from app.auth.permissions import functions_for
from app.auth.twofactor_rules import IP_LIST_MAX, IP_LIST_RULE
from app.db import db
from app.errors import DomainError
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.tenancy import get_owned_or_404
from app.web import committed, form_status, saved

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

USERNAME_TAKEN = "此帳號已被使用"


def _sub_account_or_404(account_id: int, *, live: bool = True) -> Account:
    """A sub-account of the acting store (deleted ones only when `live` is False)."""
    account = get_owned_or_404(Account, account_id)
    if account.kind is not AccountKind.SUB or (live and account.deleted_at is not None):
        abort(404)
    return account




def _matrix_context(account: Account | None = None) -> dict:
    mode = store_mode()
    granted = {fn: account.grant_for(fn) for fn in functions_for(mode)} if account else {}
    return {"sections": queries.function_sections(mode), "granted": granted}


# 後台子帳號 -------------------------------------------------------------------------------

@bp.route("/sub-accounts")
@main_account_required
def list_sub_accounts():
    page = paginate(queries.sub_accounts(g.store.id),
                       per_page=current_app.config["PAGE_SIZE"])
    mode = store_mode()
    summaries = {a.id: queries.granted_summary(a, mode) for a in page.items}
    return render("accounts/sub_accounts.html", page=page, summaries=summaries)


@bp.route("/sub-accounts/deleted")
@main_account_required
def deleted_sub_accounts():
    page = paginate(queries.sub_accounts(g.store.id, deleted=True),
                       per_page=current_app.config["PAGE_SIZE"])
    return render("accounts/deleted_sub_accounts.html", page=page)


@bp.route("/sub-accounts/new", methods=["GET", "POST"])
@main_account_required
def new_sub_account():
    form = NewSubAccountForm()
    status = 200
    if form.is_submitted():
        grants = grants_from(request.form, functions_for(store_mode()))
        if form.validate():
            with committed(form) as outcome:
                try:
                    account = services.create_sub_account(
                        _actor(), g.store, username=form.username.data,
                        password=form.password.data, remark=form.remark.data or "", grants=grants)
                except IntegrityError:  # the same username taken by a concurrent request
                    raise DomainError(USERNAME_TAKEN, fields={"username": USERNAME_TAKEN}) from None
            if outcome.saved:
                flash(f"已新增子帳號 {account.username}", "success")
                return redirect_to(url_for("accounts.list_sub_accounts"))
            outcome.error_on_form()
        status = 422
        matrix = {"sections": queries.function_sections(store_mode()), "granted": grants}
    else:
        matrix = _matrix_context()
    return render("accounts/new_sub_account.html", form=form, rules=rules, **matrix), status


@bp.route("/sub-accounts/<int:account_id>/history")
@main_account_required
def sub_account_history(account_id: int):
    account = _sub_account_or_404(account_id, live=False)
    return render("accounts/sub_account_history.html", account=account,
                  entries=history.entries_for(account))


@bp.route("/sub-accounts/<int:account_id>/permissions", methods=["GET", "POST"])
@main_account_required
def edit_permissions(account_id: int):
    account = _sub_account_or_404(account_id)
    form = GrantsForm()
    if form.validate_on_submit():
        grants = grants_from(request.form, functions_for(store_mode()))
        services.set_grants(_actor(), account, grants)
        db.session.commit()
        flash(f"已更新 {account.username} 的權限", "success")
        return redirect_to(url_for("accounts.edit_permissions", account_id=account.id))
    return render("accounts/edit_permissions.html", account=account, form=form,
                  entries=history.entries_for(account), **_matrix_context(account))


def _account_form(template: str, account: Account, form):  # noqa: ANN001, ANN202
    """A sub-account's form again: its messages once posted (422), with the account's history."""
    return render(template, account=account, form=form, rules=rules,
                  entries=history.entries_for(account)), form_status(form)


@bp.route("/sub-accounts/<int:account_id>/password", methods=["GET", "POST"])
@main_account_required
def reset_password(account_id: int):
    account = _sub_account_or_404(account_id)
    form = SubPasswordForm()
    if done := saved(form, lambda: services.reset_sub_password(_actor(), account, form.password.data),
                     done=f"已變更 {account.username} 的密碼",
                     to=url_for("accounts.list_sub_accounts"), refusal_on_form=True):
        return done
    return _account_form("accounts/reset_password.html", account, form)


@bp.route("/sub-accounts/<int:account_id>/remark", methods=["GET", "POST"])
@main_account_required
def edit_remark(account_id: int):
    account = _sub_account_or_404(account_id)
    form = RemarkForm(obj=account) if request.method == "GET" else RemarkForm()
    if done := saved(form, lambda: services.set_remark(_actor(), account, form.remark.data or ""),
                     done=f"已更新 {account.username} 的備註",
                     to=url_for("accounts.list_sub_accounts"), refusal_on_form=True):
        return done
    return _account_form("accounts/edit_remark.html", account, form)


@bp.route("/sub-accounts/<int:account_id>/delete", methods=["POST"])
@main_account_required
def delete_sub_account(account_id: int):
    account = _sub_account_or_404(account_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    services.delete_sub_account(_actor(), account)
    db.session.commit()
    flash(f"已刪除子帳號 {account.username}", "success")
    return redirect_to(url_for("accounts.list_sub_accounts"))


# 密碼設定 --------------------------------------------------------------------------------

@bp.route("/password", methods=["GET", "POST"])
@merchant_required
def password():
    account = _actor()
    is_sub = account.kind is AccountKind.SUB
    rule_text = rules.SUB_PASSWORD_RULE if is_sub else rules.MAIN_PASSWORD_RULE
    form = OwnPasswordForm(password_rule=(rules.sub_password_problem if is_sub
                                          else rules.main_password_problem))
    status = 200
    if form.is_submitted():
        if form.validate():
            with committed(form) as outcome:
                services.change_own_password(account, form.current_password.data,
                                             form.new_password.data)
            if outcome.saved:
                # The service ended every session of this account; this browser carries on.
                login_user(account)
                flash("密碼已變更", "success")
                return redirect_to(url_for("accounts.password"))
            outcome.error_on_form()
        status = 422
    return render("accounts/password.html", form=form, rule_text=rule_text), status


# 登入後台 IP設定 --------------------------------------------------------------------------

@bp.get("/login-ips")
@main_account_required
def login_ips():
    accounts = db.session.scalars(queries.login_ip_accounts(g.store.id)).all()
    return render("accounts/login_ips.html", accounts=accounts, ip=request.remote_addr or "")


@bp.route("/login-ips/<int:account_id>", methods=["GET", "POST"])
@main_account_required
def edit_login_ips(account_id: int):
    account = get_owned_or_404(Account, account_id)
    if account.kind is AccountKind.OPERATOR or account.deleted_at is not None:
        abort(404)
    form = LoginIpsForm(obj=account) if request.method == "GET" else LoginIpsForm()
    if done := saved(form, lambda: twofactor.set_login_ips(
            _actor(), account, form.login_ips.data or "", current_ip=request.remote_addr or ""),
            done=lambda changed: (f"已更新 {account.username} 的登入 IP 設定" if changed
                                  else "登入 IP 設定未變更"),
            to=url_for("accounts.login_ips"), refusal_on_form=True):
        return done
    return render("accounts/edit_login_ips.html", account=account, form=form,
                  ip=request.remote_addr or "", rule=IP_LIST_RULE, limit=IP_LIST_MAX,
                  entries=[e for e in history.entries_for(account)
                           if e.action == "login_ips_changed"]), form_status(form)


# API 金鑰 --------------------------------------------------------------------------------

def _acts_for_own_store() -> bool:
    return g.store.id == current_user.store_id


@bp.route("/api-tokens")
@merchant_required
def api_tokens():
    return _render_tokens(ApiTokenForm())


def _render_tokens(form: ApiTokenForm, status: int = 200):  # noqa: ANN202
    own = db.session.scalars(queries.own_tokens(current_user.id)).all()
    store_tokens = None
    if current_user.is_main and _acts_for_own_store():
        store_tokens = db.session.scalars(queries.store_tokens(g.store.id)).all()
    return render("accounts/api_tokens.html", form=form, own=own,
                  store_tokens=store_tokens), status


@bp.route("/api-tokens", methods=["POST"])
@merchant_required
def create_api_token():
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _render_tokens(form, 422)
    token, plain = services.create_api_token(_actor(), form.name.data)
    db.session.commit()
    response = make_response(render("accounts/api_token_created.html", token=token,
                                    plain=plain))
    response.headers["Cache-Control"] = "no-store"  # the plain token is shown this once only
    return response


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"])
@merchant_required
def revoke_api_token(token_id: int):
    token = get_owned_or_404(ApiToken, token_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    services.revoke_api_token(_actor(), token)
    db.session.commit()
    flash(f"已撤銷 API 金鑰「{token.name}」", "success")
    return redirect_to(url_for("accounts.api_tokens"))
