"""Whose data a report shows (docs/reports.md): the acting store, or one of the children a parent
store may read (read-only), and, for a sub-account bound to a branch, only that branch; the
branch is forced on the server whatever the query string says.

The same scope is built inside a request and inside an export job (from the ids the job was
given), so a background export sees exactly what the page showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import g
from sqlalchemy import ColumnElement, select

from app.auth.access import acting_account
from app.auth.models import Account
from app.auth.services import scope_for
from app.bounds import INT_MAX, whole_number
from app.db import db
from app.errors import InvalidInput
from app.issuance.models import Batch
from app.stores.models import Branch, Store
from app.tenancy import StoreScope, current_scope, set_scope
from app.tickets.models import Ticket

UNKNOWN_STORE = "查無此商店"
UNKNOWN_BRANCH = "查無此分店"


@dataclass(frozen=True)
class ReportScope:
    acting_store_id: int
    store_ids: tuple[int, ...]  # the stores whose rows the report shows
    choices: tuple[tuple[int, str], ...]  # (store id, name) a parent may pick from; empty otherwise
    branch_id: int | None  # show only this branch's rows (None: the whole store)
    branch_locked: bool  # a bound sub-account: its own branch, and no other
    account_id: int

    @property
    def read_only(self) -> bool:
        """A parent looking at a child's data may not act on it from the report."""
        return self.store_ids != (self.acting_store_id,)

    def branches(self) -> list[Branch]:
        """The branches a branch picker offers (only the bound one for a bound sub-account)."""
        stmt = select(Branch).where(Branch.store_id.in_(self.store_ids))
        if self.branch_locked:
            stmt = stmt.where(Branch.id == self.branch_id)
        return list(db.session.scalars(stmt.order_by(Branch.store_id, Branch.code)
                                       .execution_options(unscoped=True)))


def issued_by_branch(scope: ReportScope, branch_id: int) -> ColumnElement[bool]:
    """Tickets the branch issued: those of batches created by an account bound to it
    (`Batch.created_branch_id`). The one rule every report counts a branch's issuance by."""
    return Ticket.batch_id.in_(select(Batch.id).where(Batch.store_id.in_(scope.store_ids),
                                                      Batch.created_branch_id == branch_id))


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    number = whole_number(text, -INT_MAX, INT_MAX)
    return -1 if number is None else number  # -1: never an id, reported as unknown


def build(account: Account, acting: Store, readable: frozenset[int],
          params: Mapping[str, object]) -> ReportScope:
    """The scope of a report query. `params` may hold `store` (a parent picks a child or its
    own store; empty = all it may read) and `branch`."""
    readable_ids = (acting.id, *sorted(readable))
    names = dict(db.session.execute(
        select(Store.id, Store.name).where(Store.id.in_(readable_ids)).execution_options(unscoped=True)
    ).all())
    picked = _int(params.get("store"))
    if picked is None:
        store_ids: tuple[int, ...] = readable_ids
    elif picked in readable_ids:
        store_ids = (picked,)
    else:
        raise InvalidInput(UNKNOWN_STORE, fields={"store": UNKNOWN_STORE})
    choices = tuple((i, names.get(i, "")) for i in readable_ids) if readable else ()
    if account.branch_id is not None and acting.id == account.store_id:
        return ReportScope(acting.id, (acting.id,), (), account.branch_id, True, account.id)
    branch_id = _int(params.get("branch"))
    if branch_id is not None:
        owner = db.session.scalar(select(Branch.store_id).where(Branch.id == branch_id)
                                  .execution_options(unscoped=True))
        if owner is None or owner not in store_ids:
            raise InvalidInput(UNKNOWN_BRANCH, fields={"branch": UNKNOWN_BRANCH})
    return ReportScope(acting.id, store_ids, choices, branch_id, False, account.id)


def for_request(params: Mapping[str, object]) -> ReportScope:
    """The scope of the current merchant request."""
    scope = current_scope()
    assert scope is not None and g.store is not None
    return build(acting_account(), g.store, scope.readable_store_ids, params)


def for_job(account_id: int, store_id: int, params: Mapping[str, object]) -> ReportScope:
    """The scope an export job runs under: the same stores the page showed, with the tenancy
    filter of the request re-established (jobs have no request)."""
    account = db.session.get(Account, account_id)
    if account is None or account.store is None:
        raise InvalidInput(UNKNOWN_STORE)
    acting, tenancy = scope_for(account, store_id)
    if acting.id != store_id:
        raise InvalidInput(UNKNOWN_STORE)
    set_scope(tenancy)
    return build(account, acting, tenancy.readable_store_ids, params)


__all__ = ["ReportScope", "build", "for_request", "for_job", "StoreScope"]
