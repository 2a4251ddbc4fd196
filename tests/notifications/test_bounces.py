"""Reading delivery status notifications (RFC 3464): the reports a relay writes, a report in
another shape, and anything else in the bounce mailbox, which gives no report and no error."""

from __future__ import annotations

import pytest

from app.notifications.bounces import parse_dsn
from app.notifications.rules import Report
from tests.notifications.smtp_server import delivery_status_notification

ORIGINAL = (b"From: ECTicket <no-reply@ectix.local>\r\nTo: nobody@example.com\r\n"
            b"Subject: =?utf-8?b?55m86KGM6YCa55+l?=\r\n"
            b"Message-ID: <176512.1.99.ectix-7@ectix.local>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody line\r\n.dot line\r\n")


@pytest.mark.parametrize("headers_only", [True, False])
def test_a_failure_report_names_the_message_the_recipient_and_the_reason(headers_only):
    dsn = delivery_status_notification(
        "bounces@ectix.test", "Nobody@Example.com", ORIGINAL, action="failed", status="5.1.1",
        diagnostic="550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown",
        headers_only=headers_only)
    [report] = parse_dsn(dsn)
    assert report.message_id == "<176512.1.99.ectix-7@ectix.local>"
    assert report.recipient == "nobody@example.com"
    assert report.report is Report.FAILED and report.status == "5.1.1"
    assert report.reason == ("郵件伺服器退信（5.1.1）：550 5.1.1 <nobody@example.com>: "
                             "Recipient address rejected: User unknown")


def test_a_success_report_and_a_delay():
    delivered = delivery_status_notification("bounces@ectix.test", "a@example.com", ORIGINAL,
                                             action="delivered", status="2.0.0")
    delayed = delivery_status_notification("bounces@ectix.test", "a@example.com", ORIGINAL,
                                           action="delayed", status="4.4.7")
    assert [r.report for r in parse_dsn(delivered)] == [Report.DELIVERED]
    assert [r.report for r in parse_dsn(delayed)] == [Report.ON_ITS_WAY]


POSTFIX_STYLE = b"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces@ectix.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="8A2B3C.1700000000/mx.example.net"

--8A2B3C.1700000000/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--8A2B3C.1700000000/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 8A2B3C
Arrival-Date: Mon,  7 Dec 2026 10:00:00 +0800 (CST)

Final-Recipient: rfc822; first@example.net
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

Final-Recipient: rfc822; second@example.net
Action: delivered
Status: 2.0.0

Final-Recipient: x400; not-an-address
Action: failed
Status: 5.0.0

--8A2B3C.1700000000/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Message-ID:
 <abc.ectix-9@ectix.local>
Subject: hello

--8A2B3C.1700000000/mx.example.net--
"""


def test_a_report_of_several_recipients_in_another_mta_s_words():
    reports = parse_dsn(POSTFIX_STYLE)
    assert [(r.recipient, r.report, r.status) for r in reports] == [
        ("first@example.net", Report.FAILED, "5.2.2"),
        ("second@example.net", Report.DELIVERED, "2.0.0")]  # not an rfc822 address: skipped
    assert {r.message_id for r in reports} == {"<abc.ectix-9@ectix.local>"}
    assert reports[0].reason == "郵件伺服器退信（5.2.2）：552 5.2.2 Mailbox full"


JUNK = [
    b"",
    b"\x00\xff\xfe" * 100,
    b"Subject: Out of office\r\n\r\nI am away until Monday.\r\n",
    # a report without the original's Message-ID: nothing to match it by
    POSTFIX_STYLE.replace(b"Message-ID:\n <abc.ectix-9@ectix.local>\n", b""),
    # a report whose Message-ID is not one (no angle brackets), or too long to be ours
    POSTFIX_STYLE.replace(b"<abc.ectix-9@ectix.local>", b"abc.ectix-9@ectix.local"),
    POSTFIX_STYLE.replace(b"<abc.ectix-9@ectix.local>", b"<" + b"x" * 200 + b"@a>"),
    # a multipart/report that is not a delivery status, or has no status part
    POSTFIX_STYLE.replace(b"Content-Type: message/delivery-status", b"Content-Type: text/plain"),
    b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n\r\n--x--\r\n",
    b"Content-Type: multipart/report\r\n\r\nno boundary at all\r\n",
    b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
    b"--x--\r\n",
    # unknown actions only
    POSTFIX_STYLE.replace(b"Action: failed", b"Action: exploded").replace(
        b"Action: delivered", b"Action: ???"),
]


@pytest.mark.parametrize("raw", JUNK, ids=range(len(JUNK)))
def test_anything_that_is_not_a_report_gives_none_and_never_raises(raw):
    assert parse_dsn(raw) == []
