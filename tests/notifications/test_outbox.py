"""The operator's outbox page, and secrets kept out of rows, pages and logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.db import db
from app.notifications.models import Channel, Message, MessageStatus
from app.notifications.services import queue_email, queue_sms
from tests.factories import login, make_account, make_operator, make_store
from tests.notifications.conftest import use_gateway, use_smtp
from tests.notifications.smtp_server import SmtpTestServer

pytestmark = pytest.mark.usefixtures("outbox_routes")


def operator_client(client):
    make_operator("op0001")
    db.session.commit()
    login(client, "op0001")
    return client


def test_merchants_and_visitors_cannot_open_the_outbox(client, ctx):
    assert client.get("/operator/messages").status_code == 302  # to the login page
    store = make_store()
    make_account(store, username="owner01")
    db.session.commit()
    login(client, "owner01")
    assert client.get("/operator/messages").status_code == 403


def test_the_operator_sees_every_message_newest_first_with_full_content(client, ctx):
    store = make_store()
    clock.freeze(clock.taipei_datetime(2026, 5, 1, 9, 0))
    [older] = queue_email(store.id, "buyer@example.com", "您的電子票券",
                          "王小明 您好：\n查看票券 https://ectix.example.com/t/AbC?x=1&y=2",
                          kind="issuance_notice")
    clock.move(timedelta(minutes=5))
    newer = queue_sms(None, "0912-345-678", "【ECTicket】取貨碼 8899", kind="pickup_code")
    bad = queue_sms(store.id, "12345", "不會寄出", kind="issuance_notice")
    db.session.commit()
    html = operator_client(client).get("/operator/messages").get_data(as_text=True)
    assert html.index(f'data-message-id="{bad.id}"') < html.index(
        f'data-message-id="{newer.id}"') < html.index(f'data-message-id="{older.id}"')
    assert store.merchant_code in html and "發行通知" in html and "取貨碼通知" in html
    assert "0912345678" in html and "buyer@example.com" in html
    # the whole body, with its link clickable (the outbox stands in for the inbox)
    assert "王小明 您好：" in html
    assert ('<a href="https://ectix.example.com/t/AbC?x=1&amp;y=2" target="_blank" '
            'rel="noopener noreferrer">') in html
    assert f'data-message-id="{older.id}" data-status="recorded"' in html
    assert f'data-message-id="{bad.id}" data-status="failed"' in html
    assert "手機號碼格式錯誤：「12345」" in html


def test_filters_narrow_the_list(client, ctx):
    store = make_store()
    [mail] = queue_email(store.id, "lin@example.com", "主旨", "內容", kind="issuance_notice")
    sms = queue_sms(None, "0912345678", "內容", kind="pickup_code")
    bad = queue_sms(None, "oops", "內容", kind="resend")
    db.session.commit()
    operator_client(client)

    def ids(**params):
        html = client.get("/operator/messages", query_string=params).get_data(as_text=True)
        return {m.id for m in (mail, sms, bad) if f'data-message-id="{m.id}"' in html}

    assert ids() == {mail.id, sms.id, bad.id}
    assert ids(channel="sms") == {sms.id, bad.id}
    assert ids(channel="email") == {mail.id}
    assert ids(status="failed") == {bad.id}
    assert ids(status="recorded") == {mail.id, sms.id}
    assert ids(to="LIN@") == {mail.id}  # contains, any case
    assert ids(to="+886 912 345 678") == {sms.id}  # the number as a consumer writes it
    assert ids(kind="pickup_code") == {sms.id}
    assert ids(store=store.merchant_code) == {mail.id}
    assert ids(channel="bogus", status="nope") == {mail.id, sms.id, bad.id}  # ignored
    assert ids(to="%") == set()  # a wildcard is a literal


def test_the_outbox_is_paginated(client, ctx):
    for i in range(55):
        queue_sms(None, f"09123456{i:02d}", f"第 {i} 則", kind="test")
    db.session.commit()
    operator_client(client)
    first = client.get("/operator/messages").get_data(as_text=True)
    second = client.get("/operator/messages?page=2").get_data(as_text=True)
    assert first.count("data-message-id=") == 50 and second.count("data-message-id=") == 5
    assert "第 1 / 2 頁（共 55 筆）" in first
    assert "第 54 則" in first and "第 0 則" in second


def test_a_gateway_failure_is_visible_in_the_outbox(client, ctx, sms_gateway, app):
    use_gateway(app, sms_gateway)
    sms_gateway.mode = "http500"
    sms = queue_sms(make_store().id, "0912345678", "內容", kind="issuance_notice")
    db.session.commit()
    html = operator_client(client).get("/operator/messages?status=failed").get_data(as_text=True)
    assert f'data-message-id="{sms.id}"' in html
    assert "第 3 次發送失敗：簡訊閘道回應錯誤（HTTP 500）：gateway exploded" in html


def test_secrets_never_reach_rows_pages_or_logs(client, ctx, app, sms_gateway, caplog):
    smtp_password = "smtp-pw-Zq81"
    sms_key = "sms-key-Xy93"
    caplog.set_level(logging.DEBUG)
    use_gateway(app, sms_gateway, SMS_GATEWAY_KEY=sms_key)
    sms_gateway.mode = "echo_key"  # the gateway repeats the Authorization header in its error
    with SmtpTestServer(credentials=("mailer", "the-right-one")) as server:
        use_smtp(app, server, SMTP_USERNAME="mailer", SMTP_PASSWORD=smtp_password)
        queue_email(None, "a@example.com", "主旨", "內容", kind="test")  # login refused
        queue_sms(None, "0912345678", "內容", kind="test")
        db.session.commit()
    rows = db.session.scalars(select(Message).execution_options(populate_existing=True)).all()
    assert {(m.channel, m.status) for m in rows} == {(Channel.EMAIL, MessageStatus.FAILED),
                                                     (Channel.SMS, MessageStatus.FAILED)}
    assert sms_gateway.requests[0].headers["Authorization"] == f"Bearer {sms_key}"
    stored = " ".join(str(getattr(m, c.key)) for m in rows for c in Message.__table__.columns)
    assert "登入失敗" in stored and "HTTP 401" in stored
    html = operator_client(client).get("/operator/messages").get_data(as_text=True)
    for secret in (smtp_password, sms_key):
        assert secret not in stored
        assert secret not in html
        assert secret not in caplog.text
