"""Delivery statuses move through every state against the simulators: the loopback SMS gateway
posts its signed status callbacks to the app served over HTTP, and the test SMTP relay bounces
what it cannot deliver to the platform's return path, a mailbox read back over POP3.

Also what a callback must never do: a forged or stale signature, an unknown or bare id, junk,
a replay; and what the bounce mailbox must survive: junk, an unreadable message, a failed run.
"""

from __future__ import annotations

import json
import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.history import HistoryEntry
from app.notifications import receipts
from app.notifications.jobs import read_bounces
from app.notifications.mailbox import MailboxUnavailable, Pop3Mailbox, pop3_settings
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.receipts import Applied, apply_report, signed_headers
from app.notifications.rules import Report
from app.notifications.services import queue_email, queue_sms
from tests.concurrency import Ready, run_at_once
from tests.issuance.helpers import ready_store
from tests.notifications.conftest import BOUNCE_PASSWORD, BOUNCES, STATUS_SECRET, use_relay
from tests.notifications.smtp_server import delivery_status_notification
from tests.orders.helpers import issue_order, messages, turn_sms_on

UNKNOWN_USER = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def order_history(order_id: int, action: str | None = None) -> list[HistoryEntry]:
    db.session.expire_all()
    stmt = select(HistoryEntry).where(HistoryEntry.subject_type == "orders",
                                      HistoryEntry.subject_id == order_id)
    if action:
        stmt = stmt.where(HistoryEntry.action == action)
    return list(db.session.scalars(stmt.order_by(HistoryEntry.id)))


@pytest.fixture
def shop(ctx):
    store, owner, pickup, _ = ready_store()
    turn_sms_on(store)
    return store, owner, pickup


# SMS: the gateway's status callback -----------------------------------------------------------

def test_an_sms_goes_queued_sent_delivered_and_a_replay_changes_nothing(app, shop,
                                                                        reporting_gateway):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, mobile="0911222333")
    message = queue_sms(store.id, "0911222333", "您的票券", kind="issuance_notice",
                        order_id=order.id)
    assert message.status is MessageStatus.QUEUED
    db.session.commit()  # the sending job runs now (inline)
    message = fresh(message.id)
    assert message.status is MessageStatus.SENT
    sms_id = reporting_gateway.id_for(message.id)
    assert message.provider_ref == sms_id

    on_its_way = reporting_gateway.report(sms_id, "sent")
    assert (on_its_way.status, on_its_way.answer) == (200, {"result": "unchanged"})
    assert fresh(message.id).status is MessageStatus.SENT

    delivered = reporting_gateway.report(sms_id, "delivered")
    assert (delivered.status, delivered.answer) == (200, {"result": "updated"})
    row = fresh(message.id)
    assert row.status is MessageStatus.DELIVERED and row.delivered_at is not None
    assert row.billable and row.failed_at is None
    [entry] = order_history(order.id, "notice_delivered")
    assert entry.changes == {"status": ["已發送", "已送達"]}
    assert entry.reason == "簡訊 0911222333（發行通知）" and entry.actor_label == "簡訊閘道"
    assert entry.store_id == store.id

    again = reporting_gateway.replay()  # the same callback, byte for byte
    assert (again.status, again.answer) == (200, {"result": "unchanged"})
    late = reporting_gateway.report(sms_id, "failed", "逾時")  # after the final one
    assert (late.status, late.answer) == (200, {"result": "unchanged"})
    assert fresh(message.id).status is MessageStatus.DELIVERED
    assert len(order_history(order.id, "notice_delivered")) == 1
    assert order_history(order.id, "notice_failed") == []


def test_an_sms_the_gateway_could_not_deliver_fails_with_its_reason(app, shop, reporting_gateway):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup, mobile="0922333444")
    [sms] = messages(order, channel=Channel.SMS)
    assert sms.status is MessageStatus.SENT

    answer = reporting_gateway.report(sms.provider_ref, "undelivered", "空號（unknown subscriber）")
    assert (answer.status, answer.answer) == (200, {"result": "updated"})
    row = fresh(sms.id)
    assert row.status is MessageStatus.FAILED and row.failed_at is not None
    assert row.error == "簡訊閘道回報未送達：空號（unknown subscriber）"
    assert row.billable  # the gateway took it (and charged for it)
    [entry] = order_history(order.id, "notice_failed")
    assert entry.reason == "簡訊 0922333444（發行通知）：簡訊閘道回報未送達：空號（unknown subscriber）"
    assert entry.changes == {"status": ["已發送", "發送失敗"]}
    # a failed notice is final: a later "delivered" does not revive it
    assert reporting_gateway.report(sms.provider_ref, "delivered").answer == {"result": "unchanged"}
    assert fresh(sms.id).status is MessageStatus.FAILED


def test_the_gateway_reports_by_itself_and_retries_until_the_sms_is_known(app, shop,
                                                                         reporting_gateway):
    """As a real gateway: the callback right after taking the SMS, perhaps before the platform
    committed the gateway's id (answered 404), then again until it is taken."""
    store, owner, pickup = shop
    reporting_gateway.auto_report = ("delivered", "")
    order = issue_order(owner, store, pickup, mobile="0933444555")
    assert len(reporting_gateway.wait_for_callbacks(1)) == 1
    [sms] = messages(order, channel=Channel.SMS)
    assert sms.status is MessageStatus.DELIVERED
    assert all(c.status in (200, 404) for c in reporting_gateway.callbacks)


def test_a_forged_or_stale_signature_is_refused_and_changes_nothing(app, shop, reporting_gateway):
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    [sms] = messages(order, channel=Channel.SMS)
    ref = sms.provider_ref
    now = int(clock.now().timestamp())

    assert reporting_gateway.report(ref, "failed", "x", secret="not-the-secret").status == 401
    assert reporting_gateway.report(ref, "failed", timestamp=now - receipts.TOLERANCE - 5).status == 401
    assert reporting_gateway.report(ref, "failed", timestamp=now + receipts.TOLERANCE + 5).status == 401
    signed_for_another = signed_headers(STATUS_SECRET, now, b'{"id": "%s", "status": "sent"}'
                                        % ref.encode())
    tampered = json.dumps({"id": ref, "status": "failed"}).encode()
    assert reporting_gateway.report(ref, "failed", body=tampered,
                                    headers=signed_for_another).status == 401
    assert reporting_gateway.report(ref, "failed", headers={
        "Content-Type": "application/json"}).status == 401  # unsigned
    assert reporting_gateway.report(ref, "failed", headers=signed_headers(
        STATUS_SECRET, now, b"") | {"X-Ectix-Timestamp": "12e3"}).status == 401
    assert fresh(sms.id).status is MessageStatus.SENT
    assert order_history(order.id, "notice_failed") == []

    # a genuine callback captured and replayed later, outside the time window: refused
    assert reporting_gateway.report(ref, "delivered").status == 200
    clock.freeze(clock.now() + timedelta(seconds=receipts.TOLERANCE + 60))
    assert reporting_gateway.replay().status == 401


def test_an_unknown_reference_or_our_own_id_finds_no_message(app, shop, reporting_gateway):
    """The callback names the gateway's id; our ids (or our reference) find nothing, so no
    caller can name a message of any store by counting."""
    store, owner, pickup = shop
    order = issue_order(owner, store, pickup)
    [sms] = messages(order, channel=Channel.SMS)
    for ref in ("sms-999", str(sms.id), f"ectix-{sms.id}", "sms-1 "):
        answer = reporting_gateway.report(ref, "failed", "x")
        assert answer.status == 404, ref
        assert answer.answer["error"]["code"] == "unknown_message"
    as_number = reporting_gateway.report("", "", body=json.dumps(
        {"id": sms.id, "status": "failed"}).encode())
    assert as_number.status == 404
    # an e-mail's reference is not an SMS's
    [mail] = messages(order, channel=Channel.EMAIL)
    mail.provider_ref = "<abc@ectix.local>"
    db.session.commit()
    assert reporting_gateway.report("<abc@ectix.local>", "failed").status == 404
    assert fresh(sms.id).status is MessageStatus.SENT


