"""Who may act on a product's tickets (docs/accounts.md): pure rules, no Flask, no database.

One function per question. Each answers None (allowed) or the `Refusal` a clerk should read.
The caller supplies the facts: the acting unit (store and branch), the product's lists, the
cross-store relation, and who performed the action being undone. Permission grants (may this
account use 票券核銷 at all?) and time windows are checked elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.permissions import BRANCH_DISABLED
from app.refusal import Refusal

BRANCH_NOT_IN_REDEEM_LIST = Refusal("BranchNotInRedeemList", "您所屬的分店不在此商品的核銷分店名單內")
BRANCH_NOT_IN_RETURN_LIST = Refusal("BranchNotInReturnList", "您所屬的分店不在此商品的退貨分店名單內")
NOT_GRANTED = Refusal("PartnerNotGranted", "此商品未開放貴商店跨店核銷")
RELATION_DISSOLVED = Refusal("RelationDissolved", "與發行單位的跨店關聯已解除，無法再操作此商品的票券")
ISSUER_ONLY = Refusal("IssuerOnly", "僅發行單位可以操作退貨與取消退貨")
NOT_THE_REDEEMER = Refusal("NotTheRedeemer", "僅發行單位總店或原核銷單位可以取消核銷")
NOT_THE_RETURNER = Refusal("NotTheReturner", "僅發行單位總店或原退貨分店可以取消退貨")


@dataclass(frozen=True)
class Unit:
    """Who acts: a store, and the branch its account is bound to (None: the head office 總店)."""

    store_id: int
    branch_id: int | None = None
    branch_enabled: bool = True

    @property
    def is_head_office(self) -> bool:
        return self.branch_id is None


@dataclass(frozen=True)
class ProductLists:
    """A product's issuer and its three lists (an empty branch list means every branch)."""

    issuer_store_id: int
    redeem_branch_ids: frozenset[int] = frozenset()
    return_branch_ids: frozenset[int] = frozenset()
    partner_store_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class PerformedBy:
    """Who performed the action being undone (a redemption or a return)."""

    store_id: int
    branch_id: int | None = None


def may_operate_tickets(unit: Unit) -> Refusal | None:
    """Any ticket operation (issue, redeem, return, cancel): only from an enabled branch."""
    return None if unit.branch_enabled else BRANCH_DISABLED


def _listed(branch_id: int, listed: frozenset[int]) -> bool:
    return not listed or branch_id in listed


# Every rule takes the same arguments — the unit, the product's lists, who performed the action
# being undone (None for redeem and return) and whether the cross-store relation is open — so the
# ticket action table can name any of them.

def may_redeem(unit: Unit, product: ProductLists, performed_by: PerformedBy | None = None, *,
               relation_open: bool = False) -> Refusal | None:
    """Issuer: head office, or a branch in the redeem list (any, if the list is empty).
    Partner store: any of its units, while the relation is open and the product is granted."""
    if refusal := may_operate_tickets(unit):
        return refusal
    if unit.store_id == product.issuer_store_id:
        if unit.is_head_office or _listed(unit.branch_id, product.redeem_branch_ids):  # type: ignore[arg-type]
            return None
        return BRANCH_NOT_IN_REDEEM_LIST
    if unit.store_id not in product.partner_store_ids:
        return NOT_GRANTED
    if not relation_open:
        return RELATION_DISSOLVED
    return None


def may_cancel_redemption(unit: Unit, product: ProductLists, redeemed_by: PerformedBy | None, *,
                          relation_open: bool = False) -> Refusal | None:
    """The issuer's head office, or the party that redeemed: that branch of the issuer, or the
    partner store (its head office, or its branch that redeemed) while the relation is open."""
    if refusal := may_operate_tickets(unit):
        return refusal
    if unit.store_id == product.issuer_store_id and unit.is_head_office:
        return None
    if unit.store_id != product.issuer_store_id and not relation_open:
        return RELATION_DISSOLVED
    if redeemed_by is None or redeemed_by.store_id != unit.store_id:
        return NOT_THE_REDEEMER
    if unit.is_head_office or unit.branch_id == redeemed_by.branch_id:
        return None
    return NOT_THE_REDEEMER


def may_return(unit: Unit, product: ProductLists, performed_by: PerformedBy | None = None, *,
               relation_open: bool = False) -> Refusal | None:
    """Only the issuer: head office, or a branch in the return list (any, if it is empty)."""
    if refusal := may_operate_tickets(unit):
        return refusal
    if unit.store_id != product.issuer_store_id:
        return ISSUER_ONLY
    if unit.is_head_office or _listed(unit.branch_id, product.return_branch_ids):  # type: ignore[arg-type]
        return None
    return BRANCH_NOT_IN_RETURN_LIST


def may_cancel_return(unit: Unit, product: ProductLists, returned_by: PerformedBy | None, *,
                      relation_open: bool = False) -> Refusal | None:
    """Only the issuer: head office, or the branch that returned the ticket."""
    if refusal := may_operate_tickets(unit):
        return refusal
    if unit.store_id != product.issuer_store_id:
        return ISSUER_ONLY
    if unit.is_head_office or (returned_by is not None and unit.branch_id == returned_by.branch_id):
        return None
    return NOT_THE_RETURNER
