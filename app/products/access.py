"""The permission questions later features ask, answered from the database.

Each function loads the facts (the account's branch and its status, the product's lists, the
cross-store relation) and asks the pure rules in `app.products.rights`. Permission grants are
checked too, so a caller gets one answer: None, or the Refusal to show.
"""

from __future__ import annotations

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


def lists_of(product: Product) -> ProductLists:
    return ProductLists(
        issuer_store_id=product.store_id,
        redeem_branch_ids=product.branch_ids(BranchRole.REDEEM),
        return_branch_ids=product.branch_ids(BranchRole.RETURN),
        partner_store_ids=product.partner_store_ids,
    )


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


def redeem_refusal(account: Account, acting_store: Store, product: Product) -> Refusal | None:
    """May this account (its branch, or its partner store) redeem tickets of this product?"""
    unit = unit_for(account, acting_store)
    return _grant(account, Function.REDEEM) or rights.may_redeem(
        unit, lists_of(product), relation_open=_relation(product, unit))


def cancel_redemption_refusal(account: Account, acting_store: Store, product: Product,
                              redeemed_by: PerformedBy) -> Refusal | None:
    unit = unit_for(account, acting_store)
    return _grant(account, Function.CANCEL_REDEMPTION) or rights.may_cancel_redemption(
        unit, lists_of(product), redeemed_by, relation_open=_relation(product, unit))


def return_refusal(account: Account, acting_store: Store, product: Product) -> Refusal | None:
    unit = unit_for(account, acting_store)
    return _grant(account, Function.RETURN) or rights.may_return(unit, lists_of(product))


def cancel_return_refusal(account: Account, acting_store: Store, product: Product,
                          returned_by: PerformedBy) -> Refusal | None:
    unit = unit_for(account, acting_store)
    return _grant(account, Function.CANCEL_RETURN) or rights.may_cancel_return(
        unit, lists_of(product), returned_by)


def issue_refusal(account: Account, acting_store: Store) -> Refusal | None:
    """May this account issue tickets now (its grant and its branch's status)?"""
    return _grant(account, Function.ISSUANCE) or rights.may_operate_tickets(
        unit_for(account, acting_store))
