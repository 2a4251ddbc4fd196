"""Domain errors and how they are answered: an HTML page, an HTMX fragment, or JSON for the API."""

from __future__ import annotations

from flask import Flask, flash, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule refused the action. `message` is shown to the user as is (Traditional Chinese)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, *, code: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


class Malformed(DomainError):
    """A request no form could have sent (a NUL in a header, JSON nested without end): 400."""

    status = 400
    code = "bad_request"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


_HTTP_MESSAGES = {
    400: "請求格式錯誤",
    401: "請先登入",
    403: "您沒有使用此功能的權限",
    404: "找不到此頁面或資料",
    405: "不支援此操作方式",
    413: "上傳的檔案太大",
    429: "操作太頻繁，請稍後再試",
    500: "系統發生錯誤，請稍後再試",
}

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 429: "rate_limited",
               500: "server_error"}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, code: str, message: str, **extra: object):
    body: dict[str, object] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v})
    return jsonify({"error": body}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        if wants_json():
            return json_error(err.status, err.code, err.message, fields=err.fields)
        if request.headers.get("HX-Request"):
            return render_template("_alert.html", category="danger", message=err.message), 200
        flash(err.message, "danger")
        return render_template("error.html", status=err.status, message=err.message), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        status = err.code or 500
        message = _HTTP_MESSAGES.get(status, err.description or "")
        if status == 400 and err.description and "CSRF" in err.description:
            message = "表單已過期或來源不明（CSRF 驗證失敗），請重新整理頁面後再試"
        if wants_json():
            response, _ = json_error(status, _HTTP_CODES.get(status, "error"), message)
            response.status_code = status
            for name, value in err.get_headers():  # a 405's Allow, a 429's Retry-After
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        response = err.get_response()
        response.set_data(render_template("error.html", status=status, message=message))
        response.content_type = "text/html; charset=utf-8"
        return response
