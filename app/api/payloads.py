"""What goes in and out of the API: timestamps, JSON bodies through WTForms, pages of a list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from flask import request
from sqlalchemy import Select
from werkzeug.datastructures import MultiDict
from wtforms import FieldList, Form, FormField

from app.bounds import INT_MAX, whole_number
from app.db import db
from app.errors import DomainError, InvalidInput
from app.pagination import count

FormT = TypeVar("FormT", bound=Form)

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100

# Query parameters of a paginated list, for `api_route(query=...)`.
PAGE_QUERY: dict[str, dict[str, Any]] = {
    "page": {"type": "integer", "minimum": 1, "maximum": INT_MAX, "default": 1,
             "description": "頁碼（從 1 起）"},
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                 "default": DEFAULT_PER_PAGE, "description": "每頁筆數"},
}


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601; instants in UTC with their offset (`2026-11-22T02:00:00+00:00`)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime; timestamps are UTC-aware")
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def timestamp_schema(description: str = "", *, nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"] if nullable else "string",
                              "format": "date-time"}
    if description:
        schema["description"] = description
    return schema


# Bodies -------------------------------------------------------------------------------------

class PayloadTooLarge(DomainError):
    status = 413
    code = "too_large"


NOT_AN_OBJECT = "請求內容須為 JSON 物件（Content-Type: application/json）"
TOO_DEEP = "請求內容的 JSON 巢狀層數過多"


def json_body(max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object, or 422 if the body is not one (or nests too deep for the
    parser); 413 when it is longer than `max_bytes` (when given; the app's MAX_CONTENT_LENGTH
    bounds every body)."""
    if max_bytes is not None and ((request.content_length or 0) > max_bytes
                                  or len(request.get_data()) > max_bytes):
        raise PayloadTooLarge(f"請求內容太大（上限 {max_bytes // 1024} KB）")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise InvalidInput(TOO_DEEP) from None
    if not isinstance(data, dict):
        raise InvalidInput(NOT_AN_OBJECT)
    return data


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "y" if value else ""  # BooleanField: "" is false, anything else true
    return str(value)


def _flatten(form: Any, data: Mapping[str, Any], out: MultiDict) -> None:
    """JSON values as the form data WTForms reads (field names carry their prefixes)."""
    for f in form:
        if f.short_name not in data or data[f.short_name] is None:
            continue
        value = data[f.short_name]
        if isinstance(f, FormField) and isinstance(value, Mapping):
            _flatten(f.form, value, out)
        elif isinstance(f, FieldList) and isinstance(value, list):
            for i, item in enumerate(value):
                key = f"{f.name}-{i}"
                if isinstance(item, Mapping):
                    template = f.unbound_field.bind(form=None, name=key, _meta=f.meta)
                    if isinstance(template, FormField):
                        template.process(None)
                        _flatten(template.form, item, out)
                        continue
                out.add(key, _scalar(item))
        elif isinstance(value, list):
            for item in value:
                out.add(f.name, _scalar(item))
        elif not isinstance(value, Mapping):
            out.add(f.name, _scalar(value))


def _errors(errors: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in errors.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(_errors(value, key + "."))
        elif isinstance(value, list) and value:
            first = value[0]
            if isinstance(first, Mapping):
                out.update(_errors(first, key + "."))
            elif isinstance(first, list):
                out[key] = str(first[0]) if first else ""
            else:
                out[key] = str(first)
    return out


def json_form(form_cls: type[FormT], **kwargs: Any) -> FormT:
    """Parse the JSON body with a WTForms form (no CSRF: the API takes bearer tokens only).

    Raises InvalidInput (422) with `fields` {name: first error} if it does not validate;
    `kwargs` (obj=..., data=...) give defaults as for a form in a page.
    """
    data = json_body()
    form = form_cls(formdata=None, meta={"csrf": False}, **kwargs)
    formdata: MultiDict = MultiDict()
    _flatten(form, data, formdata)
    form.process(formdata=formdata, **kwargs)
    if not form.validate():
        fields = _errors(form.errors)
        raise InvalidInput(next(iter(fields.values()), "輸入資料錯誤"), fields=fields)
    return form


# Lists --------------------------------------------------------------------------------------

def int_arg(name: str, default: int, low: int, high: int = INT_MAX) -> int:
    """The query parameter `name` as a whole number within [low, high] (`default` when absent);
    422 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = whole_number(raw, low, high)
    if value is None:
        bound = f"{low} 至 {high}" if high != INT_MAX else f"至少 {low}"
        message = f"{name} 須為整數，{bound}"
        raise InvalidInput(message, fields={name: message})
    return value


def page_schema(item: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope `paginate` answers with, around items of the given schema."""
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": dict(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
        },
    }


def paginate(stmt: Select, serialise: Callable[[Any], Any]) -> dict[str, Any]:
    """One page of an ORM select (store scoping applies as for any query), by `page` and
    `per_page` query parameters; the statement should have a stable order_by."""
    page = int_arg("page", 1, 1)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    total = count(stmt)
    rows = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [serialise(r) for r in rows], "page": page, "per_page": per_page,
            "total": total}
