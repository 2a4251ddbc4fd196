"""Merchant-area use cases: the merchant's own contacts (聯絡人) and its 收付款通知設定. They flush,
never commit."""

from __future__ import annotations

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.errors import InvalidInput
from app.merchant.rules import check_contacts, contact_columns
from app.stores.models import Store


def contacts_of(store: Store) -> dict[str, str]:
    """Every contact column of the store (name, phone and e-mails of each role)."""
    return {name: getattr(store, name) for name in contact_columns()}


def update_profile(actor: Account, store: Store, contacts: dict[str, str | None], *,
                   payout_notice: bool) -> bool:
    """Set the store's contacts (name, phone, e-mails of 帳務／業務／技術聯絡人) and its 收款通知
    setting. Every field is checked before any is saved: a refusal names each bad field.

    Returns whether anything changed; each change is written to the store's history (the
    contacts as `contacts_updated`, the setting as `payout_notice_updated`).
    """
    access.check(actor, store, Function.VENDOR_PROFILE, no_right="您沒有修改廠商基本資料的權限")
    checked = check_contacts(contacts)
    if checked.problems:
        raise InvalidInput(next(iter(checked.problems.values())), fields=checked.problems)
    # Store is not store-scoped itself: name the store so the entries are listed under it.
    changed = history.change(store, "contacts_updated", checked.values, store_id=store.id)
    noticed = history.change(store, "payout_notice_updated", {"payout_notice": payout_notice},
                             store_id=store.id)
    return changed or noticed
