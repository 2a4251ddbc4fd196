"""GET /api/v1/openapi.json: a public OpenAPI 3.1.0 document that matches the URL map."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.api.openapi import openapi_path

PREFIX = "/api/v1"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
AUTOMATIC = {"HEAD", "OPTIONS"}  # added by Flask to every rule


@pytest.fixture
def document(client) -> dict[str, Any]:  # noqa: ANN001
    response = client.get(f"{PREFIX}/openapi.json")  # no token: the document is public
    assert response.status_code == 200
    assert response.is_json
    return response.get_json()


def test_document_header(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "ectix API"
    assert document["info"]["version"]
    assert document["servers"] == [{"url": PREFIX}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"],
        "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]


def _documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items()
            for method in item if method in METHODS}


def test_every_api_route_is_documented_and_every_documented_operation_is_routed(app, document):
    routed: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        if rule.rule == f"{PREFIX}/openapi.json" or rule.endpoint.endswith("static"):
            continue
        path, _ = openapi_path(rule.rule[len(PREFIX):])
        routed |= {(path, m) for m in rule.methods - AUTOMATIC}
    assert routed, "the API has routes"
    assert routed == _documented_operations(document)
    assert {("/me", "GET"), ("/tokens", "GET"), ("/tokens/{token_id}", "DELETE")} <= routed


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_document_is_structurally_valid(document):
    """What openapi-spec-validator would check first, without installing it."""
    json.dumps(document)  # plain JSON
    assert set(document) <= {"openapi", "info", "servers", "paths", "components", "security",
                             "tags", "externalDocs", "webhooks", "jsonSchemaDialect"}
    for ref in _refs(document):
        _resolve(document, ref)
    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/") and "<" not in path and not path.startswith(PREFIX)
        templated = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            assert method in METHODS
            assert op["summary"]
            operation_ids.append(op["operationId"])
            params = op.get("parameters", [])
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == templated, (path, method)
            for p in params:
                assert p["in"] in {"path", "query", "header", "cookie"}
                assert "schema" in p
                if p["in"] == "path":
                    assert p["required"] is True
            assert op["responses"]
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), status
                if "$ref" not in response:
                    assert response["description"]
            for status in ("401", "403", "404"):
                resolved = _resolve(document, op["responses"][status]["$ref"])
                schema = resolved["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
            assert any(s.startswith("2") for s in op["responses"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are unique"


def test_path_parameters_are_typed(document):
    op = document["paths"]["/tokens/{token_id}"]["delete"]
    assert op["parameters"] == [{"name": "token_id", "in": "path", "required": True,
                                 "schema": {"type": "integer", "minimum": 0,
                                            "maximum": 2**31 - 1}}]
    tokens = document["components"]["schemas"]["ApiToken"]
    assert "token_hash" not in tokens["properties"]
    assert tokens["properties"]["revoked_at"]["format"] == "date-time"


def test_openapi_path_converts_flask_rules():
    path, params = openapi_path("/products/<int:product_id>/batches/<batch_no>")
    assert path == "/products/{product_id}/batches/{batch_no}"
    assert [(p.name, p.schema) for p in params] == [
        ("product_id", {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}),
        ("batch_no", {"type": "string"}),
    ]
    _, params = openapi_path("/tickets/<bigint:ticket_id>")
    assert params[0].schema == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    path, params = openapi_path("/tickets/<any(paper, cvs):kind>/<uuid:ref>/<path:rest>")
    assert path == "/tickets/{kind}/{ref}/{rest}"
    assert params[0].schema == {"type": "string", "enum": ["paper", "cvs"]}
    assert params[1].schema == {"type": "string", "format": "uuid"}


def test_document_is_not_cached_and_needs_no_token(client):
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers
