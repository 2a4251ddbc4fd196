"""The operator opens and closes the domains a store's refund-notification URL may use (URL
Domain 防火牆); revoking one changes no order already issued."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import history
from app.auth.models import Account
from app.db import db
from app.errors import Forbidden
from app.installments import settings
from app.installments.models import AllowedDomain, InstallmentSettings
from tests.factories import login
from tests.installments.notice_helpers import installment_store, make_refunded_order
from tests.operator.helpers import operator_logged_in

URL = "https://api.shop.example.com/refund"


def _hosts(store) -> list[str]:  # noqa: ANN001
    db.session.expire_all()
    return [d.host for d in settings.allowed_domains(store.id)]


def test_allow_a_domain_normalised_with_history(client, ctx):
    store = installment_store()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}/refund-domains",
                           data={"host": "  API.Shop.Example.COM. "})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/operator/stores/{store.id}#refund-domains"
    assert _hosts(store) == ["api.shop.example.com"]
    (domain,) = settings.allowed_domains(store.id)
    assert domain.created_by_id is not None
    (entry,) = history.entries_for(domain)
    assert (entry.action, entry.changes, entry.store_id, entry.actor_label) == (
        "refund_domain_allowed", {"host": [None, "api.shop.example.com"]}, store.id, "op0001")
    page = client.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert "已開通網域 api.shop.example.com" in page and "開通 URL Domain" in page
    assert "api.shop.example.com" in page


@pytest.mark.parametrize(("host", "message"), [
    ("", "請輸入網域"),
    ("10.0.0.1", "請輸入網域名稱，不可為 IP 位址"),
    ("localhost", "網域格式不正確"),
    ("shop_1.example.com", "網域格式不正確"),
    ("https://shop.example.com/x", "網域格式不正確"),
    ("商店.台灣", "中文網域請先轉為 xn-- 開頭的編碼"),
])
def test_a_wrong_domain_is_refused_with_a_reason(client, ctx, host, message):
    store = installment_store()
    operator_logged_in(client)
    response = client.post(f"/operator/stores/{store.id}/refund-domains", data={"host": host})
    assert response.status_code == 303
    assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _hosts(store) == []


def test_a_domain_is_opened_once_per_store_and_per_store_only(client, ctx):
    store, other = installment_store(), installment_store()
    operator_logged_in(client)
    client.post(f"/operator/stores/{store.id}/refund-domains", data={"host": "api.shop.example.com"})
    again = client.post(f"/operator/stores/{store.id}/refund-domains", data={"host": "API.shop.example.com"})
    assert "此網域已開通" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert _hosts(store) == ["api.shop.example.com"] and _hosts(other) == []
    client.post(f"/operator/stores/{other.id}/refund-domains", data={"host": "api.shop.example.com"})
    assert _hosts(other) == ["api.shop.example.com"]


def test_revoke_clears_the_stores_url_on_that_host_but_not_issued_orders(app, client, ctx):
    store = installment_store("owner21")
    operator_logged_in(client)
    client.post(f"/operator/stores/{store.id}/refund-domains", data={"host": "api.shop.example.com"})
    client.post(f"/operator/stores/{store.id}/refund-domains", data={"host": "backup.example.com"})
    merchant = app.test_client()
    login(merchant, "owner21")
    assert merchant.post("/installments/settings/refund-url",
                         data={"refund_notify_url": URL}).status_code == 303
    issued = make_refunded_order(store, url=settings.refund_url_for(store.id))
    db.session.commit()

    domain = next(d for d in settings.allowed_domains(store.id) if d.host == "api.shop.example.com")
    response = client.post(f"/operator/stores/{store.id}/refund-domains/{domain.id}/revoke")
    assert response.status_code == 303
    assert "已撤銷網域 api.shop.example.com" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _hosts(store) == ["backup.example.com"]
    assert issued.refund_notify_url == URL  # issued orders keep their URL
    assert settings.refund_url_for(store.id) == ""  # new orders carry none
    stored = db.session.scalar(select(InstallmentSettings).where(InstallmentSettings.store_id == store.id))
    assert [e.action for e in history.entries_for(stored)] == ["refund_url_cleared", "refund_url_updated"]
    assert history.entries_for(stored)[0].changes == {"refund_notify_url": [URL, ""]}
    # the revoked host may no longer be saved
    refused = merchant.post("/installments/settings/refund-url", data={"refund_notify_url": URL})
    assert refused.status_code == 422 and "尚未開通" in refused.get_data(as_text=True)
    # its history stays, on the operator's page
    actions = [e.action for e in settings.domain_history(store.id)]
    assert actions.count("refund_domain_revoked") == 1 and actions.count("refund_domain_allowed") == 2
    page = client.get(f"/operator/stores/{store.id}").get_data(as_text=True)
    assert "撤銷 URL Domain" in page


def test_revoking_another_host_leaves_the_url(client, ctx):
    store = installment_store()
    db.session.add_all([AllowedDomain(store_id=store.id, host="api.shop.example.com"),
                        AllowedDomain(store_id=store.id, host="old.example.com")])
    settings.settings_for(store.id).refund_notify_url = URL
    db.session.commit()
    operator_logged_in(client)
    old = next(d for d in settings.allowed_domains(store.id) if d.host == "old.example.com")
    client.post(f"/operator/stores/{store.id}/refund-domains/{old.id}/revoke")
    assert settings.refund_url_for(store.id) == URL


def test_a_domain_of_another_store_is_not_found(client, ctx):
    store, other = installment_store(), installment_store()
    db.session.add(AllowedDomain(store_id=other.id, host="api.shop.example.com"))
    db.session.commit()
    operator_logged_in(client)
    domain = settings.allowed_domains(other.id)[0]
    response = client.post(f"/operator/stores/{store.id}/refund-domains/{domain.id}/revoke")
    assert response.status_code == 404
    assert _hosts(other) == ["api.shop.example.com"]


def test_merchants_may_not_open_domains(app, client, ctx):
    store = installment_store("owner24")
    db.session.commit()
    login(client, "owner24")
    assert client.post(f"/operator/stores/{store.id}/refund-domains",
                       data={"host": "api.shop.example.com"}).status_code == 403
    assert db.session.scalar(select(func.count(AllowedDomain.id))) == 0
    owner = db.session.scalar(select(Account).where(Account.username == "owner24"))
    with pytest.raises(Forbidden):
        settings.allow_domain(owner, store, "api.shop.example.com")