JUNK = [
    (b"not json", 400), (b"\xff\xfe\x00", 400), (b"[]", 400), (b"null", 400),
    (b'{"status": "delivered"}', 400),
    (b'{"id": "", "status": "delivered"}', 400),
    (b'{"id": true, "status": "delivered"}', 400),
    (json.dumps({"id": "x" * 101, "status": "delivered"}).encode(), 400),
    (b'{"id": "sms-1\\u0000", "status": "delivered"}', 400),
    (b'{"id": "sms-1", "status": "exploded"}', 400),
    (b'{"id": "sms-1", "status": 3}', 400),
    (b'{"id": "sms-1", "status": "failed", "reason": 12}', 400),
    (b'{"id": "sms-1", "status": "failed", "reason": "a\\u0000b"}', 400),
    (b"[" * 5000 + b"]" * 5000, 400),  # nested deeper than the parser goes
    (b'{"id": "' + b"9" * 20_000 + b'"}', 413),
    (b'{"id": "sms-404", "status": "DELIVERED", "reason": null}', 404),
]


@pytest.mark.parametrize(("body", "status"), JUNK, ids=range(len(JUNK)))
def test_junk_is_a_clear_4xx_never_a_500(app, ctx, reporting_gateway, body, status):
    answer = reporting_gateway.report("", "", body=body)
    assert answer.status == status
    assert "error" in answer.answer


def test_a_nul_in_a_signature_header_is_refused(app, ctx, reporting_gateway):
    body = b'{"id": "sms-1", "status": "delivered"}'
    headers = signed_headers(STATUS_SECRET, int(clock.now().timestamp()), body)
    headers["X-Ectix-Signature"] = "sha256=\x00"
    client = app.test_client()
    response = client.post("/notifications/sms/status", data=body, headers=headers, csrf=False)
    assert response.status_code == 400


def test_without_a_secret_the_callback_does_not_exist(app, ctx, client):
    body = b'{"id": "sms-1", "status": "delivered"}'
    response = client.post("/notifications/sms/status", data=body, csrf=False,
                           headers=signed_headers("", int(clock.now().timestamp()), body))
    assert response.status_code == 404
    assert client.get("/notifications/sms/status").status_code == 405


def test_a_reference_two_messages_share_changes_neither(app, shop, reporting_gateway):
    store, owner, pickup = shop
    first = issue_order(owner, store, pickup, mobile="0911000001")
    second = issue_order(owner, store, pickup, mobile="0911000002")
    [a] = messages(first, channel=Channel.SMS)
    [b] = messages(second, channel=Channel.SMS)
    b.provider_ref = a.provider_ref  # a gateway that reused an id
    db.session.commit()
    answer = reporting_gateway.report(a.provider_ref, "delivered")
    assert answer.status == 409 and answer.answer["error"]["code"] == "ambiguous"
    assert {fresh(a.id).status, fresh(b.id).status} == {MessageStatus.SENT}


@pytest.mark.postgres
def test_the_same_callback_racing_itself_moves_the_message_once(pg_app):
    with pg_app.app_context():
        store, owner, pickup, _ = ready_store()
        message = queue_sms(store.id, "0955666777", "內容", kind="issuance_notice")
        db.session.info.pop("pending_jobs", None)  # not sent: it is given a gateway id below
        order = issue_order(owner, store, pickup)
        message.status, message.provider_ref, message.order_id = (
            MessageStatus.SENT, "sms-race", order.id)
        db.session.commit()
        message_id, order_id = message.id, order.id

    def deliver(_: int, ready: Ready) -> Applied:
        ready()
        return apply_report(Channel.SMS, "sms-race", Report.DELIVERED)

    results = run_at_once(pg_app, deliver, range(6), timeout=20)
    assert sorted(r.value for r in results) == ["unchanged"] * 5 + ["updated"]
    with pg_app.app_context():
        assert db.session.get(Message, message_id).status is MessageStatus.DELIVERED
        assert len(order_history(order_id, "notice_delivered")) == 1


