"""app.ecpay.wire: the body of ECPay's JSON APIs read up to the API's limit, the rest of a longer
one read to its end and thrown away (so the answer reaches a client still sending), and a body
longer than the app's MAX_CONTENT_LENGTH not read at all."""

from __future__ import annotations

import io

from flask import request

from app.ecpay import wire


def test_a_body_within_the_limit_is_read_whole(app) -> None:  # noqa: ANN001
    with app.test_request_context("/", method="POST", data=b"x" * 100):
        assert wire.read_body(100) == b"x" * 100


def test_a_longer_body_is_none_and_read_to_its_end(app) -> None:  # noqa: ANN001
    stream = io.BytesIO(b"x" * (5 * wire.PIECE + 7))
    with app.test_request_context("/", method="POST", input_stream=stream):
        assert wire.read_body(100) is None
        assert stream.tell() == 5 * wire.PIECE + 7  # drained, not left for the connection


def test_a_body_past_the_apps_limit_is_none_and_not_read(app) -> None:  # noqa: ANN001
    app.config["MAX_CONTENT_LENGTH"] = 1000
    stream = io.BytesIO(b"x" * 1001)
    with app.test_request_context("/", method="POST", input_stream=stream):
        assert wire.read_body(100) is None
        assert stream.tell() == 0 and request.content_length == 1001
