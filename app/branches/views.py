"""7-1 票券分店與綁定子帳號: branches (票券分店管理) and binding sub-accounts (綁定子帳號)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, request, url_for
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from app import history
from app.auth.access import acting_account as _actor
from app.auth.access import requires
from app.auth.models import Account, AccountKind
from app.auth.permissions import Function, Level
from app.bounds import INT_MAX, whole_number
from app.branches import queries, rules, services
from app.branches.forms import (
    BranchChoiceForm,
    EditBranchForm,
    NewBranchForm,
    StatusForm,
    UnbindForm,
)
from app.columns import Column, xlsx_response
from app.db import db
from app.errors import DomainError, NotFound
from app.htmx import redirect_to, render
from app.pagination import paginate
from app.stores.models import Branch
from app.tenancy import get_owned_or_404
from app.web import committed, form_status, saved

bp = Blueprint("branches", __name__, url_prefix="/settings/branches")

VIEW = requires(Function.OPERATION_SETTINGS)
MODIFY = requires(Function.OPERATION_SETTINGS, Level.MODIFY)

BINDING_COLUMNS = (  # 綁定子帳號 and its Excel: rows of bound sub-accounts
    Column("username", "子帳號", lambda a: a.username),
    Column("remark", "備註", lambda a: a.remark),
    Column("branch_code", "分店編號", lambda a: a.branch.code),
    Column("branch_name", "分店名稱", lambda a: a.branch.name),
    Column("branch_status", "分店狀態", lambda a: a.branch.status_label),
)


def branch_columns(counts: dict[int, int]) -> tuple[Column, ...]:
    """票券分店管理 and its Excel (rows: branches); `counts`: bound sub-accounts by branch."""
    return (
        Column("code", "分店編號", lambda b: b.code),
        Column("name", "分店名稱", lambda b: b.name),
        Column("status", "分店狀態", lambda b: b.status_label),
        Column("bound", "綁定子帳號數", lambda b: counts.get(b.id, 0), "number"),
        Column("created_at", "建立時間", lambda b: b.created_at, "datetime"),
    )
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
    ids = [whole_number(v, 1, INT_MAX) for v in values]
    if None in ids:
        raise NotFound(services.ACCOUNT_NOT_FOUND)
    return [i for i in ids if i is not None]


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
        return xlsx_response(f"票券分店_{g.store.merchant_code}.xlsx",
                             branch_columns(queries.bound_counts(g.store.id)),
                             db.session.scalars(stmt), sheet_title="票券分店")
    page = paginate(stmt, per_page=current_app.config["PAGE_SIZE"])
    counts = queries.bound_counts(g.store.id, [b.id for b in page.items])
    return render("branches/index.html", page=page, columns=branch_columns(counts), q=q,
                  status=status,
                  statuses=STATUS_FILTERS, status_form=StatusForm(),
                  disable_warning=rules.DISABLE_WARNING)


@bp.route("/new", methods=["GET", "POST"])
@MODIFY
def new():
    form = NewBranchForm()

    def create() -> Branch:
        try:
            return services.create_branch(_actor(), g.store, code=form.code.data,
                                          name=form.name.data, enabled=form.enabled)
        except IntegrityError:  # the same code taken by a concurrent request
            raise DomainError(rules.DUPLICATE_CODE, fields={"code": rules.DUPLICATE_CODE}) from None

    if done := saved(form, create, done=lambda branch: f"已新增分店 {branch.label}",
                     to=url_for("branches.index"), refusal_on_form=True):
        return done
    return render("branches/form.html", form=form, branch=None, rules=rules), form_status(form)


@bp.route("/<int:branch_id>/edit", methods=["GET", "POST"])
@MODIFY
def edit(branch_id: int):
    branch = _branch_or_404(branch_id)
    if request.method == "GET":
        form = EditBranchForm(data={"name": branch.name,
                                    "status": rules.ENABLED if branch.enabled else rules.DISABLED})
    else:
        form = EditBranchForm()
    if done := saved(form, lambda: services.update_branch(_actor(), branch, name=form.name.data,
                                                          enabled=form.enabled),
                     done=lambda changed: (f"已更新分店 {branch.label}", "success") if changed
                     else ("分店資料未變更", "info"),
                     to=url_for("branches.index"), refusal_on_form=True):
        return done
    return render("branches/form.html", form=form, branch=branch, rules=rules,
                  entries=history.entries_for(branch)), form_status(form)


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
    branch_id = whole_number(raw, 1, INT_MAX)
    return branch_id, request.args.get("q", "").strip()[:40]


@bp.get("/bindings")
@VIEW
def bindings():
    branch_id, q = _binding_filters()
    stmt = queries.bindings(g.store.id, branch_id=branch_id, q=q)
    if request.args.get("format") == "xlsx":
        return xlsx_response(f"綁定子帳號_{g.store.merchant_code}.xlsx", BINDING_COLUMNS,
                             db.session.scalars(stmt), sheet_title="綁定子帳號")
    page = paginate(stmt, per_page=current_app.config["PAGE_SIZE"])
    return render("branches/bindings.html", page=page, columns=BINDING_COLUMNS,
                  branch_id=branch_id, q=q,
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
            with committed(form) as outcome:
                bound = services.bind(_actor(), g.store, branch, chosen)
            if outcome.saved:
                flash(f"已將 {len(bound)} 個子帳號綁定至分店 {branch.label}", "success")
                return redirect_to(url_for("branches.bindings"))
            outcome.error_on_form()
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
            with committed(form) as outcome:
                moved = services.rebind(_actor(), account, branch)
            if outcome.saved:
                flash(f"已將子帳號 {account.username} 重設至分店 {branch.label}" if moved
                      else "分店未變更", "success" if moved else "info")
                return redirect_to(url_for("branches.bindings"))
            outcome.error_on_form()
        status = 422
    return render("branches/rebind.html", form=form, account=account,
                  entries=_binding_entries(account)), status


@bp.post("/bindings/unbind")
@MODIFY
def unbind():
    if not UnbindForm().validate_on_submit():
        abort(400)
    ids = _account_ids()
    with committed() as outcome:
        done = services.unbind(_actor(), g.store, ids)
    if outcome.saved:
        flash(f"已解除 {len(done)} 個子帳號的分店綁定", "success")
    outcome.flash_error()
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
