"""select() builders for the account pages."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.auth.models import Account, AccountKind, ApiToken
from app.auth.permissions import Function, Level, functions_for


def sub_accounts(store_id: int, *, deleted: bool = False) -> Select:
    """A store's sub-accounts with grants and bound branch, live (newest first) or deleted
    (latest deletion first)."""
    stmt = (select(Account).options(selectinload(Account.grants), selectinload(Account.branch))
            .where(Account.store_id == store_id, Account.kind == AccountKind.SUB))
    if deleted:
        return stmt.where(Account.deleted_at.is_not(None)).order_by(
            Account.deleted_at.desc(), Account.id.desc())
    return stmt.where(Account.deleted_at.is_(None)).order_by(Account.created_at.desc(),
                                                             Account.id.desc())


def own_tokens(account_id: int) -> Select:
    """Tokens of one account; by owner id, so it holds while a parent store acts for a child."""
    return (select(ApiToken).where(ApiToken.account_id == account_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
            .execution_options(unscoped=True))


def store_tokens(store_id: int) -> Select:
    """Every token of a store, with its owner (for the main account)."""
    return (select(ApiToken).options(selectinload(ApiToken.account))
            .where(ApiToken.store_id == store_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


def granted_summary(account: Account, mode: str | None) -> list[tuple[Function, Level]]:
    """The functions of the store's mode this account holds, in menu order."""
    out = []
    for fn in functions_for(mode):
        level = account.grant_for(fn)
        if level is not None:
            out.append((fn, level))
    return out


def function_sections(mode: str | None) -> list[tuple[str, list[Function]]]:
    """The functions of a mode grouped by menu section, for the permission matrix."""
    sections: dict[str, list[Function]] = {}
    for fn in functions_for(mode):
        sections.setdefault(fn.info.section, []).append(fn)
    return list(sections.items())


def login_ip_accounts(store_id: int) -> Select:
    """The accounts whose login IPs the main account sets: itself first, then live sub-accounts."""
    return (select(Account).where(Account.store_id == store_id, Account.deleted_at.is_(None),
                                  Account.kind.in_((AccountKind.MAIN, AccountKind.SUB)))
            .order_by(Account.kind == AccountKind.SUB, Account.username))
