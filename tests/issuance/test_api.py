"""POST /api/v1/batches, GET /api/v1/batches/<id>, GET /api/v1/tickets/<serial>: issuance by API
with the upload's rules and idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.history import HistoryEntry
from app.issuance.models import Batch, BatchStatus
from app.stores.models import DeliveryMethod
from app.tickets.models import Ticket
from tests.api.conftest import bearer, token_for  # noqa: F401  (the API tests' token fixture)
from tests.factories import make_sub
from tests.issuance.helpers import ready_store
from tests.issuance.page_helpers import batches, tickets
from tests.products.helpers import freeze_today

BASE = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL's default
TICKET_KEYS = {"serial", "code", "link", "pickup_code", "status", "order_no", "merchant_order_no",
               "face_value", "product_id", "valid_from", "expires_on"}


@pytest.fixture
def api_shop(ctx, token_for):  # noqa: ANN001, ANN201, F811
    freeze_today()
    store, owner, pickup, gift = ready_store("apiowner1")
    _, plain = token_for(owner)
    return store, bearer(plain), pickup, gift


def api_rows(product, count_: int = 1, quantity: int = 1, prefix: str = "API", **extra) -> list:  # noqa: ANN001
    return [{"product_id": product.id, "quantity": quantity, "merchant_order_no": f"{prefix}{i:04d}",
             "purchaser_name": f"購買人{i}", "mobile": "0912345678", "email": "buyer@example.com",
             **extra} for i in range(count_)]


def body(rows: list, **overrides: object) -> dict:
    data = {"import_no": "API001", "delivery_type": "electronic", "method": "immediate",
            "kind": "pickup", "rows": rows}
    data.update(overrides)
    return data


def post(client, headers, payload):  # noqa: ANN001, ANN201
    return client.post("/api/v1/batches", headers=headers, json=payload)


def test_a_1000_ticket_batch_is_accepted_then_succeeds_with_every_ticket(client, api_shop):
    _, headers, pickup, _ = api_shop
    response = post(client, headers, body(api_rows(pickup, 10, quantity=100), platform_id="POS01"))
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert set(accepted) == {"id", "status"}
    assert accepted["status"] in {"queued", "issuing", "succeeded"}
    assert response.headers["Location"].endswith(f"/api/v1/batches/{accepted['id']}")

    result = client.get(f"/api/v1/batches/{accepted['id']}", headers=headers)
    assert result.status_code == 200
    got = result.get_json()
    assert got["status"] == "succeeded" and got["progress"] == 100 and got["errors"] is None
    assert got["import_no"] == "API001" and len(got["tickets"]) == 1000
    first = got["tickets"][0]
    assert set(first) == TICKET_KEYS
    assert len(first["serial"]) == 16 and first["status"] == "unused"
    assert first["link"].startswith(f"{BASE}/t/") and first["pickup_code"] is None
    assert first["face_value"] == 150 and first["product_id"] == pickup.id
    assert first["merchant_order_no"] == "API0000" and first["valid_from"] is None
    assert first["expires_on"] == pickup.escrow_end.isoformat()
    assert len({t["serial"] for t in got["tickets"]}) == 1000
    assert len({t["code"] for t in got["tickets"]}) == 1000
    assert tickets() == 1000
    batch = db.session.get(Batch, accepted["id"])
    assert batch.source == "api" and batch.platform_id == "POS01"
    assert {t.platform_id for t in db.session.scalars(select(Ticket))} == {"POS01"}


def test_1001_tickets_are_refused_and_nothing_is_kept(client, api_shop):
    _, headers, pickup, _ = api_shop
    rows = api_rows(pickup, 2, quantity=500) + api_rows(pickup, 1, prefix="X")
    response = post(client, headers, body(rows))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_rows" and error["rows"] == []
    assert error["batch_errors"] == ["每次發行上限為 1000 張（此批共 1001 張）"]
    assert batches() == 0 and tickets() == 0


def test_wrong_rows_answer_422_with_each_rows_errors_and_leave_nothing(client, api_shop):
    _, headers, pickup, gift = api_shop
    rows = api_rows(pickup, 4)
    rows[1]["mobile"] = "12345"
    rows[2]["product_id"] = 999_999
    rows[3]["product_id"] = gift.id  # a gift voucher in a pickup batch
    rows[3]["quantity"] = 0
    response = post(client, headers, body(rows))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_rows" and "3 列錯誤" in error["message"]
    assert error["batch_errors"] == []
    assert error["rows"] == [
        {"row": 2, "errors": {"mobile": "手機格式錯誤，須為 09 開頭的 10 碼數字"}},
        {"row": 3, "errors": {"product_id": "查無此商品編號"}},
        {"row": 4, "errors": {"product_id": "此商品不是提貨券，與選擇的票券類型不符",
                              "quantity": "數量須為 1 到 1000 的整數"}},
    ]
    assert batches() == 0 and tickets() == 0
    assert db.session.scalar(select(func.count()).select_from(HistoryEntry).where(
        HistoryEntry.subject_type == Batch.__tablename__)) == 0  # not even the preview's entry


def test_the_same_import_number_twice_is_409_and_issues_nothing_more(client, api_shop):
    _, headers, pickup, _ = api_shop
    assert post(client, headers, body(api_rows(pickup, 3))).status_code == 202
    assert tickets() == 3
    again = post(client, headers, body(api_rows(pickup, 2, prefix="NEW")))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "import_no_used"
    assert "此匯入單號已使用" in again.get_json()["error"]["message"]
    same = post(client, headers, body(api_rows(pickup, 3)))  # a retried request
    assert same.status_code == 409
    assert tickets() == 3 and batches() == 1


def test_an_unknown_type_and_method_combination_is_422(client, api_shop):
    _, headers, pickup, _ = api_shop
    for delivery_type, method in (("paper", "ibon"), ("electronic", "print"), ("mail", "immediate")):
        response = post(client, headers, body(api_rows(pickup), delivery_type=delivery_type,
                                              method=method))
        assert response.status_code == 422, (delivery_type, method)
        assert set(response.get_json()["error"]["fields"]) == {"delivery_type", "method"}
    missing = post(client, headers, {"delivery_type": "electronic", "method": "immediate",
                                     "rows": api_rows(pickup)})
    assert missing.status_code == 422 and "import_no" in missing.get_json()["error"]["fields"]
    unknown = post(client, headers, body(api_rows(pickup), priority="high"))
    assert unknown.status_code == 422 and unknown.get_json()["error"]["fields"] == {
        "priority": "不支援的欄位"}
    not_json = client.post("/api/v1/batches", headers=headers, data="rows")
    assert not_json.status_code == 422
    assert batches() == 0


def test_a_method_the_contract_lacks_is_409(ctx, client, token_for):  # noqa: F811
    freeze_today()
    _, owner, pickup, _ = ready_store("apiowner2", methods=[DeliveryMethod.IMMEDIATE])
    _, plain = token_for(owner)
    response = post(client, bearer(plain), body(api_rows(pickup), delivery_type="cvs",
                                                method="ibon"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "method_not_enabled"
    assert batches() == 0


def test_cvs_tickets_carry_the_pickup_code_and_no_link(client, api_shop):
    _, headers, pickup, _ = api_shop
    accepted = post(client, headers, body(api_rows(pickup, quantity=2), delivery_type="cvs",
                                          method="ibon")).get_json()
    got = client.get(f"/api/v1/batches/{accepted['id']}", headers=headers).get_json()
    assert [t["link"] for t in got["tickets"]] == [None, None]
    codes = {t["pickup_code"] for t in got["tickets"]}
    assert len(codes) == 1 and next(iter(codes))


def test_deferred_tickets_carry_their_start_date(client, api_shop):
    _, headers, _, gift = api_shop
    start = (clock.business_day() + timedelta(days=10)).isoformat()
    response = post(client, headers, body(api_rows(gift, valid_from=start), method="deferred",
                                          kind="gift"))
    assert response.status_code == 202, response.get_json()
    got = client.get(f"/api/v1/batches/{response.get_json()['id']}", headers=headers).get_json()
    assert got["tickets"][0]["valid_from"] == start
    assert got["tickets"][0]["expires_on"] == gift.valid_until.isoformat()


def test_one_ticket_by_serial(client, api_shop):
    _, headers, pickup, _ = api_shop
    accepted = post(client, headers, body(api_rows(pickup, quantity=2))).get_json()
    listed = client.get(f"/api/v1/batches/{accepted['id']}", headers=headers).get_json()["tickets"]
    serial = listed[1]["serial"]
    response = client.get(f"/api/v1/tickets/{serial}", headers=headers)
    assert response.status_code == 200 and response.get_json() == listed[1]
    assert client.get(f"/api/v1/tickets/{serial.lower()}", headers=headers).get_json() == listed[1]
    missing = client.get("/api/v1/tickets/NOSUCHSERIAL0000", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_a_batch_not_yet_issued_lists_no_tickets(client, api_shop, monkeypatch):
    from app import jobs

    _, headers, pickup, _ = api_shop
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)  # the job waits
    accepted = post(client, headers, body(api_rows(pickup, 2)))
    assert accepted.status_code == 202 and accepted.get_json()["status"] == "queued"
    got = client.get(f"/api/v1/batches/{accepted.get_json()['id']}", headers=headers).get_json()
    assert got == {"id": accepted.get_json()["id"], "import_no": "API001", "status": "queued",
                   "progress": 0, "errors": None, "tickets": []}


def test_another_stores_batch_and_ticket_are_not_found(client, api_shop, token_for):  # noqa: F811
    _, headers, pickup, _ = api_shop
    accepted = post(client, headers, body(api_rows(pickup))).get_json()
    serial = db.session.scalar(select(Ticket.serial))
    _, other_owner, _, _ = ready_store("apiowner3")
    _, other_plain = token_for(other_owner)
    other = bearer(other_plain)
    assert client.get(f"/api/v1/batches/{accepted['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/tickets/{serial}", headers=other).status_code == 404
    assert client.get(f"/api/v1/batches/{accepted['id']}", headers=headers).status_code == 200


def test_posting_needs_the_issuance_modify_right(client, api_shop, token_for):  # noqa: F811
    store, headers, pickup, _ = api_shop
    viewer = make_sub(store, username="apiviewer1", grants={Function.ISSUANCE: Level.VIEW})
    db.session.commit()
    _, plain = token_for(viewer)
    accepted = post(client, headers, body(api_rows(pickup))).get_json()
    refused = post(client, bearer(plain), body(api_rows(pickup, prefix="V"), import_no="API002"))
    assert refused.status_code == 403 and batches() == 1
    assert client.get(f"/api/v1/batches/{accepted['id']}", headers=bearer(plain)).status_code == 200
    assert client.post("/api/v1/batches", json=body(api_rows(pickup))).status_code == 401


def test_the_batch_routes_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    post_op = document["paths"]["/batches"]["post"]
    assert {"202", "409", "422"} <= set(post_op["responses"])
    assert post_op["x-ectix-permission"] == {"function": "issuance", "level": "modify"}
    assert "get" in document["paths"]["/batches/{batch_id}"]
    assert "get" in document["paths"]["/tickets/{serial}"]
    assert document["components"]["schemas"]["Batch"]["properties"]["tickets"]["items"] == {
        "$ref": "#/components/schemas/IssuedTicket"}
    assert BatchStatus.SUCCEEDED.value in document["components"]["schemas"]["Batch"][
        "properties"]["status"]["enum"]
