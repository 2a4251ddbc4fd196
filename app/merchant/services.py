"""Merchant-area use cases: the merchant's own contacts (聯絡人). They flush, never commit."""

from __future__ import annotations

from app import history
from app.auth import access
from app.auth.models import Account
from app.auth.permissions import Function
from app.errors import InvalidInput
from app.merchant.rules import CONTACT_FIELDS, BadEmailList, normalise_emails
from app.stores.models import Store


def contacts_of(store: Store) -> dict[str, str]:
    return {name: getattr(store, name) for name in CONTACT_FIELDS}


def update_contacts(actor: Account, store: Store, *, finance_emails: str | None,
                    sales_emails: str | None, technical_emails: str | None) -> bool:
    """Set the three contact e-mail lists of `store`. All are checked before any is saved.

    Returns whether anything changed; the change is written to the store's history.
    """
    access.check(actor, store, Function.VENDOR_PROFILE, no_right="您沒有修改廠商基本資料的權限")
    raw = {"finance_emails": finance_emails, "sales_emails": sales_emails,
           "technical_emails": technical_emails}
    wanted: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, label in CONTACT_FIELDS.items():
        try:
            wanted[name] = normalise_emails(raw[name], label=label)
        except BadEmailList as err:
            problems[name] = err.message
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    # Store is not store-scoped itself: name the store so the entry is listed under it.
    return history.change(store, "contacts_updated", wanted, store_id=store.id)
