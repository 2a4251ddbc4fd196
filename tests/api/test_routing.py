"""`Api.route` (what features use to add API routes): permissions, JSON bodies, the document."""

from __future__ import annotations

import pytest
from flask import Blueprint
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from app.api.payloads import json_form
from app.api.routing import Api
from app.auth.permissions import Function, Level
from app.extensions import csrf
from app.stores.models import RedemptionMode
from tests.api.conftest import bearer
from tests.factories import make_account, make_store, make_sub


class PriceForm(FlaskForm):
    class Meta:
        csrf = False

    amount = IntegerField("金額", validators=[InputRequired(), NumberRange(min=1, max=100000)])


class ThingForm(FlaskForm):
    name = StringField("名稱", validators=[DataRequired(message="請輸入名稱"), Length(max=10)])
    price = IntegerField("面額", validators=[InputRequired(message="請輸入面額"),
                                           NumberRange(min=1, message="面額須大於 0")])
    active = BooleanField("啟用")
    kind = SelectField("種類", choices=[SelectChoice("paper", "紙本"),
                                              SelectChoice("cvs", "超商")])
    tags = SelectMultipleField("標籤", choices=[SelectChoice("a"), SelectChoice("b")])
    code = StringField("代碼", validators=[Optional(), Regexp(r"^[A-Z]+$", message="大寫英文")])
    extra = FormField(PriceForm)
    notes = FieldList(StringField("備註"))


@pytest.fixture
def things(app) -> Api:  # noqa: ANN001
    """A throwaway API blueprint declared the way features declare theirs."""
    test_bp = Blueprint("api_things", __name__, url_prefix="/api/v1/test")
    csrf.exempt(test_bp)
    api = Api(test_bp, title="things", version="0")
    thing = api.schema("Thing", {"type": "object"})

    @api.route("/things/<int:thing_id>", summary="一件", requires=(Function.PRODUCTS, Level.VIEW),
               responses={200: thing})
    def show(thing_id: int):
        return {"id": thing_id}

    @api.route("/things", ["POST"], summary="新增", requires=(Function.PRODUCTS, Level.MODIFY),
               request_schema=ThingForm, responses={201: ("已新增", thing)})
    def create():
        form = json_form(ThingForm)
        return {"name": form.name.data, "price": form.price.data, "active": form.active.data,
                "kind": form.kind.data, "tags": form.tags.data, "code": form.code.data,
                "extra": form.extra.data, "notes": form.notes.data}, 201

    app.register_blueprint(test_bp)
    return api


def _tokens(token_for):  # noqa: ANN001, ANN202
    store = make_store()
    main = make_account(store)
    viewer = make_sub(store, grants={Function.PRODUCTS: Level.VIEW})
    nobody = make_sub(store, grants={Function.REDEEM: Level.MODIFY})
    return (bearer(token_for(main)[1]), bearer(token_for(viewer)[1]),
            bearer(token_for(nobody)[1]))


VALID = {"name": "禮券", "price": 500, "active": False, "kind": "cvs", "tags": ["a", "b"],
         "extra": {"amount": 3}, "notes": ["x", "y"]}


def test_requires_applies_the_ui_permission_check(client, ctx, token_for, things):
    main, viewer, nobody = _tokens(token_for)
    refused = client.get("/api/v1/test/things/7", headers=nobody)
    assert refused.status_code == 403
    assert refused.get_json() == {"error": {"code": "forbidden",
                                            "message": "您沒有「商品管理」的查詢權限"}}
    assert client.get("/api/v1/test/things/7", headers=viewer).get_json() == {"id": 7}
    refused = client.post("/api/v1/test/things", headers=viewer, json=VALID)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == "您沒有「商品管理」的修改權限"
    assert client.post("/api/v1/test/things", headers=main, json=VALID).status_code == 201
    assert client.get("/api/v1/test/things/7").status_code == 401  # the guard covers new routes


def test_requires_respects_the_stores_redemption_mode(client, ctx, token_for, things):
    main = make_account(make_store(mode=RedemptionMode.INSTALLMENT))
    response = client.get("/api/v1/test/things/1", headers=bearer(token_for(main)[1]))
    assert response.status_code == 403


def test_json_form_parses_a_json_body_with_wtforms(client, ctx, token_for, things):
    main, _, _ = _tokens(token_for)
    response = client.post("/api/v1/test/things", headers=main, json=VALID)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {"name": "禮券", "price": 500, "active": False, "kind": "cvs",
                                   "tags": ["a", "b"], "code": None, "extra": {"amount": 3},
                                   "notes": ["x", "y"]}
    assert client.post("/api/v1/test/things", headers=main,
                       json={**VALID, "active": True}).get_json()["active"] is True


def test_json_form_refuses_bad_input_with_field_messages(client, ctx, token_for, things):
    main, _, _ = _tokens(token_for)
    response = client.post("/api/v1/test/things", headers=main,
                           json={"price": 0, "kind": "cvs", "code": "abc",
                                 "extra": {"amount": 0}})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["name"] == "請輸入名稱"
    assert error["fields"]["price"] == "面額須大於 0"
    assert error["fields"]["code"] == "大寫英文"
    assert "extra.amount" in error["fields"]
    assert error["message"] in error["fields"].values()
    not_json = client.post("/api/v1/test/things", headers=main, data="name=x")
    assert not_json.status_code == 422
    assert "JSON" in not_json.get_json()["error"]["message"]
    a_list = client.post("/api/v1/test/things", headers=main, json=[1, 2])
    assert a_list.status_code == 422


def test_the_document_describes_permission_and_body_from_the_form(client, things):
    doc = client.get("/api/v1/test/openapi.json").get_json()
    assert doc["servers"] == [{"url": "/api/v1/test"}]
    show = doc["paths"]["/things/{thing_id}"]["get"]
    assert show["x-ectix-permission"] == {"function": "products", "level": "view"}
    assert "商品管理（查詢）" in show["description"]
    create = doc["paths"]["/things"]["post"]
    assert set(create["responses"]) == {"201", "401", "403", "404", "409", "422"}
    assert create["responses"]["201"]["description"] == "已新增"
    body = create["requestBody"]["content"]["application/json"]["schema"]
    props = body["properties"]
    assert body["required"] == ["name", "price"]
    assert props["name"] == {"type": "string", "title": "名稱", "maxLength": 10}
    assert props["price"] == {"type": "integer", "title": "面額", "minimum": 1}
    assert props["active"] == {"type": "boolean", "title": "啟用"}
    assert props["kind"] == {"enum": ["paper", "cvs"], "title": "種類"}
    assert props["tags"]["items"] == {"enum": ["a", "b"]}
    assert props["code"]["pattern"] == "^[A-Z]+$"
    assert props["extra"]["properties"]["amount"]["maximum"] == 100000
    assert props["notes"]["items"]["type"] == "string"
    assert "csrf_token" not in props


def test_route_declarations_are_checked(app):
    api = Api(Blueprint("api_bad", __name__, url_prefix="/api/v1/bad"), title="t", version="0")
    with pytest.raises(ValueError):
        api.route("no-slash", summary="x")
    with pytest.raises(ValueError):
        api.route("/x", summary="")
    with pytest.raises(ValueError):
        api.schema("Error", {})
    with pytest.raises(ValueError):
        Api(Blueprint("api_noprefix", __name__), title="t", version="0")
