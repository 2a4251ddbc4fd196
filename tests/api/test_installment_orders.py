"""POST /api/v1/installment-orders and GET /api/v1/installment-orders/<merchant_order_no>:
installment orders by API, with the upload's rules and messages, a required Idempotency-Key,
hostile bodies, tenants and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import Account
from app.auth.permissions import Function, Level
from app.bounds import NUL_MESSAGE
from app.db import db
from app.history import HistoryEntry
from app.installments import issuing
from app.installments.models import InstallmentBatch, InstallmentOrder, InstallmentPeriod
from app.issuance.models import BatchStatus
from app.issuance.services import Confirmation
from app.stores.models import RedemptionMode
from tests.api.conftest import bearer, token_for  # noqa: F401  (the API tests' token fixture)
from tests.factories import make_account, make_store, make_sub
from tests.installments.test_issuing import REFUND_URL, installment_store
from tests.products.helpers import TODAY, freeze_today

URL = "/api/v1/installment-orders"
KEY = "0b7d4c1e-9a7f-4f1c-8a35-2a9e7b5d0d2b"
ORDER_KEYS = {"order_no", "merchant_order_no", "total_amount", "period_count", "period_days",
              "first_date", "purchaser_name", "mobile", "email", "refund_notify_url", "issued_at",
              "returned_at", "periods"}


@pytest.fixture
def api_shop(ctx, token_for):  # noqa: ANN001, ANN201, F811
    freeze_today()
    store, owner = installment_store("instapi01")
    _, plain = token_for(owner)
    return store, bearer(plain)


def body(**overrides: object) -> dict:
    data = {"merchant_order_no": "API0001", "total_amount": 12005, "purchaser_name": "王小明",
            "mobile": "0912345678", "email": "buyer@example.com"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def post(client, headers, payload, key: str | None = KEY, **kwargs):  # noqa: ANN001, ANN201
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(URL, headers={**headers, **extra}, json=payload, **kwargs)


def count(model) -> int:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_an_order_is_issued_at_once_with_its_periods(client, api_shop):
    store, headers = api_shop
    response = post(client, headers, body(first_date="2027-01-15"))
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert set(order) == ORDER_KEYS
    assert response.headers["Location"].endswith(f"{URL}/API0001")
    assert order["order_no"].startswith(f"ECT{TODAY:%Y%m%d}")
    assert (order["merchant_order_no"], order["total_amount"], order["period_count"],
            order["period_days"], order["first_date"]) == ("API0001", 12005, 12, 30, "2027-01-15")
    assert (order["purchaser_name"], order["mobile"], order["email"]) == (
        "王小明", "0912345678", "buyer@example.com")
    assert order["refund_notify_url"] == REFUND_URL and order["returned_at"] is None
    periods = order["periods"]
    assert [p["number"] for p in periods] == list(range(1, 13))
    assert [p["face_value"] for p in periods] == [1005] + [1000] * 11
    assert periods[1]["expected_date"] == "2027-02-14"
    assert {(p["status"], p["status_label"]) for p in periods} == {("unused", "未使用")}
    assert len({p["serial"] for p in periods}) == 12 and all(len(p["serial"]) == 16 for p in periods)

    assert client.get(f"{URL}/API0001", headers=headers).get_json() == order
    batch = db.session.scalars(select(InstallmentBatch)).one()
    assert (batch.import_no, batch.source, batch.status, batch.order_count) == (
        "API:API0001", "api", BatchStatus.SUCCEEDED, 1)
    assert db.session.scalars(select(InstallmentOrder.source)).one() == "api"
    issued = db.session.scalars(select(HistoryEntry).where(
        HistoryEntry.subject_type == "installment_orders", HistoryEntry.action == "issued")).one()
    owner = db.session.scalars(select(Account).where(Account.store_id == store.id)).one()
    assert (issued.actor_id, issued.store_id, issued.reason) == (owner.id, store.id, "批次 API:API0001")


def test_without_a_first_date_the_first_period_is_one_period_after_issue(client, api_shop):
    _, headers = api_shop
    order = post(client, headers, body(mobile=None)).get_json()
    assert order["first_date"] == (TODAY + timedelta(days=30)).isoformat()
    assert order["mobile"] == ""


def test_the_idempotency_key_is_required(client, api_shop):
    _, headers = api_shop
    response = post(client, headers, body(), key=None)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "idempotency_key_required" and "Idempotency-Key" in error["fields"]
    assert count(InstallmentOrder) == 0


def test_a_retry_gets_the_first_answer_and_issues_once(client, api_shop):
    _, headers = api_shop
    first = post(client, headers, body())
    again = post(client, headers, body())
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count(InstallmentOrder) == 1 and count(InstallmentPeriod) == 12

    reused = post(client, headers, body(total_amount=24000))
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"


def test_a_used_merchant_order_number_answers_409_with_the_field(client, api_shop):
    _, headers = api_shop
    post(client, headers, body())
    response = post(client, headers, body(), key="another-key")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "order_no_used"
    assert error["fields"] == {"merchant_order_no": "廠商訂單編號已使用於匯入單號 API:API0001"}
    assert count(InstallmentOrder) == 1


def test_an_uploaded_batch_number_is_taken_for_the_api_too(client, api_shop):
    store, headers = api_shop
    owner = db.session.scalars(select(Account).where(Account.store_id == store.id)).one()
    batch = issuing.prepare_batch(owner, store, import_no="UPLOAD1", rows=[
        {"廠商訂單編號": "API0001", "訂單總金額": 12000, "購買人姓名": "王", "手機": "0912345678",
         "_row": 2}])
    db.session.commit()
    assert issuing.confirm_batch(owner, store, batch) is Confirmation.QUEUED
    db.session.commit()
    response = post(client, headers, body())
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"] == {
        "merchant_order_no": "廠商訂單編號已使用於匯入單號 UPLOAD1"}


@pytest.mark.parametrize(("overrides", "fields"), [
    ({"merchant_order_no": ...}, {"merchant_order_no": "請填寫廠商訂單編號"}),
    ({"merchant_order_no": "API-1"}, {"merchant_order_no": "廠商訂單編號限英數字，最多 25 字"}),
    ({"total_amount": ...}, {"total_amount": "請填寫訂單總金額"}),
    ({"total_amount": 11}, {"total_amount": "訂單總金額須至少 12 元（共 12 期，每期至少 1 元）"}),
    ({"total_amount": 12000.5}, {"total_amount": "total_amount 須為整數"}),
    ({"total_amount": "12000"}, {"total_amount": "total_amount 須為整數"}),
    ({"total_amount": True}, {"total_amount": "total_amount 須為整數"}),
    ({"total_amount": 10**20}, {"total_amount": "訂單總金額最多 10,000,000 元"}),
    ({"purchaser_name": "王" * 51}, {"purchaser_name": "購買人姓名最多 50 字"}),
    ({"purchaser_name": ["王"]}, {"purchaser_name": "purchaser_name 須為字串"}),
    ({"mobile": "12345"}, {"mobile": "手機格式錯誤，須為 09 開頭的 10 碼數字"}),
    ({"mobile": None, "email": None}, {"mobile": "請填寫手機或 Email（至少一項）"}),
    ({"email": "nope"}, {"email": "Email 格式錯誤"}),
    ({"first_date": "2026-11-21"}, {"first_date": "首期預計核銷日須晚於今天"}),
    ({"first_date": "2030-01-01"}, {"first_date": "首期預計核銷日須在一年內（2027/11/21 以前）"}),
    ({"first_date": "soon"}, {"first_date": "日期格式錯誤，請填寫 yyyy/mm/dd"}),
    ({"first_date": 20270101}, {"first_date": "first_date 須為字串（yyyy-mm-dd）或 null"}),
    ({"period_count": 3}, {"period_count": "不支援的欄位"}),
    ({"merchant_order_no": "A\u0000B", "purchaser_name": "王\u0000明", "email": "a\u0000@b.com"},
     {"merchant_order_no": NUL_MESSAGE, "purchaser_name": NUL_MESSAGE, "email": NUL_MESSAGE}),
])
def test_wrong_fields_answer_422_with_the_uploads_messages(client, api_shop, overrides, fields):
    _, headers = api_shop
    response = post(client, headers, body(**overrides))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["fields"] == fields
    assert error["message"] in (next(iter(fields.values())), "不支援的欄位：period_count", NUL_MESSAGE)
    assert count(InstallmentOrder) == 0 and count(InstallmentBatch) == 0


def test_an_error_answer_is_kept_for_the_key_too(client, api_shop):
    _, headers = api_shop
    first = post(client, headers, body(total_amount=1))
    again = post(client, headers, body(total_amount=1))
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


@pytest.mark.parametrize(("data", "status", "code"), [
    ("[" * 8_000 + "]" * 8_000, 400, "bad_request"),  # deeper than the parser goes, under 16 KB
    ('{"a":' * 2_500 + "1" + "}" * 2_500, 400, "bad_request"),
    ('{"merchant_order_no": "' + "A" * 20_000 + '"}', 413, "too_large"),
    ("[1, 2]", 422, "invalid"),
    ("not json", 422, "invalid"),
])
def test_hostile_bodies_are_refused_cleanly(client, api_shop, data, status, code):
    _, headers = api_shop
    response = client.post(URL, headers={**headers, "Idempotency-Key": KEY}, data=data,
                           content_type="application/json")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert count(InstallmentOrder) == 0


def test_deep_json_is_400_not_a_crash_on_every_endpoint(client, ctx, token_for):  # noqa: F811
    owner = make_account(make_store(), username="ticketapi2")  # a ticket store: POST /batches
    db.session.commit()
    _, plain = token_for(owner)
    response = client.post("/api/v1/batches", headers=bearer(plain),
                           data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "請求內容的 JSON 巢狀層數過多"


def test_a_nul_byte_in_the_path_or_an_unknown_number_is_404(client, api_shop):
    _, headers = api_shop
    for number in ("A%00B", "NOSUCH", "X" * 26, "%E7%8E%8B"):
        response = client.get(f"{URL}/{number}", headers=headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] in (
            "找不到此訂單（或不屬於此商店）", "找不到此頁面或資料")  # a NUL: before the view


def test_another_stores_order_is_404_and_its_numbers_are_its_own(client, api_shop, token_for):  # noqa: F811
    _, headers = api_shop
    other, other_owner = installment_store("instapi02")
    _, plain = token_for(other_owner)
    assert post(client, bearer(plain), body()).status_code == 201
    assert client.get(f"{URL}/API0001", headers=headers).status_code == 404
    assert post(client, headers, body(), key="mine").status_code == 201  # the same number here
    mine = client.get(f"{URL}/API0001", headers=headers).get_json()
    theirs = client.get(f"{URL}/API0001", headers=bearer(plain)).get_json()
    assert mine["order_no"] != theirs["order_no"]


def test_rights_view_may_read_modify_may_issue(client, api_shop, token_for):  # noqa: F811
    store, _ = api_shop
    viewer = make_sub(store, "apiviewer1", grants={Function.INSTALLMENT_REPORTS: Level.VIEW})
    db.session.commit()
    _, plain = token_for(viewer)
    response = post(client, bearer(plain), body())
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "您沒有「分期核銷訂單報表」的修改權限"
    assert client.get(f"{URL}/API0001", headers=bearer(plain)).status_code == 404


def test_a_redeem_after_use_store_may_not_use_it(client, ctx, token_for):  # noqa: F811
    owner = make_account(make_store(mode=RedemptionMode.REDEEM_AFTER_USE), username="ticketapi1")
    db.session.commit()
    _, plain = token_for(owner)
    assert post(client, bearer(plain), body()).status_code == 403
    assert client.get(f"{URL}/API0001", headers=bearer(plain)).status_code == 403


def test_a_contract_without_redemption_settings_answers_409(client, ctx, token_for):  # noqa: F811
    freeze_today()
    _, owner = installment_store("instapi03", days=None)
    _, plain = token_for(owner)
    response = post(client, bearer(plain), body())
    assert response.status_code == 409
    assert "合約尚未設定核銷設定" in response.get_json()["error"]["message"]
    assert count(InstallmentOrder) == 0


def test_both_operations_are_in_the_openapi_document(client, ctx):
    document = client.get("/api/v1/openapi.json").get_json()
    create = document["paths"]["/installment-orders"]["post"]
    read = document["paths"]["/installment-orders/{merchant_order_no}"]["get"]
    assert create["operationId"] == "create_installment_order"
    assert read["operationId"] == "installment_order"
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True and key["in"] == "header"
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["merchant_order_no", "total_amount", "purchaser_name"]
    assert set(schema["properties"]) == {"merchant_order_no", "total_amount", "purchaser_name",
                                         "mobile", "email", "first_date"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InstallmentOrder"}
    assert {"409", "413", "422"} <= set(create["responses"])
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InstallmentOrder"}
    order = document["components"]["schemas"]["InstallmentOrder"]
    assert order["properties"]["periods"]["items"] == {"$ref": "#/components/schemas/InstallmentPeriod"}
    assert document["paths"]["/batches"]["post"].get("parameters") is None or all(
        p["name"] != "Idempotency-Key" for p in document["paths"]["/batches"]["post"]["parameters"])
