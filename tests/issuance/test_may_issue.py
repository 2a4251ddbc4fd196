"""May this account issue in this store now? One answer for the pages, the service and the API.

Rule a: issuance is refused before the contract's start date (a Taipei business day), as it is
after its end date or while the issuance service is off.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.db import db
from app.errors import DomainError
from app.issuance import services
from app.issuance.models import BatchStatus
from app.products.models import ProductKind
from app.stores.models import DeliveryMethod
from tests.api.conftest import bearer, token_for  # noqa: F401  (the API tests' token fixture)
from tests.factories import login, make_sub
from tests.issuance.helpers import ready_store, rows
from tests.issuance.page_helpers import batches, only_batch, row, template_file, tickets, upload
from tests.products.helpers import freeze_today

NOT_STARTED = "合約尚未生效（起始日 2027/01/01），尚無法發行票券"


def _starts_later(store) -> None:  # noqa: ANN001
    """The store's only contract starts on 2027/01/01 (today is 2026/11/22)."""
    store.contracts[0].start_date = date(2027, 1, 1)
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def future_shop(ctx, client):  # noqa: ANN001, ANN201
    freeze_today()
    store, owner, pickup, gift = ready_store("future01")
    _starts_later(store)
    return store, owner, pickup, gift


def test_rule_a_the_contract_that_starts_later_is_the_current_one(future_shop):
    store, *_ = future_shop
    assert store.current_contract.start_date == date(2027, 1, 1)  # no earlier one to fall back on


def test_rule_a_the_service_refuses_before_the_contract_starts(future_shop):
    store, owner, pickup, _ = future_shop
    with pytest.raises(DomainError, match=r"合約尚未生效（起始日 2027/01/01）") as refused:
        services.prepare_batch(owner, store, import_no="EARLY", method=DeliveryMethod.IMMEDIATE,
                               kind=ProductKind.PICKUP, rows=rows(pickup))
    assert refused.value.message == NOT_STARTED
    db.session.rollback()
    assert batches() == 0


def test_rule_a_the_page_shows_why_before_anything_is_uploaded(future_shop, client):
    login(client, "future01")
    page = client.get("/issuance/").get_data(as_text=True)
    assert NOT_STARTED in page and 'data-testid="upload-form"' not in page


def test_rule_a_an_upload_is_refused(future_shop, client):
    _, _, pickup, _ = future_shop
    login(client, "future01")
    response = upload(client, template_file([row(pickup, "EARLY1")]))
    assert response.status_code == 409
    assert NOT_STARTED in response.get_data(as_text=True)
    assert batches() == 0


def test_rule_a_a_preview_made_earlier_cannot_be_confirmed(ctx, client):
    freeze_today()
    store, _, pickup, _ = ready_store("future02")
    login(client, "future02")
    response = upload(client, template_file([row(pickup, "EARLY2")]))
    assert response.status_code in (302, 303)
    _starts_later(store)  # e.g. the operator corrected the contract's dates
    batch = only_batch()
    preview = client.get(f"/issuance/batches/{batch.id}").get_data(as_text=True)
    assert NOT_STARTED in preview and 'data-testid="confirm-form"' not in preview
    confirmed = client.post(f"/issuance/batches/{batch.id}/confirm", follow_redirects=True)
    assert NOT_STARTED in confirmed.get_data(as_text=True)
    assert only_batch().status is BatchStatus.PREVIEW and tickets() == 0


def test_rule_a_the_api_refuses_with_409(future_shop, client, token_for):  # noqa: F811
    _, owner, pickup, _ = future_shop
    _, plain = token_for(owner)
    response = client.post("/api/v1/batches", headers=bearer(plain), json={
        "import_no": "EARLYAPI", "delivery_type": "electronic", "method": "immediate",
        "rows": [{"product_id": pickup.id, "quantity": 1, "merchant_order_no": "E1",
                  "purchaser_name": "王", "mobile": "0912345678"}]})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == NOT_STARTED
    assert batches() == 0


def test_rule_a_from_the_start_date_issuance_is_allowed(future_shop):
    from app import clock

    store, owner, pickup, _ = future_shop
    clock.freeze(clock.day_start(date(2027, 1, 1)))  # 00:00 Taipei on the start date
    batch = services.prepare_batch(owner, store, import_no="ONTIME",
                                   method=DeliveryMethod.IMMEDIATE, kind=ProductKind.PICKUP,
                                   rows=rows(pickup))
    assert batch.error_count == 0