# E-mail: delivery status notifications in the bounce mailbox ---------------------------------

def test_an_email_the_relay_cannot_deliver_is_bounced_and_read_back_as_failed(app, shop, relay):
    store, owner, pickup = shop
    relay.undeliverable = {"nobody@example.com": ("5.1.1", UNKNOWN_USER)}
    use_relay(app, relay)
    order = issue_order(owner, store, pickup, email="nobody@example.com")
    [mail] = messages(order, channel=Channel.EMAIL)
    assert mail.status is MessageStatus.SENT and mail.provider_ref.startswith("<")
    [sent] = [m for m in relay.messages if m.rcpt_tos == ["nobody@example.com"]]
    assert sent.mail_from == BOUNCES  # the envelope sender: bounces come back to us
    assert len(relay.mailbox(BOUNCES)) == 1
    assert b"text/rfc822-headers" in relay.mailbox(BOUNCES)[0]  # RET=HDRS: no body back

    assert read_bounces("slot") == 1
    row = fresh(mail.id)
    assert row.status is MessageStatus.FAILED and row.failed_at is not None
    assert row.error == f"郵件伺服器退信（5.1.1）：{UNKNOWN_USER}"
    [entry] = order_history(order.id, "notice_failed")
    assert entry.reason == f"Email nobody@example.com（發行通知）：郵件伺服器退信（5.1.1）：{UNKNOWN_USER}"
    assert entry.actor_label == "郵件伺服器退信"
    assert relay.mailbox(BOUNCES) == []  # read, committed, deleted
    assert read_bounces("slot") == 0  # nothing left, nothing moves twice


def test_an_email_goes_queued_sent_delivered_with_success_reports(app, shop, relay):
    store, owner, pickup = shop
    use_relay(app, relay, MAIL_DSN_SUCCESS=1)
    [mail] = queue_email(store.id, "buyer@example.com", "主旨", "內容", kind="test")
    assert mail.status is MessageStatus.QUEUED
    db.session.commit()
    assert fresh(mail.id).status is MessageStatus.SENT
    report = relay.mailbox(BOUNCES)
    assert len(report) == 1 and b"Action: delivered" in report[0]
    assert read_bounces("slot") == 1
    row = fresh(mail.id)
    assert row.status is MessageStatus.DELIVERED and row.delivered_at is not None


def test_a_relay_without_dsn_still_bounces_and_is_read(app, shop, relay):
    store, owner, pickup = shop
    relay.dsn = False
    relay.undeliverable = {"gone@example.com": ("5.1.1", "550 5.1.1 gone")}
    use_relay(app, relay)
    [mail] = queue_email(store.id, "gone@example.com", "主旨", "內容", kind="test")
    db.session.commit()
    assert b"message/rfc822" in relay.mailbox(BOUNCES)[0]  # the whole original came back
    assert read_bounces("slot") == 1
    assert fresh(mail.id).error == "郵件伺服器退信（5.1.1）：550 5.1.1 gone"


def _bounce_from_afar(relay, original: bytes, recipient: str, action: str = "failed") -> None:
    """A DSN as another mail system sends it: over SMTP, from the null sender, to our return path."""
    dsn = delivery_status_notification(BOUNCES, recipient, original, action=action,
                                       status="5.2.2" if action == "failed" else "2.0.0",
                                       diagnostic="552 5.2.2 Mailbox full")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=5) as smtp:
        smtp.sendmail("", [BOUNCES], dsn)


