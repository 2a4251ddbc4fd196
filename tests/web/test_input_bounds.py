"""No server error from input, on PostgreSQL: integers beyond a column's range, NUL bytes, JSON
nested without end, `%00` in a path. Each case answers a clear 4xx (404 for an id no row can
have, 422 with the field's message, 400 for a request no form could send)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.auth.models import LoginEvent
from app.auth.services import create_api_token
from app.db import db
from app.installments.models import InstallmentBatch
from app.issuance.models import Batch
from app.products.models import Product
from tests.factories import (
    login,
    make_account,
    make_installment_store,
    make_order,
    make_store,
)
from tests.installments.test_issue_views import order_row
from tests.installments.test_issue_views import template_file as installment_file
from tests.installments.test_issue_views import upload as installment_upload
from tests.issuance.helpers import ready_store
from tests.issuance.page_helpers import template_file, upload
from tests.products.helpers import freeze_today

pytestmark = pytest.mark.postgres

HUGE = "99999999999999999999"


@pytest.fixture
def merchant(pg_app):
    """A store with a product and an order, its main account logged in, and an API token."""
    with pg_app.app_context():
        freeze_today()
        store, owner, pickup, _ = ready_store("boundmain1")
        order = make_order(store, product=pickup)
        _, plain = create_api_token(owner, "bounds")
        db.session.commit()
        ids = {"store": store.id, "product": pickup.id, "order": order.id,
               "ticket": order.tickets[0].id, "serial": order.tickets[0].serial}
    client = pg_app.test_client()
    login(client, "boundmain1")
    return client, ids, {"Authorization": f"Bearer {plain}"}


# Integers beyond a column's range ------------------------------------------------------------

@pytest.mark.parametrize("path", [
    f"/orders/{HUGE}", f"/orders/{2**31}", f"/products/{2**31}/edit", f"/products/{HUGE}/history",
    f"/issuance/batches/{2**31}", f"/reports/tickets/{2**63}/history", f"/reports/exports/{HUGE}",
    f"/api/v1/products/{2**31}", f"/api/v1/batches/{HUGE}",
])
def test_an_id_beyond_its_column_is_a_404(merchant, path):
    client, _, token = merchant
    response = client.get(path, headers=token if path.startswith("/api/") else {})
    assert response.status_code == 404


def test_a_ticket_id_beyond_an_integer_but_within_a_bigint_is_looked_up(merchant):
    client, ids, _ = merchant
    assert client.get(f"/reports/tickets/{2**31}/history").status_code == 404
    assert client.get(f"/reports/tickets/{ids['ticket']}/history").status_code == 200


def test_a_form_integer_beyond_its_column_is_the_fields_message(merchant):
    client, _, _ = merchant
    response = client.post("/products/new", data={
        "kind": "pickup", "name": "大數字券", "face_value": HUGE, "escrow_end": "2027-12-31"})
    assert response.status_code == 422
    assert "數值超出允許範圍" in response.get_data(as_text=True)
    response = client.post("/products/new", data={
        "kind": "pickup", "name": "大數字券", "face_value": "500", "escrow_end": "2027-12-31",
        "redeem_branches": str(2**31)})
    assert response.status_code in (200, 302, 303, 422)


@pytest.mark.parametrize("query", [f"page={HUGE}", f"page={2**62}", "page=-3", f"per_page={HUGE}"])
def test_a_page_number_beyond_range_is_the_first_page_or_a_422(merchant, query):
    client, _, token = merchant
    assert client.get(f"/orders/?{query}").status_code == 200
    response = client.get(f"/api/v1/products?{query}", headers=token)
    assert response.status_code == 422
    name = query.partition("=")[0]
    assert name in response.get_json()["error"]["fields"]


def test_an_api_body_integer_beyond_its_column_is_a_422(merchant):
    client, ids, token = merchant
    response = client.patch(f"/api/v1/products/{ids['product']}", headers=token,
                            json={"redeem_branches": [2**31]})
    assert response.status_code in (409, 422)
    response = client.post("/api/v1/products", headers=token, json={
        "name": "大面額", "kind": "pickup", "face_value": int(HUGE), "escrow_end": "2027-12-31"})
    assert response.status_code == 422
    assert "face_value" in response.get_json()["error"]["fields"]


# The uploaded spreadsheet --------------------------------------------------------------------

def test_a_product_number_beyond_an_integer_is_refused_on_its_row_and_the_preview_answers(
        pg_app, merchant):
    client, ids, _ = merchant
    with pg_app.app_context():
        product = db.session.get(Product, ids["product"])
        data = template_file([[2147483648, 1, "BIG0001", "王小明", "0912345678", "a@example.com", None],
                              [product.id, "²", "BIG0002", "王小明", "0912345678", "a@example.com", None]])
    response = upload(client, data, import_no="BIGNUM1")
    assert response.status_code in (200, 303, 422)
    with pg_app.app_context():
        batch = db.session.scalars(select(Batch).where(Batch.import_no == "BIGNUM1")).one()
        first, second = batch.rows
        batch_id = batch.id
    assert first["errors"]["商品編號"] == "查無此商品編號"
    assert first["values"]["product_id"] is None
    assert "數量" in second["errors"]
    page = client.get(f"/issuance/batches/{batch_id}")
    assert page.status_code == 200
    assert "查無此商品編號" in page.get_data(as_text=True)


def test_a_stored_preview_with_an_impossible_product_number_cannot_poison_its_page(pg_app, merchant):
    client, ids, _ = merchant
    data = template_file([[ids["product"], 1, "OLD0001", "王小明", "0912345678", "a@example.com", None]])
    assert upload(client, data, import_no="OLDROWS").status_code < 500
    with pg_app.app_context():
        batch = db.session.scalars(select(Batch).where(Batch.import_no == "OLDROWS")).one()
        rows = [dict(batch.rows[0])]
        rows[0]["values"] = {**rows[0]["values"], "product_id": 2147483648}  # as an older reader kept it
        batch.rows = rows
        db.session.commit()
        batch_id = batch.id
    for path in (f"/issuance/batches/{batch_id}", f"/issuance/batches/{batch_id}/errors.xlsx"):
        assert client.get(path).status_code in (200, 404)


def test_an_installment_total_beyond_any_column_is_refused_on_its_row(pg_app):
    with pg_app.app_context():
        freeze_today()
        store = make_installment_store(periods=3)
        make_account(store, username="bigtotal1")
        db.session.commit()
    client = pg_app.test_client()
    login(client, "bigtotal1")
    data = installment_file([order_row("BIG0001", "9" * 5000), order_row("BIG0002", HUGE)])
    response = installment_upload(client, data, import_no="BIGTOT1")
    assert response.status_code < 500
    with pg_app.app_context():
        batch = db.session.scalars(select(InstallmentBatch)).one()
        errors = [r["errors"].get("訂單總金額") for r in batch.rows]
        totals = [r["values"]["total_amount"] for r in batch.rows]
        batch_id = batch.id
    assert all(e and "最多" in e for e in errors)
    assert totals == [0, 0]
    assert client.get(f"/installments/issue/batches/{batch_id}").status_code == 200


# NUL bytes -----------------------------------------------------------------------------------

def test_a_nul_in_the_login_form_is_a_422_and_nothing_is_stored(pg_app):
    with pg_app.app_context():
        make_account(make_store(), username="nullogin1")
        db.session.commit()
    client = pg_app.test_client()
    response = client.post("/login", data={"username": "nul\x00login1", "password": "x\x00"})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_the_user_agent_is_a_400(pg_app):
    with pg_app.app_context():
        make_account(make_store(), username="nulagent1")
        db.session.commit()
    client = pg_app.test_client()
    response = client.post("/login", data={"username": "nulagent1", "password": "Passw0rd"},
                           headers={"User-Agent": "Mozilla\x00/5.0"})
    assert response.status_code == 400
    with pg_app.app_context():
        assert db.session.scalars(select(LoginEvent)).all() == []


@pytest.mark.parametrize("path", ["/orders/?q=a%00b", "/reports/tickets?serial=%00", "/search?q=x%00"])
def test_a_nul_in_a_query_is_a_422(merchant, path):
    client, _, _ = merchant
    response = client.get(path)
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_note_or_a_wallet_form_is_a_422(merchant):
    client, ids, _ = merchant
    response = client.post(f"/tickets/{ids['serial']}/notes", data={"note": "備註\x00"})
    assert response.status_code == 422
    wallet = client.post("/t/some-token/code", data={"mobile": "0912\x00345678"})
    assert wallet.status_code == 422


def test_a_nul_in_an_api_string_is_a_422_naming_it(merchant):
    client, _, token = merchant
    response = client.post("/api/v1/products", headers=token, json={
        "name": "咖啡\x00券", "kind": "pickup", "face_value": 100, "escrow_end": "2027-12-31"})
    assert response.status_code == 422
    assert "NUL" in response.get_json()["error"]["message"]
    assert list(response.get_json()["error"]["fields"]) == ["name"]
    response = client.get("/api/v1/products?q=%00", headers=token)
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/tickets/%00", "/tickets/A%00B/notes", "/t/%00", "/cvs/%00",
                                  "/api/v1/tickets/%00", "/billing/bills/%00", "/media/%00"])
def test_a_nul_in_a_path_is_a_404(merchant, path):
    client, _, token = merchant
    method = "POST" if path.endswith("/notes") else "GET"
    response = client.open(path, method=method, headers=token if path.startswith("/api/") else {})
    assert response.status_code == 404


# JSON nested without end ---------------------------------------------------------------------

@pytest.mark.parametrize("opening,closing", [("[", "]"), ('{"a":', "}")])
def test_json_nested_100000_deep_is_a_400(merchant, opening, closing):
    client, ids, token = merchant
    body = opening * 100_000 + "1" + closing * 100_000
    for method, path in (("POST", "/api/v1/products"), ("PATCH", f"/api/v1/products/{ids['product']}"),
                         ("POST", "/api/v1/redemptions"), ("POST", "/api/v1/batches")):
        response = client.open(path, method=method, data=body, headers=token,
                               content_type="application/json")
        assert response.status_code == 400, path
        assert response.get_json()["error"]["message"] == "請求內容的 JSON 巢狀層數過多"


def test_json_nested_a_little_deeper_than_any_body_needs_is_a_400(merchant):
    client, _, token = merchant
    body = json.dumps({"name": "[" * 70 + "x" + "]" * 70})  # a string: not nested
    nested = '{"name": ' + "[" * 70 + '"x"' + "]" * 70 + "}"
    assert client.post("/api/v1/products", data=body, headers=token,
                       content_type="application/json").status_code == 422
    body = nested
    response = client.post("/api/v1/products", data=body, headers=token,
                           content_type="application/json")
    assert response.status_code == 400
    shallow = client.post("/api/v1/products", json={"name": [["x"]]}, headers=token)
    assert shallow.status_code == 422
