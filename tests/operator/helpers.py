"""Helpers for the operator console tests."""

from __future__ import annotations

from app.db import db
from tests.factories import login, make_operator


def operator_logged_in(client, username: str = "op0001"):  # noqa: ANN001, ANN201
    """Create an operator account, commit, log `client` in as it; returns the account."""
    operator = make_operator(username)
    db.session.commit()
    login(client, username)
    return operator


def new_store_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "merchant_code": "3100001",
        "name": "新開商店",
        "tax_id": "12345675",
        "responsible_person": "王大明",
        "address": "台北市內湖區瑞光路 1 號",
        "website": "https://shop.example",
        "parent_id": "0",
        "finance_emails": "finance@shop.example; boss@shop.example",
        "sales_emails": "",
        "technical_emails": "dev@shop.example",
        "username": "newmain01",
        "password": "Secret#1",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "issuance_active": "y",
        "redemption_mode": "redeem_after_use",
        "enabled_methods": ["electronic:immediate", "cvs:ibon"],
        "sms_enabled": "y",
        "payout_delay_days": "7",
        "escrow_bank": "示範信託銀行",
        "escrow_type": "",
        "installment_period_days": "",
        "installment_period_count": "",
        "note": "",
    }
    data.update(overrides)
    return data


def contract_form(contract, **overrides: object) -> dict[str, object]:  # noqa: ANN001
    data: dict[str, object] = {
        "start_date": contract.start_date.isoformat(),
        "end_date": contract.end_date.isoformat(),
        "redemption_mode": contract.redemption_mode.value,
        "enabled_methods": list(contract.enabled_methods),
        "payout_delay_days": str(contract.payout_delay_days),
        "escrow_bank": contract.escrow_bank,
        "escrow_type": contract.escrow_type,
        "installment_period_days": str(contract.installment_period_days or ""),
        "installment_period_count": str(contract.installment_period_count or ""),
        "note": contract.note,
    }
    if contract.issuance_active:
        data["issuance_active"] = "y"
    if contract.sms_enabled:
        data["sms_enabled"] = "y"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def store_form(store, **overrides: object) -> dict[str, object]:  # noqa: ANN001
    data: dict[str, object] = {
        "merchant_code": store.merchant_code,
        "name": store.name,
        "tax_id": store.tax_id,
        "responsible_person": store.responsible_person,
        "address": store.address,
        "website": store.website,
        "parent_id": str(store.parent_id or 0),
        "finance_emails": store.finance_emails,
        "sales_emails": store.sales_emails,
        "technical_emails": store.technical_emails,
    }
    data.update(overrides)
    return data
