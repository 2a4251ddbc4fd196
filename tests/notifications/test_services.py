"""Queueing: one row per recipient, sent after the commit, bad addresses recorded, never raised."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.services import normalise_mobile, queue_email, queue_sms, split_addresses
from tests.factories import make_store
from tests.notifications.conftest import use_gateway, use_smtp


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


@pytest.mark.parametrize(("raw", "expected"), [
    ("0912345678", "0912345678"),
    ("0912-345-678", "0912345678"),
    ("0912 345 678", "0912345678"),
    ("+886912345678", "0912345678"),
    ("+886 912 345 678", "0912345678"),
    ("+886-0912-345-678", "0912345678"),
    ("886912345678", "0912345678"),
    ("(0912) 345.678", "0912345678"),
    ("０９１２３４５６７８", "0912345678"),  # full-width digits
    ("0223456789", None),  # a landline
    ("091234567", None),
    ("09123456789", None),
    ("+1 912345678", None),
    ("0912abc678", None),
    ("", None),
    (None, None),
])
def test_mobile_numbers_are_normalised_to_09xxxxxxxx(raw, expected):
    assert normalise_mobile(raw) == expected


def test_email_fields_split_on_semicolons():
    assert split_addresses(" a@example.com; b@example.com ;;c@example.com ") == [
        "a@example.com", "b@example.com", "c@example.com"]
    assert split_addresses("") == [] and split_addresses(None) == []


def test_an_sms_is_sent_only_after_the_commit(app, ctx, sms_gateway):
    use_gateway(app, sms_gateway)
    store = make_store()
    message = queue_sms(store.id, "+886 912-345-678", "【ECTicket】您的票券 https://t.example/x",
                        kind="issuance_notice")
    assert (message.status, message.channel, message.to_address, message.billable) == (
        MessageStatus.QUEUED, Channel.SMS, "0912345678", True)
    assert sms_gateway.requests == []  # nothing leaves before the commit
    db.session.commit()
    [request] = sms_gateway.requests
    assert request.json["to"] == "0912345678"
    assert request.json["reference"] == f"ectix-{message.id}"
    row = fresh(message.id)
    assert (row.status, row.provider_ref, row.attempts, row.billable) == (
        MessageStatus.SENT, "sms-1", 1, True)
    assert row.sent_at is not None and row.error == ""


def test_a_rolled_back_transaction_sends_nothing(app, ctx, sms_gateway, smtp_server):
    use_gateway(app, sms_gateway)
    use_smtp(app, smtp_server)
    queue_sms(None, "0912345678", "x", kind="test")
    queue_email(None, "a@example.com", "s", "x", kind="test")
    db.session.rollback()
    db.session.commit()
    assert sms_gateway.requests == [] and smtp_server.messages == []
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize(("mobile", "reason"), [
    ("0223456789", "手機號碼格式錯誤：「0223456789」"),
    ("09-12", "手機號碼格式錯誤"),
    ("", "未提供手機號碼"),
    (None, "未提供手機號碼"),
])
def test_an_invalid_mobile_fails_at_once_without_raising(app, ctx, sms_gateway, mobile, reason):
    use_gateway(app, sms_gateway)
    message = queue_sms(make_store().id, mobile, "內容", kind="issuance_notice")
    db.session.commit()
    row = fresh(message.id)
    assert row.status is MessageStatus.FAILED
    assert reason in row.error
    assert (row.attempts, row.billable) == (0, False)  # never sent, never billed
    assert sms_gateway.requests == []


def test_several_addresses_get_one_message_each(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    store = make_store()
    messages = queue_email(store.id, "wang@example.com; lin@example.com;wang@example.com",
                           "訂單通知", "您好，附上您的票券。", kind="issuance_notice")
    db.session.commit()
    assert [m.to_address for m in messages] == ["wang@example.com", "lin@example.com"]
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "lin@example.com", "wang@example.com"]
    assert all(len(r.rcpt_tos) == 1 for r in smtp_server.messages)  # nobody sees the others
    assert {r.message["To"] for r in smtp_server.messages} == {"wang@example.com",
                                                               "lin@example.com"}
    assert [fresh(m.id).status for m in messages] == [MessageStatus.SENT] * 2
    assert all(not fresh(m.id).billable for m in messages)  # e-mail is not billed


def test_a_bad_address_among_good_ones_fails_alone(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    messages = queue_email(None, "ok@example.com; not-an-address", "主旨", "內容", kind="test")
    db.session.commit()
    assert [fresh(m.id).status for m in messages] == [MessageStatus.SENT, MessageStatus.FAILED]
    assert "電子郵件地址格式錯誤" in fresh(messages[1].id).error
    assert [r.rcpt_tos for r in smtp_server.messages] == [["ok@example.com"]]


def test_an_empty_email_field_is_a_visible_failure(app, ctx):
    [message] = queue_email(None, " ; ", "主旨", "內容", kind="test")
    db.session.commit()
    assert (fresh(message.id).status, fresh(message.id).error) == (
        MessageStatus.FAILED, "未提供收件者電子郵件地址")


def test_subject_lines_are_one_line(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    [message] = queue_email(None, "a@example.com", "第一行\r\nBcc: evil@example.com", "內容",
                            kind="test")
    db.session.commit()
    assert fresh(message.id).subject == "第一行 Bcc: evil@example.com"
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["a@example.com"] and received.message["Bcc"] is None


def test_html_alternative_travels_with_the_job(app, ctx, smtp_server):
    use_smtp(app, smtp_server)
    queue_email(None, "a@example.com", "票券", "純文字內容", kind="test",
                html="<p><b>HTML</b> 內容</p>")
    db.session.commit()
    [received] = smtp_server.messages
    assert received.text.strip() == "純文字內容"
    assert "<b>HTML</b> 內容" in received.html


def test_without_smtp_or_gateway_messages_are_only_recorded(app, ctx, smtp_server, sms_gateway):
    # both servers run, but the app is not told about them: nothing may reach them
    [mail] = queue_email(None, "a@example.com", "主旨", "內容 https://t.example/x", kind="test")
    sms = queue_sms(None, "0912345678", "內容", kind="test")
    db.session.commit()
    assert smtp_server.messages == [] and sms_gateway.requests == []
    assert fresh(mail.id).status is MessageStatus.RECORDED
    assert fresh(sms.id).status is MessageStatus.RECORDED
    assert fresh(sms.id).billable and fresh(sms.id).sent_at is not None


def test_kind_is_required(app, ctx):
    with pytest.raises(ValueError):
        queue_sms(None, "0912345678", "x", kind="")
