"""select() builders for the branch and binding pages."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager

from app.auth.models import Account, AccountKind
from app.db import db
from app.stores.models import Branch


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def branches(store_id: int, *, q: str = "", enabled: bool | None = None) -> Select:
    """A store's branches by code, optionally filtered by code/name and status."""
    stmt = select(Branch).where(Branch.store_id == store_id)
    if q:
        stmt = stmt.where(or_(Branch.code.ilike(_like(q), escape="\\"),
                              Branch.name.ilike(_like(q), escape="\\")))
    if enabled is not None:
        stmt = stmt.where(Branch.enabled.is_(enabled))
    return stmt.order_by(Branch.code, Branch.id)


def _live_subs(store_id: int):  # noqa: ANN202
    return (Account.store_id == store_id, Account.kind == AccountKind.SUB,
            Account.deleted_at.is_(None))


def bound_counts(store_id: int, branch_ids: Iterable[int] | None = None) -> dict[int, int]:
    """How many live sub-accounts each branch has bound, in one grouped query."""
    stmt = (select(Account.branch_id, func.count(Account.id))
            .where(*_live_subs(store_id), Account.branch_id.is_not(None))
            .group_by(Account.branch_id))
    if branch_ids is not None:
        ids = list(branch_ids)
        if not ids:
            return {}
        stmt = stmt.where(Account.branch_id.in_(ids))
    return {branch_id: count for branch_id, count in db.session.execute(stmt)}


def bindings(store_id: int, *, branch_id: int | None = None, q: str = "") -> Select:
    """Live sub-accounts bound to a branch, with their branch (by branch code, then username)."""
    stmt = (select(Account).join(Account.branch).options(contains_eager(Account.branch))
            .where(*_live_subs(store_id)))
    if branch_id is not None:
        stmt = stmt.where(Account.branch_id == branch_id)
    if q:
        stmt = stmt.where(or_(Account.username.ilike(_like(q), escape="\\"),
                              Account.remark.ilike(_like(q), escape="\\")))
    return stmt.order_by(Branch.code, Account.username)


def unbound_sub_accounts(store_id: int) -> Select:
    """Live sub-accounts of the store bound to no branch (they act as head office)."""
    return (select(Account).where(*_live_subs(store_id), Account.branch_id.is_(None))
            .order_by(Account.username))
