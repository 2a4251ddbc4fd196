"""The services enforce the rules themselves, whatever form (or none) called them."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.db import db
from app.errors import Forbidden, InvalidInput
from app.news.models import NewsItem
from app.operator import services
from app.stores.models import Store
from tests.factories import make_account, make_operator, make_store


def _fields(**overrides: object) -> services.StoreFields:
    data = {"merchant_code": "3200001", "name": "服務層商店", "tax_id": "12345675"}
    data.update(overrides)
    return services.StoreFields(**data)  # type: ignore[arg-type]


TERMS = services.ContractTerms(start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))


def test_create_store_refuses_every_bad_field_at_once(ctx):
    operator = make_operator()
    with pytest.raises(InvalidInput) as caught:
        services.create_store(
            operator,
            _fields(merchant_code="12", tax_id="x", finance_emails="nope", website="ftp://x"),
            services.ContractTerms(start_date=date(2026, 1, 2), end_date=date(2026, 1, 1),
                                   redemption_mode="installment", payout_delay_days=-3),
            username="ab", password="abcdefg",
        )
    assert set(caught.value.fields) == {
        "merchant_code", "tax_id", "finance_emails", "website", "end_date", "payout_delay_days",
        "installment_period_days", "installment_period_count", "username", "password"}
    assert db.session.scalar(select(func.count(Store.id))) == 0


def test_only_operators_may_use_the_services(ctx):
    store = make_store()
    merchant = make_account(store)
    with pytest.raises(Forbidden):
        services.create_store(merchant, _fields(), TERMS, username="newmain02",
                              password="Secret#1")
    with pytest.raises(Forbidden):
        services.update_contract(merchant, store.contracts[0], TERMS)
    with pytest.raises(Forbidden):
        services.publish_news(merchant, services.NewsFields("t", "b", "公告", store.created_at))
    assert db.session.scalar(select(func.count(NewsItem.id))) == 0


def test_redeem_after_use_contract_drops_installment_only_settings(ctx):
    operator = make_operator()
    store = services.create_store(
        operator, _fields(), services.ContractTerms(
            start_date=date(2026, 1, 1), end_date=date(2026, 12, 31), escrow_type="信託",
            installment_period_days=30,
            enabled_methods=["electronic:deferred", "cvs:ibon", "cvs:ibon"]),
        username="newmain03", password="Secret#1")
    contract = store.contracts[0]
    assert (contract.escrow_type, contract.installment_period_days) == ("", None)
    assert contract.enabled_methods == ["cvs:ibon", "electronic:deferred"]
