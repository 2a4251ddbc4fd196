"""The permission questions later features ask, answered from the database.

Each function loads the facts (the account's branch and its status, the product's lists, the
cross-store relation) and asks the pure rules in `app.products.rights`. Permission grants are
checked too, so a caller gets one answer: None, or the Refusal to show.
"""

from __future__ import annotations

from functools import cached_property
from typing import Protocol

from sqlalchemy import select

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.db import db
from app.products import rights
from app.products.models import BranchRole, Product
from app.products.rights import PerformedBy, ProductLists, Refusal, Unit
from app.stores.models import PartnerRelation, RelationStatus, Store

NO_PERMISSION = {
    Function.REDEEM: Refusal("NoPermission", "您沒有票券核銷的權限"),
    Function.CANCEL_REDEMPTION: Refusal("NoPermission", "您沒有取消核銷的權限"),
    Function.RETURN: Refusal("NoPermission", "您沒有票券退貨的權限"),
    Function.CANCEL_RETURN: Refusal("NoPermission", "您沒有取消退貨的權限"),
    Function.ISSUANCE: Refusal("NoPermission", "您沒有票券發行的權限"),
}


def unit_for(account: Account, acting_store: Store) -> Unit:
    """The unit an account acts as. A parent's account switched into a child acts as the
    child's head office; a sub-account bound to a branch acts for that branch."""
    branch = account.branch if account.store_id == acting_store.id else None
    if branch is None:
        return Unit(acting_store.id)
    return Unit(acting_store.id, branch.id, branch.enabled)


class _LoadedLists:
    """A product's lists as the rules read them (`ProductLists`), each loaded from the product
    only when a rule asks: the issuer's head office acting on its own ticket reads none, so the
    commonest redemption costs no query for them."""

    def __init__(self, product: Product) -> None:
        self._product = product
        self.issuer_store_id = product.store_id

    @cached_property
    def redeem_branch_ids(self) -> frozenset[int]:
        return self._product.branch_ids(BranchRole.REDEEM)

    @cached_property
    def return_branch_ids(self) -> frozenset[int]:
        return self._product.branch_ids(BranchRole.RETURN)

    @cached_property
    def partner_store_ids(self) -> frozenset[int]:
        return self._product.partner_store_ids


def lists_of(product: Product) -> ProductLists:
    return _LoadedLists(product)  # type: ignore[return-value]  # ProductLists, read lazily


def relation_open(issuer_store_id: int, partner_store_id: int) -> bool:
    status = db.session.scalar(
        select(PartnerRelation.status)
        .where(PartnerRelation.store_id == issuer_store_id,
               PartnerRelation.partner_store_id == partner_store_id)
        .execution_options(unscoped=True)
    )
    return status is RelationStatus.OPEN


def _grant(account: Account, function: Function) -> Refusal | None:
    return None if account.may(function, Level.MODIFY) else NO_PERMISSION[function]


def _relation(product: Product, unit: Unit) -> bool:
    return unit.store_id != product.store_id and relation_open(product.store_id, unit.store_id)


class Rule(Protocol):
    def __call__(self, unit: Unit, product: ProductLists, performed_by: PerformedBy | None, *,
                 relation_open: bool = False) -> Refusal | None: ...


def ticket_refusal(function: Function, rule: Rule, account: Account, acting_store: Store,
                   product: Product, performed_by: PerformedBy | None = None) -> Refusal | None:
    """The one guard of every ticket action: the acting unit's branch is enabled, the account
    holds the function at modify, and the product's rule (its lists, the cross-store relation,
    who performed what is being undone) lets this unit act."""
    unit = unit_for(account, acting_store)
    return (rights.may_operate_tickets(unit) or _grant(account, function)
            or rule(unit, lists_of(product), performed_by, relation_open=_relation(product, unit)))


def redeem_refusal(account: Account, acting_store: Store, product: Product) -> Refusal | None:
    """May this account (its branch, or its partner store) redeem tickets of this product?"""
    return ticket_refusal(Function.REDEEM, rights.may_redeem, account, acting_store, product)


def return_refusal(account: Account, acting_store: Store, product: Product) -> Refusal | None:
    return ticket_refusal(Function.RETURN, rights.may_return, account, acting_store, product)


def issue_refusal(account: Account, acting_store: Store) -> Refusal | None:
    """May this account issue tickets now (its branch's status and its grant)?"""
    return rights.may_operate_tickets(unit_for(account, acting_store)) or _grant(
        account, Function.ISSUANCE)