# The one answer ------------------------------------------------------------------------------

def _case(case: str):  # noqa: ANN202
    """(account, store) in the situation `case`."""
    from app import clock
    from app.auth.permissions import Function, Level
    from tests.factories import make_account, make_branch, make_store
    from tests.settings.helpers import mark_complete

    store = make_store(issuance_active=case != "inactive", methods=[DeliveryMethod.IMMEDIATE])
    owner = make_account(store, username=f"case{case[:8]}")
    if case != "settings":
        mark_complete(store)
    contract = store.contracts[0]
    if case == "no_methods":
        contract.enabled_methods = []
    if case == "not_started":
        contract.start_date = date(2027, 1, 1)
    if case == "ended":
        contract.end_date = clock.business_day().replace(day=1)
    if case in ("no_grant", "branch_off"):
        grants = {} if case == "no_grant" else {Function.ISSUANCE: Level.MODIFY}
        branch = make_branch(store, enabled=False) if case == "branch_off" else None
        owner = make_sub(store, f"sub{case[:8]}", branch=branch, grants=grants)
    db.session.commit()
    db.session.expire_all()
    return owner, store


@pytest.mark.parametrize(("case", "method", "code", "message"), [
    ("inactive", None, "issuance_unavailable", "ECT發行服務尚未開通，無法發行票券，請聯繫所屬業務"),
    ("not_started", None, "issuance_unavailable", NOT_STARTED),
    ("ended", None, "issuance_unavailable", "ECTicket 合約已到期，無法發行票券，請聯繫所屬業務"),
    ("settings", None, "issuance_unavailable", "請先至操作設定管理完成「基本設定」後再發行票券"),
    ("no_grant", None, "NoPermission", "您沒有票券發行的權限"),
    ("branch_off", None, "BranchDisabled", "您所屬的分店已停用，僅可查詢報表，無法進行票券操作"),
    ("no_methods", None, "method_not_enabled", "合約尚未開通任何發行方式，請聯繫所屬業務"),
    ("ready", DeliveryMethod.IBON, "method_not_enabled", "合約未開通「超商票券／ibon 超商票券」發行方式"),
    ("ready", None, None, None),
    ("ready", DeliveryMethod.IMMEDIATE, None, None),
])
def test_one_function_answers_may_this_account_issue(ctx, case, method, code, message):
    freeze_today()
    owner, store = _case(case)
    refusal = services.issuance_refusal(owner, store, method)
    assert (refusal and (refusal.code, refusal.message)) == ((code, message) if code else None)


def test_the_pages_the_service_and_the_api_all_ask_the_one_function(ctx, client, token_for,  # noqa: F811
                                                                    monkeypatch):
    from app.refusal import Refusal

    freeze_today()
    store, owner, pickup, _ = ready_store("oneanswer")
    login(client, "oneanswer")
    upload(client, template_file([row(pickup, "ONE1")]), import_no="ONE1")
    batch = only_batch()
    _, plain = token_for(owner)
    asked = []

    def refuse(actor, store, method=None):  # noqa: ANN001, ANN202
        asked.append(method)
        return Refusal("issuance_unavailable", "測試：不可發行")

    monkeypatch.setattr(services, "issuance_refusal", refuse)
    assert "測試：不可發行" in client.get("/issuance/").get_data(as_text=True)
    assert "測試：不可發行" in client.get(f"/issuance/batches/{batch.id}").get_data(as_text=True)
    assert upload(client, template_file([row(pickup, "ONE2")]), import_no="ONE2").status_code == 409
    confirmed = client.post(f"/issuance/batches/{batch.id}/confirm", follow_redirects=True)
    assert "測試：不可發行" in confirmed.get_data(as_text=True)
    response = client.post("/api/v1/batches", headers=bearer(plain), json={
        "import_no": "ONEAPI", "delivery_type": "electronic", "method": "immediate",
        "rows": [{"product_id": pickup.id, "quantity": 1, "merchant_order_no": "ONE3",
                  "purchaser_name": "王", "mobile": "0912345678"}]})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "測試：不可發行"
    assert DeliveryMethod.IMMEDIATE in asked  # the preview, the confirm and the API name the method
    assert only_batch().status is BatchStatus.PREVIEW and tickets() == 0
