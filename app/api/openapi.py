"""The OpenAPI 3.1 description of the API, built from the operations `Api.route` registered.

Pure bookkeeping: no Flask routes here. `Api` (app/api/routing.py) records one `Operation` per
(rule, method) as it registers the view, so the document and the URL map come from one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from wtforms import Form, validators
from wtforms import fields as wtf
from wtforms.fields.choices import SelectChoice

from app.auth.permissions import Function, Level
from app.bounds import BIGINT_MAX, INT_MAX

OPENAPI_VERSION = "3.1.0"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["not_found"]},
                "message": {"type": "string", "description": "給使用者看的訊息（繁體中文）"},
                "fields": {
                    "type": "object",
                    "description": "欄位名稱 → 錯誤訊息（輸入錯誤時）",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}

# Shared error responses: status → (component name, description).
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    401: ("Unauthorized", "缺少或無效的 API 金鑰"),
    403: ("Forbidden", "沒有使用此功能的權限"),
    404: ("NotFound", "找不到此資料（或不屬於此商店）"),
    409: ("Conflict", "業務規則不允許此操作"),
    422: ("Invalid", "輸入資料錯誤"),
}

LEVEL_LABELS = {Level.VIEW: "查詢", Level.MODIFY: "修改"}

# Werkzeug converter → JSON Schema of the path parameter.
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0, "maximum": INT_MAX},
    "bigint": {"type": "integer", "minimum": 0, "maximum": BIGINT_MAX},
    "float": {"type": "number", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
    "string": {"type": "string"},
    "default": {"type": "string"},
    "path": {"type": "string"},
    "any": {"type": "string"},
}

_RULE_PART = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?"
                        r"(?P<name>[a-zA-Z_]\w*)>")


@dataclass(frozen=True)
class PathParameter:
    name: str
    schema: dict[str, Any]


def openapi_path(rule: str) -> tuple[str, list[PathParameter]]:
    """A Flask rule as an OpenAPI path template: `/products/<int:product_id>` →
    `/products/{product_id}` with an integer `product_id` parameter."""
    params: list[PathParameter] = []

    def replace(match: re.Match[str]) -> str:
        converter = match.group("converter") or "default"
        schema = dict(_CONVERTER_SCHEMAS.get(converter, {"type": "string"}))
        if converter == "any" and match.group("args"):
            schema["enum"] = [a.strip().strip("'\"") for a in match.group("args").split(",")]
        params.append(PathParameter(match.group("name"), schema))
        return "{" + match.group("name") + "}"

    return _RULE_PART.sub(replace, rule), params


@dataclass(frozen=True)
class Operation:
    """One documented (rule, method) of the API. `rule` is relative to the blueprint prefix."""

    rule: str
    method: str
    endpoint: str
    summary: str
    description: str = ""
    requires: tuple[Function, Level] | None = None
    request_schema: Mapping[str, Any] | type[Form] | None = None
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    responses: Mapping[int, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    deprecated: bool = False


def _response(status: int, spec: Any) -> dict[str, Any]:
    """`None` or a string: a body-less response (the string is the description); a dict: a
    JSON Schema of the body; a (description, schema) pair: both."""
    phrase = HTTPStatus(status).phrase
    if spec is None or isinstance(spec, str):
        return {"description": spec or phrase}
    if isinstance(spec, tuple):
        description, schema = spec
        return {"description": description,
                "content": {"application/json": {"schema": dict(schema)}}}
    return {"description": phrase, "content": {"application/json": {"schema": dict(spec)}}}


def _query_parameter(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    param: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if "description" in schema:
        param["description"] = schema.pop("description")
    param["schema"] = schema
    return param


def _operation_document(op: Operation, request_schema: dict[str, Any] | None) -> dict[str, Any]:
    _, path_params = openapi_path(op.rule)
    doc: dict[str, Any] = {"operationId": op.endpoint.rpartition(".")[2], "summary": op.summary}
    description = op.description
    if op.requires is not None:
        function, level = op.requires
        needs = f"需要權限：{function.label}（{LEVEL_LABELS[level]}）"
        description = f"{description}\n\n{needs}" if description else needs
        doc["x-ectix-permission"] = {"function": function.value, "level": level.value}
    if description:
        doc["description"] = description
    tags = op.tags or (op.rule.strip("/").split("/")[0] or "api",)
    doc["tags"] = list(tags)
    parameters = [{"name": p.name, "in": "path", "required": True, "schema": p.schema}
                  for p in path_params]
    parameters += [_query_parameter(name, schema) for name, schema in op.query.items()]
    if parameters:
        doc["parameters"] = parameters
    if request_schema is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": request_schema}}}
    responses = {str(status): _response(status, spec)
                 for status, spec in sorted((op.responses or {200: None}).items())}
    wanted_errors = [401, 403, 404]
    if op.method not in {"GET", "HEAD"}:
        wanted_errors.append(409)
    if request_schema is not None or op.query:
        wanted_errors.append(422)
    for status in wanted_errors:
        name, _ = ERROR_RESPONSES[status]
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{name}"})
    doc["responses"] = dict(sorted(responses.items()))
    if op.deprecated:
        doc["deprecated"] = True
    return doc


def build_document(operations: Sequence[Operation], schemas: Mapping[str, Any], *, title: str,
                   version: str, server_url: str, description: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1.0 document. Paths are relative to `servers[0].url` (the API prefix)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path, _ = openapi_path(op.rule)
        body = op.request_schema
        if isinstance(body, type) and issubclass(body, Form):
            body = form_schema(body)
        paths.setdefault(path, {})[op.method.lower()] = _operation_document(
            op, dict(body) if body is not None else None)
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openapi": OPENAPI_VERSION,
        "info": info,
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <API 金鑰>`；金鑰於後台「API 金鑰」"
                                   "或以 `flask api-token create` 建立，只顯示一次。",
                }
            },
            "schemas": {"Error": ERROR_SCHEMA, **schemas},
            "responses": {
                name: {"description": text,
                       "content": {"application/json": {
                           "schema": {"$ref": "#/components/schemas/Error"}}}}
                for name, text in ERROR_RESPONSES.values()
            },
        },
    }


# WTForms → JSON Schema ----------------------------------------------------------------------

def form_schema(form_cls: type[Form]) -> dict[str, Any]:
    """A JSON Schema of the object a WTForms form accepts (the body `json_form` parses).

    Covers the common fields and validators; choices set per request are not known here.
    Needs an app context (Flask-WTF reads its config when a form is built).
    """
    form = form_cls(formdata=None, meta={"csrf": False})
    return _fields_schema(form)


def _fields_schema(form: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in form:
        if isinstance(f, wtf.SubmitField | wtf.FileField) or f.short_name == "csrf_token":
            continue
        schema, is_required = _field_schema(f)
        properties[f.short_name] = schema
        if is_required:
            required.append(f.short_name)
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _choices(f: Any) -> list[Any] | None:
    choices = getattr(f, "choices", None)
    if not choices or isinstance(choices, dict):
        return None
    return [c.value if isinstance(c, SelectChoice) else c[0] if isinstance(c, tuple | list) else c
            for c in choices]


def _number(value: Any) -> int | float:
    return value if isinstance(value, int) else float(value)


def _field_schema(f: Any) -> tuple[dict[str, Any], bool]:
    schema: dict[str, Any]
    if isinstance(f, wtf.FormField):
        schema = _fields_schema(f.form)
    elif isinstance(f, wtf.FieldList):
        inner, _ = _field_schema(f.unbound_field.bind(form=None, name=f.short_name + "-0",
                                                      _meta=f.meta))
        schema = {"type": "array", "items": inner}
        if f.min_entries:
            schema["minItems"] = f.min_entries
        if f.max_entries is not None:
            schema["maxItems"] = f.max_entries
    elif isinstance(f, wtf.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(f, wtf.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(f, wtf.DecimalField | wtf.FloatField):
        schema = {"type": "number"}
    elif isinstance(f, wtf.DateTimeLocalField | wtf.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(f, wtf.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(f, wtf.TimeField):
        schema = {"type": "string", "format": "time"}
    elif isinstance(f, wtf.SelectMultipleField):
        item: dict[str, Any] = {"type": "string"}
        if (choices := _choices(f)) is not None:
            item = {"enum": choices}
        schema = {"type": "array", "items": item}
    elif isinstance(f, wtf.SelectField | wtf.RadioField):
        schema = {"type": "string"}
        if (choices := _choices(f)) is not None:
            schema = {"enum": choices}
    else:
        schema = {"type": "string"}
        if isinstance(f, wtf.EmailField):
            schema["format"] = "email"
    label = getattr(f.label, "text", "")
    if label:
        schema["title"] = str(label)
    if f.description:
        schema["description"] = str(f.description)
    is_required = False
    for v in f.validators:
        if isinstance(v, validators.DataRequired | validators.InputRequired):
            is_required = True
        elif isinstance(v, validators.Length):
            if v.min is not None and v.min >= 0:
                schema["minLength"] = v.min
            if v.max is not None and v.max >= 0:
                schema["maxLength"] = v.max
        elif isinstance(v, validators.NumberRange):
            if v.min is not None:
                schema["minimum"] = _number(v.min)
            if v.max is not None:
                schema["maximum"] = _number(v.max)
        elif isinstance(v, validators.AnyOf):
            schema["enum"] = list(v.values)
        elif isinstance(v, validators.Regexp):
            schema["pattern"] = v.regex.pattern
    return schema, is_required
