"""The HTTP side of ECPay's JSON APIs (the card back office's DoAction, the ECTicket merchant
API), shared by their views: reading the body and sending the answer.

Once one of their routes matched, the answer is HTTP 200 JSON whatever the request (ECPay's
clients throw on anything else): a body longer than the API's limit, or one that cannot be read
(the client went away mid-body), is answered 10001 in the envelope like any other body that is
not a JSON object — never the app's 413 page. The body is JSON whatever its Content-Type: a
view marked `json_body` is never parsed as a form before it runs (app.web.refuse_unsafe_input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, TypeVar

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

JSON_BODY = "ecpay_json_body"  # the mark on a view (an attribute of the function)
PIECE = 64 * 1024  # bytes read at a time

View = TypeVar("View", bound=Callable[..., Any])


def json_body(view: View) -> View:
    """Mark a view whose body is ECPay's JSON whatever the Content-Type."""
    setattr(view, JSON_BODY, True)
    return view


def takes_json_body(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, JSON_BODY, False))


def read_body(limit: int) -> bytes | None:
    """The request's body; None when it is longer than `limit` bytes or cannot be read.

    A body over the limit is read on, in pieces thrown away, so that the answer reaches a
    client still sending — up to the app's MAX_CONTENT_LENGTH: a body declared longer than that
    is not read at all (the answer is sent and the connection closed, as for the app's 413)."""
    try:
        stream = request.stream
        body = _read(stream, limit + 1)
        if len(body) <= limit:
            return body
        while stream.read(PIECE):
            pass
    except HTTPException:  # RequestEntityTooLarge; ClientDisconnected (a BadRequest)
        pass
    return None


def _read(stream: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes (a read may return fewer than asked: read until `size` or the end)."""
    pieces: list[bytes] = []
    left = size
    while left > 0:
        piece = stream.read(min(left, PIECE))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def answer(body: dict[str, Any]) -> Response:
    """HTTP 200, the envelope as compact UTF-8 JSON."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), 200,
                    content_type="application/json; charset=utf-8")
