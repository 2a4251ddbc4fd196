"""Operator use cases: merchants (商店), their contracts (合約), main accounts and news.

Every function takes the acting operator account, checks the rules, changes rows, records
history in the same transaction and flushes; the view commits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from app import history
from app.auth import rules as auth_rules
from app.auth.models import Account, AccountKind
from app.auth.passwords import hash_password
from app.db import db
from app.errors import Forbidden, InvalidInput
from app.news.models import NewsItem
from app.operator import rules
from app.stores.models import Contract, DeliveryMethod, RedemptionMode, Store

UNSCOPED = {"unscoped": True}


@dataclass
class StoreFields:
    merchant_code: str
    name: str
    tax_id: str = ""
    responsible_person: str = ""
    address: str = ""
    website: str = ""
    parent_id: int | None = None
    finance_emails: str = ""
    sales_emails: str = ""
    technical_emails: str = ""
    require_two_factor: bool = False


@dataclass
class ContractTerms:
    start_date: date
    end_date: date
    issuance_active: bool = False
    redemption_mode: str = RedemptionMode.REDEEM_AFTER_USE.value
    enabled_methods: list[str] = field(default_factory=list)
    sms_enabled: bool = False
    payout_delay_days: int = 7
    escrow_bank: str = ""
    escrow_type: str = ""
    installment_period_days: int | None = None
    installment_period_count: int | None = None
    note: str = ""


@dataclass
class NewsFields:
    title: str
    body: str
    category: str
    published_at: datetime


def _require_operator(actor: Account) -> None:
    if not actor.is_operator:
        raise Forbidden("僅平台管理員可執行此操作")


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)


# Stores --------------------------------------------------------------------------------

def _clean_store(data: StoreFields) -> StoreFields:
    return StoreFields(**{k: v.strip() if isinstance(v, str) else v
                          for k, v in asdict(data).items()})


def _store_problems(data: StoreFields, store: Store | None) -> dict[str, str]:
    """Check (and normalise in place) a store's fields; field name → message."""
    problems: dict[str, str] = {}
    if problem := rules.merchant_code_problem(data.merchant_code):
        problems["merchant_code"] = problem
    else:
        taken = db.session.scalar(
            select(Store.id).where(Store.merchant_code == data.merchant_code,
                                   Store.id != (store.id if store else -1))
        )
        if taken is not None:
            problems["merchant_code"] = "此商店代號已存在"
    if not data.name:
        problems["name"] = "請輸入商店名稱"
    elif len(data.name) > 100:
        problems["name"] = "商店名稱至多 100 字"
    if problem := rules.tax_id_problem(data.tax_id):
        problems["tax_id"] = problem
    if len(data.responsible_person) > 50:
        problems["responsible_person"] = "負責人至多 50 字"
    if len(data.address) > 200:
        problems["address"] = "地址至多 200 字"
    if problem := rules.website_problem(data.website) or (
        "商店網址至多 200 字" if len(data.website) > 200 else None
    ):
        problems["website"] = problem
    for name in ("finance_emails", "sales_emails", "technical_emails"):
        value, problem = rules.normalise_emails(getattr(data, name))
        if problem is None and len(value) > 500:
            problem = "電子信箱至多 500 字"
        if problem:
            problems[name] = problem
        else:
            setattr(data, name, value)
    if problem := _parent_problem(store, data.parent_id):
        problems["parent_id"] = problem
    return problems


def _parent_problem(store: Store | None, parent_id: int | None) -> str | None:
    if parent_id is None:
        return None
    parent = db.session.get(Store, parent_id)
    if parent is None:
        return "找不到所選的母商店"
    chain = [parent.id]
    seen = parent
    while seen.parent is not None and seen.parent.id not in chain:
        seen = seen.parent
        chain.append(seen.id)
    return rules.parent_problem(
        store_id=store.id if store else None,
        store_has_children=bool(store and store.children),
        parent_chain=chain,
    )


def store_snapshot(store: Store) -> dict[str, Any]:
    return {
        "merchant_code": store.merchant_code,
        "name": store.name,
        "tax_id": store.tax_id,
        "responsible_person": store.responsible_person,
        "address": store.address,
        "website": store.website,
        "parent": store.parent.label if store.parent else None,
        "finance_emails": store.finance_emails,
        "sales_emails": store.sales_emails,
        "technical_emails": store.technical_emails,
        "require_two_factor": store.require_two_factor,
    }


def _apply_store(store: Store, data: StoreFields) -> None:
    for name in ("merchant_code", "name", "tax_id", "responsible_person", "address", "website",
                 "finance_emails", "sales_emails", "technical_emails", "require_two_factor"):
        setattr(store, name, getattr(data, name))
    store.parent = db.session.get(Store, data.parent_id) if data.parent_id else None


def create_store(actor: Account, data: StoreFields, terms: ContractTerms, *, username: str,
                 password: str) -> Store:
    """A new merchant with its first contract and its main account (管理者)."""
    _require_operator(actor)
    data = _clean_store(data)
    username = username.strip()
    problems = _store_problems(data, None)
    problems.update(_contract_problems(terms))
    if problem := rules.main_username_problem(username):
        problems["username"] = problem
    elif db.session.scalar(select(Account.id).where(Account.username == username)
                           .execution_options(**UNSCOPED)) is not None:
        problems["username"] = "此帳號已被使用"
    if problem := auth_rules.main_password_problem(password):
        problems["password"] = problem
    _refuse(problems)

    store = Store()
    _apply_store(store, data)
    db.session.add(store)
    db.session.flush()
    history.record(store, "created", store_id=store.id,
                   changes=history.diff({}, store_snapshot(store)))
    _add_contract(store, terms)
    account = Account(store_id=store.id, kind=AccountKind.MAIN, username=username,
                      password_hash=hash_password(password))
    db.session.add(account)
    db.session.flush()
    history.record(account, "created", store_id=store.id,
                   changes={"username": [None, username], "kind": [None, AccountKind.MAIN.value]})
    return store


def update_store(actor: Account, store: Store, data: StoreFields) -> None:
    _require_operator(actor)
    data = _clean_store(data)
    _refuse(_store_problems(data, store))
    before = store_snapshot(store)
    _apply_store(store, data)
    db.session.flush()
    changes = history.diff(before, store_snapshot(store))
    if changes:
        history.record(store, "updated", store_id=store.id, changes=changes)


# Contracts ---------------------------------------------------------------------------------

def _normalise_terms(terms: ContractTerms) -> ContractTerms:
    """Stored shape: methods in the enum's order, installment-only fields empty otherwise."""
    wanted = set(terms.enabled_methods)
    methods = [m.value for m in DeliveryMethod if m.value in wanted]
    methods += sorted(wanted - set(methods))  # unknown values stay, so the check can name them
    installment = terms.redemption_mode == RedemptionMode.INSTALLMENT.value
    return ContractTerms(
        start_date=terms.start_date, end_date=terms.end_date,
        issuance_active=bool(terms.issuance_active), redemption_mode=terms.redemption_mode,
        enabled_methods=methods, sms_enabled=bool(terms.sms_enabled),
        payout_delay_days=terms.payout_delay_days, escrow_bank=terms.escrow_bank.strip(),
        escrow_type=terms.escrow_type.strip() if installment else "",
        installment_period_days=terms.installment_period_days if installment else None,
        installment_period_count=terms.installment_period_count if installment else None,
        note=terms.note.strip(),
    )


