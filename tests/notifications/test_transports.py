"""Transports against real local servers: SMTP over a socket, the SMS gateway over HTTP."""

from __future__ import annotations

import socket

import pytest

from app.notifications.transports import (
    DEFAULT_MAIL_FROM,
    HttpSmsGateway,
    Mailer,
    OutboxMailer,
    OutboxSms,
    SendFailed,
    SmsGateway,
    SmtpMailer,
    mail_settings,
    mailer_for,
    sms_gateway_for,
    sms_settings,
    use_transports,
)
from tests.notifications.conftest import use_gateway, use_smtp
from tests.notifications.smtp_server import SmtpTestServer


def test_settings_come_from_config_first_then_the_environment(app, monkeypatch):
    settings = mail_settings(app)
    assert (settings.host, settings.port, settings.starttls, settings.mail_from) == (
        "", 25, False, DEFAULT_MAIL_FROM)
    assert not settings.configured
    assert sms_settings(app).timeout == 10 and not sms_settings(app).configured

    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_PORT", "587")
    monkeypatch.setenv("SMTP_STARTTLS", "1")
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example.com/send")
    monkeypatch.setenv("SMS_TIMEOUT", "3")
    settings = mail_settings(app)
    assert (settings.host, settings.port, settings.starttls) == ("mail.example.com", 587, True)
    assert (sms_settings(app).url, sms_settings(app).timeout) == ("https://sms.example.com/send", 3)

    app.config.update(SMTP_HOST="smtp.internal", SMTP_PORT=2525)  # config wins over env
    assert (mail_settings(app).host, mail_settings(app).port) == ("smtp.internal", 2525)


def test_secrets_stay_out_of_the_settings_repr(app):
    app.config.update(SMTP_PASSWORD="pw-in-repr", SMS_GATEWAY_KEY="key-in-repr")
    assert "pw-in-repr" not in repr(mail_settings(app))
    assert "key-in-repr" not in repr(sms_settings(app))


def test_the_transport_is_an_outbox_until_a_server_is_configured(app):
    assert isinstance(mailer_for(app), OutboxMailer)
    assert isinstance(sms_gateway_for(app), OutboxSms)
    app.config.update(SMTP_HOST="127.0.0.1", SMS_GATEWAY_URL="http://127.0.0.1:9/sms")
    assert isinstance(mailer_for(app), SmtpMailer)
    assert isinstance(sms_gateway_for(app), HttpSmsGateway)
    for transport in (OutboxMailer(), mailer_for(app)):
        assert isinstance(transport, Mailer)
    for transport in (OutboxSms(), sms_gateway_for(app)):
        assert isinstance(transport, SmsGateway)
    assert OutboxMailer().send("a@example.com", "s", "b").recorded_only
    assert OutboxSms().send("0912345678", "b").recorded_only


def test_a_swapped_transport_takes_precedence(app):
    class Recorder:
        def __init__(self):
            self.sent = []

        def send(self, to, message, *, reference=""):
            self.sent.append((to, message))

    recorder = Recorder()
    use_transports(app, sms=recorder)
    assert sms_gateway_for(app) is recorder
    use_transports(app)
    assert isinstance(sms_gateway_for(app), OutboxSms)


# SMTP --------------------------------------------------------------------------------------

def test_smtp_delivers_chinese_subject_and_body_with_an_html_alternative(app, smtp_server):
    use_smtp(app, smtp_server, MAIL_FROM="ECTicket 電子票券 <no-reply@ectix.example.com>")
    delivery = SmtpMailer(mail_settings(app)).send(
        "buyer@example.com", "您的電子票券已發行：王品牛排 套餐券",
        "王小明 您好：\n請點選連結查看票券 https://ectix.example.com/t/abc\n謝謝！",
        html="<p>王小明 您好：<a href='https://ectix.example.com/t/abc'>查看票券</a></p>",
        reference="ectix-7",
    )
    assert not delivery.recorded_only
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["buyer@example.com"]
    assert received.mail_from == "no-reply@ectix.example.com"
    msg = received.message
    assert msg["Subject"] == "您的電子票券已發行：王品牛排 套餐券"
    assert msg["From"].addresses[0].display_name == "ECTicket 電子票券"
    assert msg["To"] == "buyer@example.com"
    assert received.text == "王小明 您好：\n請點選連結查看票券 https://ectix.example.com/t/abc\n謝謝！\n"
    assert "查看票券" in received.html
    assert delivery.provider_ref == msg["Message-ID"].strip() and "ectix-7" in delivery.provider_ref


