"""The refund notice's pure rules: the retry schedule, the form, the signature, the answer that
counts as success, and where a notice may be posted (SSRF care)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

from app import clock
from app.installments import notices
from app.installments.notices import RefundedPeriod
from app.notifications import outgoing
from app.notifications.outgoing import Refused

M, H = timedelta(minutes=1), timedelta(hours=1)


@pytest.mark.parametrize(("failed", "wait"), [
    (1, 1 * M), (2, 5 * M), (3, 30 * M), (4, 2 * H), (5, 6 * H), (6, 15 * H), (7, None), (20, None),
])
def test_retry_schedule(failed, wait):
    assert notices.retry_delay(failed) == wait


def test_the_schedule_makes_at_least_five_tries_within_a_day():
    assert notices.MAX_TRIES == 7
    assert sum(notices.RETRY_DELAYS, timedelta()) == 23 * H + 36 * M
    assert list(notices.RETRY_DELAYS) == sorted(notices.RETRY_DELAYS)


def test_no_retry_before_a_failure():
    with pytest.raises(ValueError):
        notices.retry_delay(0)


@pytest.mark.parametrize(("status", "body", "ok"), [
    (200, "1|OK", True),
    (200, " 1|OK\r\n", True),
    (200, "1|ok", False),
    (200, "1|OK extra", False),
    (200, "OK", False),
    (200, "", False),
    (201, "1|OK", False),
    (302, "1|OK", False),
    (500, "1|OK", False),
    (None, "1|OK", False),
])
def test_what_counts_as_the_merchants_success(status, body, ok):
    assert outgoing.answered_ok(status, body) is ok
    assert outgoing.Reply(status, body).succeeded is ok


def test_refund_fields_subtract_the_fee_shares_of_the_returned_periods():
    fields = notices.refund_fields(
        merchant_id="3002611", merchant_order_no="A001", order_no="IO123", total_amount=1000,
        period_count=4, returned=[RefundedPeriod(250, 34), RefundedPeriod(250, 33)],
        refunded_at=clock.taipei_datetime(2026, 12, 3, 1, 5, 9))
    assert fields == {
        "MerchantID": "3002611", "MerchantOrderNo": "A001", "OrderNo": "IO123",
        "TotalAmount": "1000", "RefundAmount": "433", "HandlingFee": "67",
        "RefundDate": "2026/12/03 01:05:09", "PeriodCount": "4", "ReturnedPeriods": "2",
        "RtnCode": "1", "RtnMsg": "退款成功"}


def test_the_body_is_the_fields_urlencoded_in_name_order():
    body = notices.form_body({"b": "退款 成功", "a": "1&2=3"})
    assert body == b"a=1%262%3D3&b=%E9%80%80%E6%AC%BE+%E6%88%90%E5%8A%9F"
    assert dict(parse_qsl(body.decode())) == {"a": "1&2=3", "b": "退款 成功"}


SECRET = "0123456789abcdef" * 4
BODY = b"HandlingFee=300&MerchantID=3002611&RtnCode=1"


def test_signature_vector():
    # Checked independently: printf '%s' "1795226400.HandlingFee=300&MerchantID=3002611&RtnCode=1"
    #   | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    assert notices.signature(SECRET, 1795226400, BODY) == (
        "sha256=f6ba3a1cbba98d2c686e0a0972a068c0e15710ba40d9e7c526f6e6fc954eb081")


def test_signed_headers():
    headers = notices.signed_headers(SECRET, 1795226400, BODY)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Ectix-Timestamp"] == "1795226400"
    assert headers["X-Ectix-Signature"] == notices.signature(SECRET, 1795226400, BODY)


@pytest.mark.parametrize(("secret", "stamp", "body", "now", "ok"), [
    (SECRET, "1795226400", BODY, 1795226400, True),
    (SECRET, "1795226400", BODY, 1795226700, True),  # 5 minutes later
    (SECRET, "1795226400", BODY, 1795226701, False),  # too old
    (SECRET, "1795226400", BODY, 1795226099, False),  # from the future
    (SECRET, "1795226400", BODY + b"&x=1", 1795226400, False),  # body changed
    (SECRET, "1795226401", BODY, 1795226401, False),  # timestamp changed
    ("f" * 64, "1795226400", BODY, 1795226400, False),  # another store's key
    (SECRET, "abc", BODY, 1795226400, False),
])
def test_verify(secret, stamp, body, now, ok):
    received = notices.signature(SECRET, 1795226400, BODY)
    assert notices.verify(secret, stamp, body, received, now=now) is ok


# Where a notice may go ----------------------------------------------------------------------

def _resolver(*addresses: str):  # noqa: ANN202
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(("url", "addresses", "allow", "reason"), [
    ("http://shop.example.com/n", ("8.8.8.8",), False, "通知網址須為 https://"),
    ("http://shop.example.com/n", ("8.8.8.8",), True, "通知網址須為 https://"),  # http: loopback only
    ("ftp://shop.example.com/n", ("8.8.8.8",), True, "通知網址須為 https://"),
    ("https://shop.example.com/n", ("10.0.0.5",), False, "解析為內部網路位址"),
    ("https://shop.example.com/n", ("8.8.8.8", "192.168.1.1"), False, "解析為內部網路位址"),
    ("https://shop.example.com/n", ("127.0.0.1",), False, "解析為內部網路位址"),
    ("https://shop.example.com/n", ("169.254.169.254",), True, "解析為內部網路位址"),
    ("https://shop.example.com/n", ("::ffff:10.0.0.1",), False, "解析為內部網路位址"),
    ("https://shop.example.com/n", ("fd00::1",), False, "解析為內部網路位址"),
    ("https://shop.example.com/n", (), False, "無法解析網域"),
    ("https://user:pw@shop.example.com/n", ("8.8.8.8",), False, "網址格式不正確"),
    ("https://shop.example.com:99999/n", ("8.8.8.8",), False, "網址格式不正確"),
    ("https:///n", ("8.8.8.8",), False, "網址格式不正確"),
])
def test_refused_destinations(url, addresses, allow, reason):
    with pytest.raises(Refused, match=reason):
        outgoing.destination(url, allow_http_loopback=allow, resolve=_resolver(*addresses))


def test_a_public_destination_keeps_host_port_target_and_addresses():
    where = outgoing.destination("https://API.Shop.example.com:8443/n?a=1",
                                resolve=_resolver("8.8.8.8", "2606:4700::1111"))
    assert (where.scheme, where.host, where.port, where.target) == (
        "https", "api.shop.example.com", 8443, "/n?a=1")
    assert where.addresses == ("8.8.8.8", "2606:4700::1111")
    assert outgoing.destination("https://shop.example.com", resolve=_resolver("8.8.8.8")).target == "/"


def test_the_test_switch_lets_http_reach_loopback_only():
    where = outgoing.destination("http://127.0.0.1:8080/n", allow_http_loopback=True,
                                resolve=_resolver("127.0.0.1"))
    assert (where.scheme, where.port, where.addresses) == ("http", 8080, ("127.0.0.1",))
    with pytest.raises(Refused):
        outgoing.destination("http://127.0.0.1:8080/n", resolve=_resolver("127.0.0.1"))


def test_a_refused_url_is_a_failed_reply_not_an_exception():
    reply = outgoing.post("http://shop.example.com/n", b"a=1", {}, resolve=_resolver("8.8.8.8"))
    assert (reply.http_status, reply.succeeded, reply.reason) == (None, False, "通知網址須為 https://")
