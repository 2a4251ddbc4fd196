"""Factories for tests: rows with sensible defaults, created through the models directly."""

from __future__ import annotations

import itertools
from datetime import date

from app.auth.models import Account, AccountGrant, AccountKind
from app.auth.passwords import hash_password
from app.auth.permissions import Function, Level
from app.db import db
from app.stores.models import Branch, Contract, DeliveryMethod, RedemptionMode, Store

PASSWORD = "Passw0rd"
_seq = itertools.count(1)


def make_store(name: str | None = None, *, parent: Store | None = None,
               mode: RedemptionMode = RedemptionMode.REDEEM_AFTER_USE,
               issuance_active: bool = True, sms_enabled: bool = True,
               methods: list[DeliveryMethod] | None = None) -> Store:
    n = next(_seq)
    store = Store(merchant_code=f"{9000000 + n}", name=name or f"測試商店{n}", parent=parent,
                  tax_id=f"{10000000 + n}")
    store.contracts.append(Contract(
        start_date=date(2020, 1, 1), end_date=date(2099, 12, 31),
        issuance_active=issuance_active, redemption_mode=mode, sms_enabled=sms_enabled,
        enabled_methods=[m.value for m in (methods or list(DeliveryMethod))],
    ))
    db.session.add(store)
    db.session.flush()
    return store


def make_account(store: Store | None, *, kind: AccountKind = AccountKind.MAIN,
                 username: str | None = None, password: str = PASSWORD,
                 grants: dict[Function, Level] | None = None, remark: str = "") -> Account:
    account = Account(store=store, kind=kind, username=username or f"user{next(_seq)}x",
                      password_hash=hash_password(password), remark=remark)
    for fn, level in (grants or {}).items():
        account.grants.append(AccountGrant(function=fn.value, level=level))
    db.session.add(account)
    db.session.flush()
    return account


def make_operator(username: str = "op0001") -> Account:
    return make_account(None, kind=AccountKind.OPERATOR, username=username)


def make_branch(store: Store, code: str | None = None, name: str | None = None, *,
                enabled: bool = True) -> Branch:
    n = next(_seq)
    branch = Branch(store_id=store.id, code=code or f"B{n:03d}", name=name or f"分店{n}",
                    enabled=enabled)
    db.session.add(branch)
    db.session.flush()
    return branch


def login(client, username: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response
