"""GET/POST /api/v1/products and GET/PATCH /api/v1/products/<id>: the pages' rules as JSON."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.products.models import BranchRole, ProductKind
from app.products.services import LOCKED_MESSAGE, PARTNER_NOT_OPEN
from tests.api.conftest import bearer
from tests.factories import make_account, make_branch, make_product, make_relation, make_store, make_sub
from tests.products.helpers import TODAY, entries, freeze_today, reload

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


@pytest.fixture
def api_shop(ctx, token_for):  # noqa: ANN001, ANN201
    freeze_today()
    store = make_store("好吃餐廳")
    owner = make_account(store, username="owner01")
    branch = make_branch(store, "A01", "台北店")
    partner = make_store("合作夥伴")
    make_relation(store, partner)
    db.session.commit()
    _, plain = token_for(owner)
    return store, bearer(plain), branch, partner


def _new_body(**overrides: object) -> dict:
    body = {"name": "API 提貨券", "kind": "pickup", "face_value": 300,
            "escrow_end": (TODAY + timedelta(days=200)).isoformat(),
            "description": "說明", "usage_instructions": "使用方式"}
    body.update(overrides)
    return body


def test_create_then_read_a_product(client, api_shop):
    store, headers, branch, partner = api_shop
    response = client.post("/api/v1/products", headers=headers, json=_new_body(
        partner_stores=[partner.id], redeem_branches=[branch.id], return_branches=[]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/products/{body['id']}")
    assert body["name"] == "API 提貨券" and body["kind"] == "pickup"
    assert body["face_value"] == 300 and body["listed"] is True and body["has_issued"] is False
    assert body["escrow_end"] == (TODAY + timedelta(days=200)).isoformat()
    assert body["valid_until"] is None
    assert body["partner_stores"] == [{"id": partner.id, "merchant_code": partner.merchant_code,
                                       "name": "合作夥伴"}]
    assert body["redeem_branches"] == [{"id": branch.id, "code": "A01", "name": "台北店"}]
    assert body["return_branches"] == [] and body["image_url"] is None
    assert ISO_UTC.match(body["created_at"]) and ISO_UTC.match(body["updated_at"])
    assert [e.action for e in entries(body["id"])] == ["created"]

    again = client.get(f"/api/v1/products/{body['id']}", headers=headers)
    assert again.status_code == 200 and again.get_json() == body
    listing = client.get("/api/v1/products", headers=headers).get_json()
    assert listing["total"] == 1 and listing["items"] == [body]


def test_list_filters_and_paginates(client, api_shop):
    store, headers, _, _ = api_shop
    make_product(store, "提貨一")
    make_product(store, "贈品一", kind=ProductKind.GIFT)
    make_product(store, "下架提貨", listed=False)
    db.session.commit()

    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/products{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return sorted(p["name"] for p in response.get_json()["items"])

    assert names("?kind=gift") == ["贈品一"]
    assert names("?listed=false") == ["下架提貨"]
    assert names("?q=提貨&listed=true") == ["提貨一"]
    assert names(f"?start={TODAY.isoformat()}") == ["下架提貨", "提貨一", "贈品一"]
    page = client.get("/api/v1/products?per_page=2&page=2", headers=headers).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1
    bad = client.get("/api/v1/products?kind=ticket", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["kind"]
    too_long = client.get("/api/v1/products?start=2024-01-01", headers=headers)
    assert too_long.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_new_body(kind="gift", escrow_end=None), "valid_until"),
        (_new_body(escrow_end=TODAY.isoformat()), "escrow_end"),
        (_new_body(escrow_end="2026/13/01"), "escrow_end"),
        (_new_body(face_value=0), "face_value"),
        (_new_body(face_value="300"), "face_value"),
        (_new_body(face_value=True), "face_value"),
        (_new_body(kind="voucher"), "kind"),
        (_new_body(name=""), "name"),
        (_new_body(redeem_branches=["1"]), "redeem_branches"),
        (_new_body(listed=False), "listed"),
        ({"kind": "pickup"}, "name"),
    ],
)
def test_bad_input_answers_422_per_field(client, api_shop, body, field):
    _, headers, _, _ = api_shop
    response = client.post("/api/v1/products", headers=headers, json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert client.get("/api/v1/products", headers=headers).get_json()["total"] == 0


def test_forged_partner_and_branch_ids_are_refused(client, api_shop):
    _, headers, _, _ = api_shop
    stranger = make_store("不相干")
    foreign_branch = make_branch(stranger, "Z01")
    db.session.commit()
    response = client.post("/api/v1/products", headers=headers,
                           json=_new_body(partner_stores=[stranger.id]))
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"partner_stores": PARTNER_NOT_OPEN}
    response = client.post("/api/v1/products", headers=headers,
                           json=_new_body(return_branches=[foreign_branch.id]))
    assert response.status_code == 422
    assert "return_branches" in response.get_json()["error"]["fields"]


def test_patch_changes_only_the_given_fields(client, api_shop):
    store, headers, branch, _ = api_shop
    product = make_product(store, "原名", face_value=100)
    db.session.commit()
    response = client.patch(f"/api/v1/products/{product.id}", headers=headers,
                            json={"face_value": 120, "return_branches": [branch.id]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["face_value"] == 120 and body["name"] == "原名"
    assert body["return_branches"] == [{"id": branch.id, "code": "A01", "name": "台北店"}]
    [updated] = entries(product.id)
    assert updated.changes["face_value"] == [100, 120]
    assert updated.changes["return_branches"] == [[], ["A01 台北店"]]
    bad = client.patch(f"/api/v1/products/{product.id}", headers=headers,
                       json={"face_value": 2_000_000})
    assert bad.status_code == 422 and "face_value" in bad.get_json()["error"]["fields"]
    assert reload(product.id).face_value == 120


def test_patch_after_issuance_is_409_for_locked_fields_but_lists_change(client, api_shop):
    store, headers, branch, partner = api_shop
    product = make_product(store, "已發行", face_value=500)
    product.first_issued_at = clock.now()
    db.session.commit()
    for change in ({"face_value": 600}, {"name": "改名", "partner_stores": [partner.id]},
                   {"kind": "gift", "valid_until": TODAY.isoformat()},
                   {"usage_instructions": "新說明"}):
        response = client.patch(f"/api/v1/products/{product.id}", headers=headers, json=change)
        assert response.status_code == 409
        assert response.get_json()["error"]["message"] == LOCKED_MESSAGE
    product = reload(product.id)
    assert product.face_value == 500 and product.partner_links == []
    assert entries(product.id) == []

    # Sending the unchanged values along is fine (a client may PATCH back what it read).
    response = client.patch(f"/api/v1/products/{product.id}", headers=headers, json={
        "face_value": 500, "name": "已發行", "partner_stores": [partner.id],
        "redeem_branches": [branch.id]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["has_issued"] is True
    assert [p["id"] for p in body["partner_stores"]] == [partner.id]
    product = reload(product.id)
    assert product.branch_ids(BranchRole.REDEEM) == {branch.id}


def test_another_stores_product_is_404_and_rights_are_checked(client, api_shop, token_for):
    store, headers, _, _ = api_shop
    other = make_store("別家")
    foreign = make_product(other, "別家商品")
    mine = make_product(store, "我的商品")
    viewer = make_sub(store, username="viewer01", grants={Function.PRODUCTS: Level.VIEW})
    clerk = make_sub(store, username="clerk01", grants={Function.REDEEM: Level.MODIFY})
    db.session.commit()
    assert client.get(f"/api/v1/products/{foreign.id}", headers=headers).status_code == 404
    response = client.patch(f"/api/v1/products/{foreign.id}", headers=headers,
                            json={"name": "偷改"})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert reload(foreign.id).name == "別家商品"
    names = [p["name"] for p in client.get("/api/v1/products", headers=headers)
             .get_json()["items"]]
    assert names == ["我的商品"]

    _, viewer_token = token_for(viewer)
    view = bearer(viewer_token)
    assert client.get(f"/api/v1/products/{mine.id}", headers=view).status_code == 200
    assert client.post("/api/v1/products", headers=view, json=_new_body()).status_code == 403
    assert client.patch(f"/api/v1/products/{mine.id}", headers=view,
                        json={"name": "x"}).status_code == 403
    _, clerk_token = token_for(clerk)
    assert client.get("/api/v1/products", headers=bearer(clerk_token)).status_code == 403
    assert client.get("/api/v1/products").status_code == 401


def test_products_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(document["paths"]["/products"])
    assert {"get", "patch"} <= set(document["paths"]["/products/{product_id}"])
    product = document["components"]["schemas"]["Product"]
    assert {"escrow_end", "valid_until", "partner_stores", "redeem_branches",
            "return_branches", "has_issued"} <= set(product["properties"])
    patch = document["paths"]["/products/{product_id}"]["patch"]
    assert "409" in patch["responses"] and "422" in patch["responses"]
    assert patch["x-ectix-permission"] == {"function": "products", "level": "modify"}