def _contract_problems(terms: ContractTerms) -> dict[str, str]:
    terms = _normalise_terms(terms)
    problems = rules.contract_problems(
        start_date=terms.start_date, end_date=terms.end_date,
        redemption_mode=terms.redemption_mode, enabled_methods=terms.enabled_methods,
        payout_delay_days=terms.payout_delay_days,
        installment_period_days=terms.installment_period_days,
        installment_period_count=terms.installment_period_count,
    )
    if len(terms.escrow_bank) > 50:
        problems["escrow_bank"] = "價金保管銀行至多 50 字"
    if len(terms.escrow_type) > 50:
        problems["escrow_type"] = "價金保管類型至多 50 字"
    return problems


def contract_snapshot(contract: Contract) -> dict[str, Any]:
    return {
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "issuance_active": contract.issuance_active,
        "redemption_mode": contract.redemption_mode,
        "enabled_methods": list(contract.enabled_methods),
        "sms_enabled": contract.sms_enabled,
        "payout_delay_days": contract.payout_delay_days,
        "escrow_bank": contract.escrow_bank,
        "escrow_type": contract.escrow_type,
        "installment_period_days": contract.installment_period_days,
        "installment_period_count": contract.installment_period_count,
        "note": contract.note,
    }


def _apply_terms(contract: Contract, terms: ContractTerms) -> None:
    terms = _normalise_terms(terms)
    for name, value in asdict(terms).items():
        if name == "redemption_mode":
            value = RedemptionMode(value)
        setattr(contract, name, value)


def _add_contract(store: Store, terms: ContractTerms) -> Contract:
    contract = Contract(store=store)
    _apply_terms(contract, terms)
    db.session.add(contract)
    db.session.flush()
    history.record(contract, "contract_created", store_id=store.id,
                   changes=history.diff({}, contract_snapshot(contract)))
    return contract


def add_contract(actor: Account, store: Store, terms: ContractTerms) -> Contract:
    _require_operator(actor)
    _refuse(_contract_problems(terms))
    return _add_contract(store, terms)


def update_contract(actor: Account, contract: Contract, terms: ContractTerms) -> None:
    _require_operator(actor)
    _refuse(_contract_problems(terms))
    before = contract_snapshot(contract)
    _apply_terms(contract, terms)
    db.session.flush()
    changes = history.diff(before, contract_snapshot(contract))
    if changes:
        history.record(contract, "contract_updated", store_id=contract.store_id, changes=changes)


# News ----------------------------------------------------------------------------------------

def _news_snapshot(item: NewsItem) -> dict[str, Any]:
    return {"title": item.title, "body": item.body, "category": item.category,
            "published_at": item.published_at}


def _check_news(data: NewsFields) -> NewsFields:
    _refuse(rules.news_problems(title=data.title.strip(), body=data.body.strip(),
                                category=data.category))
    if data.published_at.tzinfo is None:
        raise ValueError("published_at must be timezone-aware")
    return NewsFields(title=data.title.strip(), body=data.body.strip(), category=data.category,
                      published_at=data.published_at.astimezone(UTC))


def publish_news(actor: Account, data: NewsFields) -> NewsItem:
    """A news item for every merchant's message centre, from `published_at` on."""
    _require_operator(actor)
    data = _check_news(data)
    item = NewsItem(title=data.title, body=data.body, category=data.category,
                    published_at=data.published_at, created_by_id=actor.id)
    db.session.add(item)
    db.session.flush()
    history.record(item, "created", changes=history.diff({}, _news_snapshot(item)))
    return item


def update_news(actor: Account, item: NewsItem, data: NewsFields) -> None:
    _require_operator(actor)
    data = _check_news(data)
    before = _news_snapshot(item)
    item.title, item.body, item.category = data.title, data.body, data.category
    item.published_at = data.published_at
    db.session.flush()
    changes = history.diff(before, _news_snapshot(item))
    if changes:
        history.record(item, "updated", changes=changes)


def delete_news(actor: Account, item: NewsItem) -> None:
    _require_operator(actor)
    history.record(item, "deleted", changes=history.diff(_news_snapshot(item), {}))
    db.session.delete(item)
    db.session.flush()
