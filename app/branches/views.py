"""7-1 票券分店與綁定子帳號: branches (票券分店管理) and binding sub-accounts (綁定子帳號)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, request, url_for
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from app import history, spreadsheets
from app.accounts.forms import show_errors
from app.auth.access import acting_account as _actor
from app.auth.access import requires
from app.auth.models import Account, AccountKind
from app.auth.permissions import Function, Level
from app.branches import queries, rules, services
from app.branches.forms import (
    BranchChoiceForm,
    EditBranchForm,
    NewBranchForm,
    StatusForm,
    UnbindForm,
)
from app.db import db
from app.errors import DomainError, NotFound
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.stores.models import Branch
from app.tenancy import get_owned_or_404

bp = Blueprint("branches", __name__, url_prefix="/settings/branches")

VIEW = requires(Function.OPERATION_SETTINGS)
MODIFY = requires(Function.OPERATION_SETTINGS, Level.MODIFY)

BRANCH_HEADERS = ["分店編號", "分店名稱", "分店狀態", "綁定子帳號數", "建立時間"]
BINDING_HEADERS = ["子帳號", "備註", "分店編號", "分店名稱", "分店狀態"]
STATUS_FILTERS = {"": "全部", rules.ENABLED: "啟用", rules.DISABLED: "停用"}
BINDING_ACTIONS = ("branch_bound", "branch_rebound", "branch_unbound")




def _branch_or_404(branch_id: int) -> Branch:
    return get_owned_or_404(Branch, branch_id)


def _sub_account_or_404(account_id: int) -> Account:
    """A live sub-account of the acting store."""
    account = get_owned_or_404(Account, account_id)
    if account.kind is not AccountKind.SUB or account.deleted_at is not None:
        abort(404)
    return account


def _account_ids() -> list[int]:
    """The ticked sub-accounts; a value that is no id cannot name one of ours (→ 404)."""
    values = request.form.getlist("account_ids")
    if not all(v.strip().isdigit() for v in values):
        raise NotFound(services.ACCOUNT_NOT_FOUND)
    return [int(v) for v in values]


def _branch_choices(form: BranchChoiceForm) -> list[Branch]:
    branches = services.branches_of(g.store)
    choices = [SelectChoice(b.id, b.label + ("" if b.enabled else "（停用）")) for b in branches]
    form.branch_id.choices = [SelectChoice("", "請選擇分店"), *choices]
    return branches


# 票券分店管理 ------------------------------------------------------------------------------

@bp.get("/")
@VIEW
def index():
    args = request.args
    q = args.get("q", "").strip()[:50]
    status = args.get("status", "") if args.get("status", "") in STATUS_FILTERS else ""
    enabled = None if not status else status == rules.ENABLED
    stmt = queries.branches(g.store.id, q=q, enabled=enabled)
    if args.get("format") == "xlsx":
        branches = db.session.scalars(stmt).all()
        counts = queries.bound_counts(g.store.id)
        rows = ((b.code, b.name, b.status_label, counts.get(b.id, 0), b.created_at)
                for b in branches)
        return spreadsheets.xlsx_response(f"票券分店_{g.store.merchant_code}.xlsx",
                                          BRANCH_HEADERS, rows, sheet_title="票券分店")
    page = paginate(stmt, per_page=current_app.config["PAGE_SIZE"])
    counts = queries.bound_counts(g.store.id, [b.id for b in page.items])
    return render("branches/index.html", page=page, counts=counts, q=q, status=status,
                  statuses=STATUS_FILTERS, status_form=StatusForm(),
                  disable_warning=rules.DISABLE_WARNING)


@bp.route("/new", methods=["GET", "POST"])
@MODIFY
def new():
    form = NewBranchForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                branch = services.create_branch(_actor(), g.store, code=form.code.data,
                                                name=form.name.data, enabled=form.enabled)
                db.session.commit()
            except DomainError as err:
                db.session.rollback()
                show_errors(form, err)
            except IntegrityError:  # the same code taken by a concurrent request
                db.session.rollback()
                show_errors(form, DomainError(rules.DUPLICATE_CODE,
                                              fields={"code": rules.DUPLICATE_CODE}))
            else:
                flash(f"已新增分店 {branch.label}", "success")
                return redirect_to(url_for("branches.index"))
        status = 422
    return render("branches/form.html", form=form, branch=None, rules=rules), status


@bp.route("/<int:branch_id>/edit", methods=["GET", "POST"])
@MODIFY
def edit(branch_id: int):
    branch = _branch_or_404(branch_id)
    if request.method == "GET":
        form = EditBranchForm(data={"name": branch.name,
                                    "status": rules.ENABLED if branch.enabled else rules.DISABLED})
    else:
        form = EditBranchForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                changed = services.update_branch(_actor(), branch, name=form.name.data,
                                                 enabled=form.enabled)
                db.session.commit()
            except DomainError as err:
                db.session.rollback()
                show_errors(form, err)
            else:
                flash(f"已更新分店 {branch.label}" if changed else "分店資料未變更",
                      "success" if changed else "info")
                return redirect_to(url_for("branches.index"))
        status = 422
    return render("branches/form.html", form=form, branch=branch, rules=rules,
                  entries=history.entries_for(branch)), status


@bp.post("/<int:branch_id>/status")
@MODIFY
def set_status(branch_id: int):
    branch = _branch_or_404(branch_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    changed = services.set_enabled(_actor(), branch, form.enabled)
    db.session.commit()
    if changed:
        flash(f"已{branch.status_label}分店 {branch.label}", "success")
    else:
        flash(f"分店 {branch.label} 狀態未變更", "info")
    return redirect_to(url_for("branches.index"))


@bp.get("/<int:branch_id>/history")
@VIEW
def branch_history(branch_id: int):
    branch = _branch_or_404(branch_id)
    return render("branches/history.html", branch=branch, entries=history.entries_for(branch),
                  bound=queries.bound_counts(g.store.id, [branch.id]).get(branch.id, 0))


# 綁定子帳號 --------------------------------------------------------------------------------

def _binding_filters() -> tuple[int | None, str]:
    raw = request.args.get("branch_id", "").strip()
    branch_id = int(raw) if raw.isdigit() else None
    return branch_id, request.args.get("q", "").strip()[:40]


@bp.get("/bindings")
@VIEW
def bindings():
    branch_id, q = _binding_filters()
    stmt = queries.bindings(g.store.id, branch_id=branch_id, q=q)
    if request.args.get("format") == "xlsx":
        rows = ((a.username, a.remark, a.branch.code, a.branch.name, a.branch.status_label)
                for a in db.session.scalars(stmt))
        return spreadsheets.xlsx_response(f"綁定子帳號_{g.store.merchant_code}.xlsx",
                                          BINDING_HEADERS, rows, sheet_title="綁定子帳號")
    page = paginate(stmt, per_page=current_app.config["PAGE_SIZE"])
    return render("branches/bindings.html", page=page, branch_id=branch_id, q=q,
                  branches=services.branches_of(g.store), unbind_form=UnbindForm())


@bp.route("/bindings/new", methods=["GET", "POST"])
@MODIFY
def bind():
    form = BranchChoiceForm()
    _branch_choices(form)
    chosen = set()
    status = 200
    if form.is_submitted():
        chosen = set(_account_ids())
        if form.validate():
            branch = _branch_or_404(form.branch_id.data)
            try:
                bound = services.bind(_actor(), g.store, branch, chosen)
                db.session.commit()
            except NotFound:
                db.session.rollback()
                raise
            except DomainError as err:
                db.session.rollback()
                show_errors(form, err)
            else:
                flash(f"已將 {len(bound)} 個子帳號綁定至分店 {branch.label}", "success")
                return redirect_to(url_for("branches.bindings"))
        status = 422
    unbound = db.session.scalars(queries.unbound_sub_accounts(g.store.id)).all()
    return render("branches/bind.html", form=form, unbound=unbound, chosen=chosen), status


@bp.route("/bindings/<int:account_id>/rebind", methods=["GET", "POST"])
@MODIFY
def rebind(account_id: int):
    account = _sub_account_or_404(account_id)
    form = BranchChoiceForm(data={"branch_id": account.branch_id or 0})
    _branch_choices(form)
    status = 200
    if form.is_submitted():
        if form.validate():
            branch = _branch_or_404(form.branch_id.data)
            try:
                moved = services.rebind(_actor(), account, branch)
                db.session.commit()
            except NotFound:
                db.session.rollback()
                raise
            except DomainError as err:
                db.session.rollback()
                show_errors(form, err)
            else:
                flash(f"已將子帳號 {account.username} 重設至分店 {branch.label}" if moved
                      else "分店未變更", "success" if moved else "info")
                return redirect_to(url_for("branches.bindings"))
        status = 422
    return render("branches/rebind.html", form=form, account=account,
                  entries=_binding_entries(account)), status


@bp.post("/bindings/unbind")
@MODIFY
def unbind():
    if not UnbindForm().validate_on_submit():
        abort(400)
    ids = _account_ids()
    try:
        done = services.unbind(_actor(), g.store, ids)
        db.session.commit()
    except NotFound:
        db.session.rollback()
        raise
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect_to(url_for("branches.bindings"))
    flash(f"已解除 {len(done)} 個子帳號的分店綁定", "success")
    return redirect_to(url_for("branches.bindings"))


def _binding_entries(account: Account) -> list:
    return [e for e in history.entries_for(account) if e.action in BINDING_ACTIONS]


@bp.get("/bindings/<int:account_id>/history")
@VIEW
def binding_history(account_id: int):
    account = get_owned_or_404(Account, account_id)
    if account.kind is not AccountKind.SUB:
        abort(404)
    return render("branches/binding_history.html", account=account,
                  entries=_binding_entries(account))