def test_reports_sent_to_the_bounce_address_by_other_servers(app, shop, relay):
    """A DSN from a far server, for the right message and recipient, fails it; one naming another
    recipient, an unknown Message-ID, or mail that is no report at all changes nothing, and is
    deleted all the same."""
    store, owner, pickup = shop
    use_relay(app, relay)
    [mail] = queue_email(store.id, "Full@Example.com", "主旨", "內容", kind="test")
    [other] = queue_email(store.id, "other@example.com", "主旨", "內容", kind="test")
    db.session.commit()
    [original] = [m.data for m in relay.messages if m.rcpt_tos == ["Full@Example.com"]]
    _bounce_from_afar(relay, original, "someone-else@example.com")
    _bounce_from_afar(relay, original.replace(b"Message-ID: <", b"Message-ID: <forged."),
                      "full@example.com")
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=5) as smtp:
        smtp.sendmail("friend@example.com", [BOUNCES], b"Subject: hi\r\n\r\nOut of office.\r\n")
    assert read_bounces("slot") == 0
    assert fresh(mail.id).status is MessageStatus.SENT
    assert relay.mailbox(BOUNCES) == []

    _bounce_from_afar(relay, original, "full@example.com")
    assert read_bounces("slot") == 1
    row = fresh(mail.id)
    assert row.status is MessageStatus.FAILED
    assert row.error == "郵件伺服器退信（5.2.2）：552 5.2.2 Mailbox full"
    assert fresh(other.id).status is MessageStatus.SENT


def test_an_unreadable_message_is_dropped_and_the_rest_read_next_time(app, shop, relay):
    store, owner, pickup = shop
    relay.undeliverable = {"nobody@example.com": ("5.1.1", UNKNOWN_USER)}
    use_relay(app, relay)
    relay.deliver_local(BOUNCES, b"Subject: huge\r\n\r\n" + b"x" * 5000 + b"\r\n")
    [mail] = queue_email(store.id, "nobody@example.com", "主旨", "內容", kind="test")
    db.session.commit()
    assert len(relay.mailbox(BOUNCES)) == 2
    assert read_bounces("slot") == 0  # the first broke the connection: dropped, nothing else read
    assert len(relay.mailbox(BOUNCES)) == 1
    assert read_bounces("slot") == 1
    assert fresh(mail.id).status is MessageStatus.FAILED and relay.mailbox(BOUNCES) == []


def test_a_session_that_fails_part_way_deletes_nothing(app, ctx, relay):
    use_relay(app, relay)
    relay.deliver_local(BOUNCES, b"Subject: one\r\n\r\n1\r\n")
    relay.deliver_local(BOUNCES, b"Subject: two\r\n\r\n.2\r\n")
    mailbox = Pop3Mailbox(pop3_settings(app))
    with pytest.raises(RuntimeError), mailbox.session() as box:
        read = list(box.messages(10))
        for mail in read:
            box.delete(mail.key)
        raise RuntimeError("the commit failed")
    assert [m.raw for m in read] == [b"Subject: one\r\n\r\n1\r\n", b"Subject: two\r\n\r\n.2\r\n"]
    assert len(relay.mailbox(BOUNCES)) == 2
    with mailbox.session() as box:
        for mail in box.messages(1):  # at most one per session when asked
            box.delete(mail.key)
    assert relay.mailbox(BOUNCES) == [b"Subject: two\r\n\r\n.2\r\n"]


def test_a_mailbox_that_refuses_the_login_fails_the_run_without_the_password(app, ctx, relay,
                                                                            caplog):
    use_relay(app, relay, BOUNCE_POP3_PASSWORD="wrong-password-77")
    relay.deliver_local(BOUNCES, b"Subject: one\r\n\r\n1\r\n")
    with pytest.raises(MailboxUnavailable) as refused:
        read_bounces("slot")
    assert "拒絕登入" in refused.value.reason
    assert "wrong-password-77" not in refused.value.reason
    assert "wrong-password-77" not in caplog.text and BOUNCE_PASSWORD not in caplog.text
    assert len(relay.mailbox(BOUNCES)) == 1


def test_without_a_bounce_mailbox_there_is_nothing_to_read(app, ctx, relay):
    use_relay(app, relay, BOUNCE_POP3_HOST="")
    relay.deliver_local(BOUNCES, b"Subject: one\r\n\r\n1\r\n")
    assert read_bounces("slot") == 0
    assert len(relay.mailbox(BOUNCES)) == 1
