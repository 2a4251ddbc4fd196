"""`Api`: a blueprint whose every route is declared together with its OpenAPI description.

    from app.api import api_route, schema

    PRODUCT = schema("Product", {"type": "object", "properties": {...}})

    @api_route("/products/<int:product_id>", ["GET"], summary="商品明細",
               requires=(Function.PRODUCTS, Level.VIEW),
               responses={200: PRODUCT})
    def product(product_id: int):
        ...

registers the view on the blueprint, checks the permission the UI checks (`may(function,
level)`, else 403 JSON), and records the operation from which `GET /openapi.json` is built, so
the document cannot drift from the URL map. Every request except the public ones needs a live
bearer token of a merchant account (401 / 403 JSON otherwise); every response under the prefix
is `Cache-Control: no-store`, and the session cookie is neither read nor set there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SessionInterface, SessionMixin
from flask_login import current_user
from wtforms import Form

from app.api.openapi import LEVEL_LABELS, Operation, build_document
from app.auth.access import may, read_store
from app.auth.permissions import Function, Level
from app.errors import Forbidden, json_error

UNAUTHORIZED_MESSAGE = "缺少或無效的 API 金鑰"
OPERATOR_MESSAGE = "平台管理員帳號不使用 API"

View = Callable[..., Any]


def _error(status: int, code: str, message: str) -> Response:
    response, _ = json_error(status, code, message)
    response.status_code = status
    return response


class Api:
    """The routes, permission checks and OpenAPI registry of one API blueprint."""

    def __init__(self, blueprint: Blueprint, *, title: str, version: str,
                 description: str = "") -> None:
        if not blueprint.url_prefix:
            raise ValueError("an API blueprint needs a url_prefix")
        self.blueprint = blueprint
        self.prefix = blueprint.url_prefix.rstrip("/")
        self.title = title
        self.version = version
        self.description = description
        self.operations: list[Operation] = []
        self.schemas: dict[str, dict[str, Any]] = {}
        self.public_endpoints: set[str] = set()
        blueprint.record_once(self._install_cookieless_sessions)
        blueprint.before_request(self._require_token)
        blueprint.after_app_request(self._no_store)
        self._add_public("/openapi.json", "openapi", self._openapi_view)

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def _install_cookieless_sessions(self, state: BlueprintSetupState) -> None:
        state.app.session_interface = CookielessApiSessions(state.app.session_interface, self)

    # Guards -------------------------------------------------------------------------------

    def _require_token(self) -> Response | None:
        if request.endpoint in self.public_endpoints:
            return None
        user = current_user._get_current_object()  # type: ignore[attr-defined]  # one lookup
        if not user.is_authenticated:
            response = _error(401, "unauthorized", UNAUTHORIZED_MESSAGE)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if user.is_operator or read_store() is None:
            return _error(403, "forbidden", OPERATOR_MESSAGE)
        return None

    def _no_store(self, response: Response) -> Response:
        """Every answer under the prefix, errors and unknown paths included, is not cached."""
        if self.covers(request.path):
            response.headers["Cache-Control"] = "no-store"
        return response

    # Declaring routes ---------------------------------------------------------------------

    def schema(self, name: str, definition: Mapping[str, Any]) -> dict[str, str]:
        """Register a named schema under components.schemas; returns a `$ref` to it."""
        if name == "Error" or (name in self.schemas and self.schemas[name] != definition):
            raise ValueError(f"schema {name!r} is already defined differently")
        self.schemas[name] = dict(definition)
        return {"$ref": f"#/components/schemas/{name}"}

    def route(self, rule: str, methods: str | Sequence[str] = ("GET",), *, summary: str,
              description: str = "", requires: tuple[Function, Level] | None = None,
              request_schema: Mapping[str, Any] | type[Form] | None = None,
              query: Mapping[str, Mapping[str, Any]] | None = None,
              responses: Mapping[int, Any] | None = None, tags: Iterable[str] = (),
              endpoint: str | None = None, deprecated: bool = False) -> Callable[[View], View]:
        """Register a view on the blueprint and describe it in the OpenAPI document.

        - `rule`: relative to the prefix, Flask syntax (`/tokens/<int:token_id>`).
        - `requires`: (Function, Level) checked like the UI's `requires`; 403 JSON otherwise.
        - `request_schema`: a JSON Schema of the body, or a WTForms form class (its schema is
          derived; parse the body with `app.api.payloads.json_form(FormClass)`).
        - `query`: {name: JSON Schema} of optional query parameters (`description` key allowed).
        - `responses`: {status: schema dict | (description, schema) | description | None};
          401/403/404 (and 409/422 where they apply) are added with the shared Error schema.
        """
        method_list = [methods] if isinstance(methods, str) else list(methods)
        method_list = [m.upper() for m in method_list]
        if not rule.startswith("/"):
            raise ValueError(f"API rule must start with '/': {rule!r}")
        if not summary:
            raise ValueError("every API route needs a summary")

        def decorate(view: View) -> View:
            name = endpoint or view.__name__
            full_endpoint = f"{self.blueprint.name}.{name}"
            if any(op.endpoint == full_endpoint and op.rule != rule for op in self.operations):
                raise ValueError(f"API endpoint {full_endpoint!r} is already declared")

            @wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                if requires is not None and not may(*requires):
                    function, level = requires
                    raise Forbidden(f"您沒有「{function.label}」的{LEVEL_LABELS[level]}權限")
                return view(*args, **kwargs)

            guarded.required_function = requires  # type: ignore[attr-defined]
            self.blueprint.add_url_rule(rule, name, guarded, methods=method_list)
            for method in method_list:
                self.operations.append(Operation(
                    rule=rule, method=method, endpoint=full_endpoint, summary=summary,
                    description=description, requires=requires, request_schema=request_schema,
                    query=dict(query or {}), responses=dict(responses or {}),
                    tags=tuple(tags), deprecated=deprecated,
                ))
            return guarded

        return decorate

    def _add_public(self, rule: str, name: str, view: View) -> None:
        self.blueprint.add_url_rule(rule, name, view, methods=["GET"])
        self.public_endpoints.add(f"{self.blueprint.name}.{name}")

    # The document ---------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        return build_document(self.operations, self.schemas, title=self.title,
                              version=self.version, server_url=self.prefix,
                              description=self.description)

    def _openapi_view(self) -> Response:
        return jsonify(self.document())


class CookielessApiSessions(SessionInterface):
    """Under the API prefix the session cookie is neither read nor written.

    The API authenticates bearer tokens only. Were the cookie read, Flask-Login's "strong"
    session protection would, for a session that is not a logged-in one (say, only a CSRF
    token from having opened the login page), wipe the user and never ask the request loader,
    so a valid token would be refused, and the wiped session would be sent back and refuse
    the next call too. Every other path goes to the app's own session interface unchanged.
    """

    def __init__(self, inner: SessionInterface, api: Api) -> None:
        self.inner = inner
        self.api = api

    def open_session(self, app: Flask, request_: Any) -> SessionMixin | None:
        if self.api.covers(request_.path):
            return SecureCookieSession()  # empty, and never saved
        return self.inner.open_session(app, request_)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if self.api.covers(request.path):
            return None
        return self.inner.save_session(app, session, response)

    def make_null_session(self, app: Flask) -> Any:
        return self.inner.make_null_session(app)

    def is_null_session(self, obj: object) -> bool:
        return self.inner.is_null_session(obj)
