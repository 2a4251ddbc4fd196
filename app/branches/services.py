"""Use cases of 7-1 票券分店與綁定子帳號: branches, and binding sub-accounts to them.

They take the acting account and the acting store (or rows already loaded through it), load
every other row of that store only, write history in the same transaction, flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from app import history
from app.auth import access
from app.auth.models import Account, AccountKind
from app.auth.permissions import Function
from app.branches import rules
from app.db import db
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.stores.models import Branch, Store

NO_RIGHT = "您沒有操作設定管理的修改權限"
BRANCH_NOT_FOUND = "找不到此分店"
ACCOUNT_NOT_FOUND = "找不到指定的子帳號"
NOTHING_CHOSEN_BIND = "請選擇欲綁定的子帳號"
NOTHING_CHOSEN_UNBIND = "請勾選欲解除綁定的子帳號"


# Guards ----------------------------------------------------------------------------------

def _require_modify(actor: Account, store: Store) -> None:
    """The actor belongs to the store (or is its parent's main account, switched into it) and
    holds 操作設定管理 at 修改."""
    own = actor.store_id == store.id
    parent_main = actor.is_main and store.parent_id is not None and store.parent_id == actor.store_id
    if not (own or parent_main):
        raise Forbidden(NO_RIGHT)
    access.check(actor, store, Function.OPERATION_SETTINGS, no_right=NO_RIGHT)


def _store_of(branch: Branch) -> Store:
    store = db.session.get(Store, branch.store_id)
    if store is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound(BRANCH_NOT_FOUND)
    return store


def _own_branch(store: Store, branch: Branch) -> None:
    if branch.store_id != store.id:
        raise NotFound(BRANCH_NOT_FOUND)


def _sub_accounts(store: Store, account_ids: Iterable[int]) -> list[Account]:
    """The store's accounts with these ids, each a live sub-account, or a clear refusal."""
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        return []
    found = {a.id: a for a in db.session.scalars(
        select(Account).where(Account.id.in_(ids), Account.store_id == store.id)
        .order_by(Account.id).with_for_update()
    )}
    if len(found) != len(ids):
        raise NotFound(ACCOUNT_NOT_FOUND)
    accounts = [found[i] for i in ids]
    for account in accounts:
        _require_live_sub(account)
    return accounts


def _require_live_sub(account: Account) -> None:
    if account.kind is not AccountKind.SUB:
        raise DomainError(f"僅可綁定子帳號，{account.username} 不是子帳號")
    if account.deleted_at is not None:
        raise DomainError(f"子帳號 {account.username} 已刪除，無法變更綁定")


# Branches --------------------------------------------------------------------------------

def branches_of(store: Store, enabled_only: bool = False) -> list[Branch]:
    """The store's branches by code (for the product form's redeem / return lists)."""
    stmt = select(Branch).where(Branch.store_id == store.id)
    if enabled_only:
        stmt = stmt.where(Branch.enabled.is_(True))
    return list(db.session.scalars(stmt.order_by(Branch.code, Branch.id)))


def _snapshot(branch: Branch) -> dict[str, str]:
    return {"name": branch.name, "status": rules.status_label(branch.enabled)}


def _check_name(name: str) -> str:
    name = name.strip()
    if problem := rules.name_problem(name):
        raise InvalidInput(problem, fields={"name": problem})
    return name


def create_branch(actor: Account, store: Store, *, code: str, name: str,
                  enabled: bool = True) -> Branch:
    _require_modify(actor, store)
    code = code.strip()
    fields = {}
    if problem := rules.code_problem(code):
        fields["code"] = problem
    if problem := rules.name_problem(name.strip()):
        fields["name"] = problem
    if "code" not in fields and db.session.scalar(
        select(Branch.id).where(Branch.store_id == store.id,
                                func.lower(Branch.code) == code.lower())
    ):
        fields["code"] = rules.DUPLICATE_CODE
    if fields:
        raise InvalidInput(next(iter(fields.values())), fields=fields)
    branch = Branch(store_id=store.id, code=code, name=name.strip(), enabled=enabled)
    db.session.add(branch)
    db.session.flush()
    history.record(branch, "created", changes={"code": [None, code], "name": [None, branch.name],
                                               "status": [None, rules.status_label(enabled)]})
    return branch


def update_branch(actor: Account, branch: Branch, *, name: str, enabled: bool) -> bool:
    """Change a branch's name and status (its code never changes). True if anything changed."""
    _require_modify(actor, _store_of(branch))
    name = _check_name(name)
    before = _snapshot(branch)
    branch.name, branch.enabled = name, enabled
    changes = history.diff(before, _snapshot(branch))
    if not changes:
        return False
    db.session.flush()
    history.record(branch, "updated", changes=changes)
    return True


def set_enabled(actor: Account, branch: Branch, enabled: bool) -> bool:
    """Enable or disable a branch (啟用／停用); True if its status changed."""
    return update_branch(actor, branch, name=branch.name, enabled=enabled)


# Binding ---------------------------------------------------------------------------------

def bind(actor: Account, store: Store, branch: Branch, account_ids: Iterable[int]) -> list[Account]:
    """Bind unbound sub-accounts of the store to one of its branches (enabled or not)."""
    _require_modify(actor, store)
    _own_branch(store, branch)
    accounts = _sub_accounts(store, account_ids)
    if not accounts:
        raise InvalidInput(NOTHING_CHOSEN_BIND, fields={"account_ids": NOTHING_CHOSEN_BIND})
    for account in accounts:
        if account.branch is not None:
            raise DomainError(f"子帳號 {account.username} 已綁定分店 {account.branch.label}，"
                              "請使用【重設分店】")
    for account in accounts:
        account.branch = branch
        history.record(account, "branch_bound", changes={"branch": [None, branch.label]})
        history.record(branch, "sub_account_bound",
                       changes={"sub_account": [None, account.username]})
    db.session.flush()
    return accounts


def rebind(actor: Account, account: Account, branch: Branch) -> bool:
    """Move a bound sub-account to another branch of its store (重設分店). True if it moved."""
    store = account.store
    if store is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    _require_modify(actor, store)
    _own_branch(store, branch)
    _require_live_sub(account)
    old = account.branch
    if old is None:
        raise DomainError(f"子帳號 {account.username} 尚未綁定分店，請使用【綁定子帳號】")
    if old.id == branch.id:
        return False
    account.branch = branch
    history.record(account, "branch_rebound", changes={"branch": [old.label, branch.label]})
    history.record(old, "sub_account_unbound", changes={"sub_account": [account.username, None]})
    history.record(branch, "sub_account_bound", changes={"sub_account": [None, account.username]})
    db.session.flush()
    return True


def unbind(actor: Account, store: Store, account_ids: Iterable[int]) -> list[Account]:
    """Bulk unbind (整批解除綁定): the chosen sub-accounts act as head office again.

    Accounts already unbound (e.g. by another manager meanwhile) are left as they are; the
    accounts actually unbound are returned.
    """
    _require_modify(actor, store)
    accounts = _sub_accounts(store, account_ids)
    if not accounts:
        raise InvalidInput(NOTHING_CHOSEN_UNBIND, fields={"account_ids": NOTHING_CHOSEN_UNBIND})
    done = []
    for account in accounts:
        old = account.branch
        if old is None:
            continue
        account.branch = None
        history.record(account, "branch_unbound", changes={"branch": [old.label, None]})
        history.record(old, "sub_account_unbound",
                       changes={"sub_account": [account.username, None]})
        done.append(account)
    db.session.flush()
    return done