def test_smtp_logs_in_when_a_username_is_set(app):
    with SmtpTestServer(credentials=("mailer", "s3cret-pw")) as server:
        use_smtp(app, server, SMTP_USERNAME="mailer", SMTP_PASSWORD="s3cret-pw")
        SmtpMailer(mail_settings(app)).send("a@example.com", "主旨", "內容")
        assert [m.username for m in server.messages] == ["mailer"]

        use_smtp(app, server, SMTP_USERNAME="mailer", SMTP_PASSWORD="wrong-pw-42")
        with pytest.raises(SendFailed) as failed:
            SmtpMailer(mail_settings(app)).send("a@example.com", "主旨", "內容")
        assert "登入失敗" in failed.value.reason and "535" in failed.value.reason
        assert "wrong-pw-42" not in failed.value.reason
        assert len(server.messages) == 1


def test_smtp_requiring_starttls_never_falls_back_to_plain_text(app, smtp_server):
    use_smtp(app, smtp_server, SMTP_STARTTLS="1", SMTP_USERNAME="u", SMTP_PASSWORD="p")
    with pytest.raises(SendFailed) as failed:
        SmtpMailer(mail_settings(app)).send("a@example.com", "主旨", "內容")
    assert "STARTTLS" in failed.value.reason and failed.value.permanent
    assert "AUTH" not in smtp_server.commands and "MAIL" not in smtp_server.commands
    assert smtp_server.messages == []


def test_smtp_refused_recipient_is_a_permanent_failure(app):
    with SmtpTestServer(rcpt_reply=(550, "5.1.1 no such user")) as server:
        use_smtp(app, server)
        with pytest.raises(SendFailed) as failed:
            SmtpMailer(mail_settings(app)).send("nobody@example.com", "主旨", "內容")
    assert failed.value.permanent and "550" in failed.value.reason and "no such user" in (
        failed.value.reason)


def test_smtp_temporary_refusal_may_be_retried(app):
    with SmtpTestServer(data_reply=(451, "4.3.0 try again later")) as server:
        use_smtp(app, server)
        with pytest.raises(SendFailed) as failed:
            SmtpMailer(mail_settings(app)).send("a@example.com", "主旨", "內容")
    assert not failed.value.permanent and "451" in failed.value.reason


def test_smtp_server_down_is_a_readable_failure(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=2)
    with pytest.raises(SendFailed) as failed:
        SmtpMailer(mail_settings(app)).send("a@example.com", "主旨", "內容")
    assert f"127.0.0.1:{port}" in failed.value.reason and not failed.value.permanent


# SMS gateway -------------------------------------------------------------------------------

def test_the_gateway_gets_json_and_the_bearer_key(app, sms_gateway):
    use_gateway(app, sms_gateway, SMS_GATEWAY_KEY="gw-key-777")
    delivery = HttpSmsGateway(sms_settings(app)).send(
        "0912345678", "【ECTicket】您的取貨碼 1234", reference="ectix-5")
    [request] = sms_gateway.requests
    assert request.json == {"to": "0912345678", "message": "【ECTicket】您的取貨碼 1234",
                            "reference": "ectix-5"}
    assert request.headers["Authorization"] == "Bearer gw-key-777"
    assert request.headers["Content-Type"].startswith("application/json")
    assert delivery.provider_ref == "sms-1" and not delivery.recorded_only


@pytest.mark.parametrize(("mode", "expected", "permanent"), [
    ("http500", "簡訊閘道回應錯誤（HTTP 500）：gateway exploded", False),
    ("error_body", "簡訊閘道未受理（HTTP 200）：quota exceeded；餘額不足", False),
    ("no_id", "回應中沒有簡訊編號", False),
    ("timeout", "簡訊閘道逾時（0.3 秒未回應）", False),
    ("echo_key", "HTTP 401", True),
])
def test_gateway_failures_raise_with_a_readable_reason(app, sms_gateway, mode, expected,
                                                       permanent):
    use_gateway(app, sms_gateway, SMS_GATEWAY_KEY="gw-secret-key", SMS_TIMEOUT=0.3)
    sms_gateway.mode = mode
    with pytest.raises(SendFailed) as failed:
        HttpSmsGateway(sms_settings(app)).send("0912345678", "內容")
    assert expected in failed.value.reason
    assert failed.value.permanent is permanent
    assert "gw-secret-key" not in failed.value.reason  # echo_key: the gateway repeated it


def test_gateway_url_must_be_http(app):
    app.config.update(SMS_GATEWAY_URL="file:///etc/passwd")
    with pytest.raises(SendFailed) as failed:
        sms_gateway_for(app).send("0912345678", "內容")
    assert failed.value.permanent and "SMS_GATEWAY_URL" in failed.value.reason


def test_gateway_unreachable_is_a_readable_failure(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.config.update(SMS_GATEWAY_URL=f"http://127.0.0.1:{port}/sms", SMS_TIMEOUT=2)
    with pytest.raises(SendFailed) as failed:
        sms_gateway_for(app).send("0912345678", "內容")
    assert "無法連線簡訊閘道" in failed.value.reason
