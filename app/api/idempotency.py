"""`Idempotency-Key`: a retried API request gets the first request's answer instead of acting again.

    @api_route("/redemptions", ["POST"], ...)
    @idempotent
    def redeem():
        ...                      # do the work, return the answer; do NOT commit
        return body, 201

An `@idempotent` view does not commit: the decorator commits once, after the view, so the
answer and the view's changes are committed together. Without the header that is all it does;
`@idempotent(required=True)` refuses a request without it (422 `idempotency_key_required`),
for a POST whose retry must never act twice (issuing an installment order).
With `Idempotency-Key: <1–100 visible ASCII characters>`:

1. The key is claimed before anything is done: one INSERT … ON CONFLICT DO NOTHING of
   (account, key, method, path, SHA-256 of the body) with no answer yet, committed at once, so of
   two concurrent retries exactly one inserts it, and the other is told `request_in_progress`
   (409) instead of acting too (on PostgreSQL it waits the instant until the claim commits).
2. The view runs. Its answer — the success, or the error it raised (4xx) — is written on the
   claimed row (`UPDATE … WHERE id = :claimed AND status_code IS NULL`) in the same transaction as
   the view's changes, then committed: a key never has an answer for work that was not committed,
   nor committed work without its answer. A failed view's changes are rolled back first, so a
   recorded error is the whole story.
3. A later request with the key: the same method, path and body → the stored status and body,
   with `Idempotent-Replayed: true`, without acting; anything else → 422
   `idempotency_key_reused`; still unanswered → 409 `request_in_progress`.

Not kept, so a retry acts: a 429 (rate limited: "come back later") and an unexpected exception
(500: the transaction was rolled back, nothing happened) release the claim. A claim left
unanswered by a process that died (its work rolled back with it) is taken over after
`STALE_AFTER`; should that process still be alive, its answer UPDATE then finds no row, and its
work is rolled back instead of committed, so the action still happens once.

Keys are per account and kept 24 hours (`app.api.jobs.prune_idempotency_keys`, a recurring job;
an older key is free again).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import Response, current_app, has_app_context, request
from flask_login import current_user
from sqlalchemy import and_, delete, or_, select, update
from werkzeug.exceptions import HTTPException

from app import clock
from app.api import api
from app.api.models import IdempotencyKey
from app.api.openapi import openapi_path
from app.db import db, insert_ignoring_conflict
from app.errors import DomainError, InvalidInput
from app.web import commit_answered

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX = 100
KEPT = timedelta(hours=24)
# No request runs this long, so an unanswered claim this old belongs to a process that died.
STALE_AFTER = timedelta(minutes=2)
PATH_MAX = 200  # IdempotencyKey.path

_KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX}}}")
INVALID_KEY = f"Idempotency-Key 須為 1 至 {KEY_MAX} 個英數字或符號（不含空白）"
KEY_REQUIRED = f"此 API 須提供 {HEADER} 標頭（建議使用 UUID），重送時使用相同的值"
KEY_REUSED = "此 Idempotency-Key 已用於另一個請求（內容不同），請換一個新的 Idempotency-Key"
IN_PROGRESS = "使用此 Idempotency-Key 的請求仍在處理中，請稍後再以相同內容重試"

HEADER_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "冪等鍵（建議使用 UUID）：同一帳號 24 小時內以相同的鍵與相同內容重送，回應第一次的結果"
                   "（含錯誤；附 `Idempotent-Replayed: true`），不會重複執行。同一個鍵用於不同內容回應 422 "
                   "`idempotency_key_reused`；第一次的請求仍在處理中回應 409 `request_in_progress`。",
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX, "pattern": "^[!-~]+$"},
}

View = Callable[..., Any]


def idempotent(view: View | None = None, *, required: bool = False) -> Any:
    """Commit the view's work once, and honour an `Idempotency-Key` header (module docstring);
    with `required=True` the header must be there."""
    if view is None:
        return lambda inner: idempotent(inner, required=required)

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None and required:
            raise InvalidInput(KEY_REQUIRED, code="idempotency_key_required",
                               fields={HEADER: KEY_REQUIRED})
        if key is None:
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code < 400:
                commit_answered()
            else:
                db.session.rollback()
            return response
        if not _KEY_PATTERN.fullmatch(key):
            raise InvalidInput(INVALID_KEY, code="invalid_idempotency_key",
                               fields={HEADER: INVALID_KEY})
        claimed = _claim(key)
        if isinstance(claimed, Response):
            return claimed
        return _answer(claimed, view, args, kwargs)

    wrapped.idempotent = True  # type: ignore[attr-defined]  (copied onto the route's guard)
    wrapped.idempotency_required = required  # type: ignore[attr-defined]
    return wrapped


def _request_hash() -> str:
    return hashlib.sha256(request.get_data()).hexdigest()


def _claim(key: str) -> int | Response:
    """The id of the row this request claimed (committed), or the answer to give instead."""
    account_id = current_user.id
    method, path, digest = request.method, request.path[:PATH_MAX], _request_hash()
    now = clock.now()
    # A key older than 24 hours is free again; an unanswered one this old was abandoned.
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.account_id == account_id, IdempotencyKey.key == key,
        or_(IdempotencyKey.created_at < now - KEPT,
            and_(IdempotencyKey.status_code.is_(None), IdempotencyKey.created_at < now - STALE_AFTER))))
    claimed = insert_ignoring_conflict(IdempotencyKey, account_id=account_id, key=key,
                                       method=method, path=path, request_hash=digest,
                                       status_code=None, body="", created_at=now)
    if claimed is not None:
        db.session.commit()  # visible now: a concurrent retry is told it is in progress
        return claimed
    first = db.session.execute(
        select(IdempotencyKey.method, IdempotencyKey.path, IdempotencyKey.request_hash,
               IdempotencyKey.status_code, IdempotencyKey.body)
        .where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)).first()
    db.session.rollback()
    if first is not None and (first.method, first.path, first.request_hash) != (method, path, digest):
        raise InvalidInput(KEY_REUSED, code="idempotency_key_reused", fields={HEADER: KEY_REUSED})
    if first is None or first.status_code is None:  # (None: released between our two statements)
        raise DomainError(IN_PROGRESS, code="request_in_progress")
    replay = Response(first.body, status=first.status_code, mimetype="application/json")
    replay.headers[REPLAYED_HEADER] = "true"
    return replay


def _answer(claimed: int, view: View, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Response:
    """Run the view on the claimed key and commit its work with its answer (or release)."""
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except (DomainError, HTTPException) as refused:
        db.session.rollback()
        response = current_app.make_response(current_app.handle_user_exception(refused))
    except Exception:
        db.session.rollback()
        _release(claimed)
        raise
    if response.status_code >= 400:
        db.session.rollback()  # an error answer is kept, the view's half-done changes are not
    if response.status_code == 429:
        _release(claimed)
        return response
    answered = db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed, IdempotencyKey.status_code.is_(None))
        .values(status_code=response.status_code, body=response.get_data(as_text=True))
    ).rowcount
    if not answered:  # taken over as abandoned: the other request acts, this one must not
        db.session.rollback()
        raise DomainError(IN_PROGRESS, code="request_in_progress")
    db.session.commit()
    return response


def _release(claimed: int) -> None:
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claimed,
                                                    IdempotencyKey.status_code.is_(None)))
    db.session.commit()


def forget_before(cutoff: datetime) -> int:
    """Delete the keys created before `cutoff` (the daily job `app.api.jobs` commits)."""
    return db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount


# The OpenAPI document: the header parameter on every idempotent operation ----------------------

def _document_idempotent_operations(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """`Api.route` has no way to declare a header parameter, so the built document is given one
    for each operation whose view is `@idempotent` (found through the URL map)."""

    @wraps(build)
    def document() -> dict[str, Any]:
        doc = build()
        if not has_app_context():
            return doc
        for op in api.operations:
            view = current_app.view_functions.get(op.endpoint)
            if not getattr(view, "idempotent", False):
                continue
            path, _ = openapi_path(op.rule)
            operation = doc["paths"][path][op.method.lower()]
            parameters = operation.setdefault("parameters", [])
            if all(p.get("name") != HEADER for p in parameters):
                parameter = dict(HEADER_PARAMETER)
                if getattr(view, "idempotency_required", False):
                    parameter["required"] = True
                parameters.append(parameter)
        return doc

    return document


if not getattr(api.document, "documents_idempotency", False):
    api.document = _document_idempotent_operations(api.document)  # type: ignore[method-assign]
    api.document.documents_idempotency = True  # type: ignore[attr-defined]
