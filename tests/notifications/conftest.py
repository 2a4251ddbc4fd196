"""Fixtures for the notification tests: a local SMTP server (with its POP3 bounce mailbox), a
local SMS gateway (with its status callbacks), the app served over HTTP for them to call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import served
from tests.notifications.sms_gateway import SmsGatewayStub
from tests.notifications.smtp_server import SmtpTestServer

SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS",
            "SMTP_TIMEOUT", "MAIL_FROM", "SMS_GATEWAY_URL", "SMS_GATEWAY_KEY", "SMS_TIMEOUT",
            "SMS_STATUS_SECRET", "MAIL_RETURN_PATH", "MAIL_DSN_SUCCESS", "BOUNCE_POP3_HOST",
            "BOUNCE_POP3_PORT", "BOUNCE_POP3_USERNAME", "BOUNCE_POP3_PASSWORD", "BOUNCE_POP3_TLS",
            "BOUNCE_POP3_TIMEOUT")
BOUNCES = "bounces@ectix.test"  # the platform's return path: a mailbox on the test relay
BOUNCE_PASSWORD = "pop-secret-42"
STATUS_SECRET = "status-secret-9f3"


@pytest.fixture(autouse=True)
def _no_transport_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def sms_gateway() -> Iterator[SmsGatewayStub]:
    with SmsGatewayStub() as gateway:
        yield gateway


def use_smtp(app: Flask, server: SmtpTestServer, **settings: object) -> None:
    app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port, "SMTP_TIMEOUT": 5}
                      | settings)


def use_gateway(app: Flask, gateway: SmsGatewayStub, **settings: object) -> None:
    app.config.update({"SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_KEY": "test-key-123",
                       "SMS_TIMEOUT": 5} | settings)


@pytest.fixture
def outbox_routes(app: Flask) -> Flask:
    """The app (the factory registers the outbox blueprint)."""
    return app


@pytest.fixture
def relay() -> Iterator[SmtpTestServer]:
    """The test SMTP server as the relay of a deployment: it bounces what it cannot deliver to
    the return path, a mailbox of its own that its POP3 server serves."""
    with SmtpTestServer(local_mailboxes={BOUNCES},
                        mailbox_passwords={BOUNCES: BOUNCE_PASSWORD}) as server:
        yield server


def use_relay(app: Flask, server: SmtpTestServer, **settings: object) -> None:
    """Mail through the relay, its bounces to BOUNCES, read back over POP3."""
    use_smtp(app, server, **({"MAIL_RETURN_PATH": BOUNCES, "BOUNCE_POP3_HOST": "127.0.0.1",
                              "BOUNCE_POP3_PORT": server.pop3_port, "BOUNCE_POP3_TLS": "none",
                              "BOUNCE_POP3_USERNAME": BOUNCES,
                              "BOUNCE_POP3_PASSWORD": BOUNCE_PASSWORD,
                              "BOUNCE_POP3_TIMEOUT": 5} | settings))


@pytest.fixture
def app_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on loopback from a thread (on the test's own empty database),
    for the SMS gateway to post its status callbacks to."""
    with served(app) as url:
        yield url


@pytest.fixture
def reporting_gateway(app: Flask, app_server: str, sms_gateway: SmsGatewayStub) -> SmsGatewayStub:
    """The SMS gateway in use by the app, posting its signed status callbacks to it."""
    use_gateway(app, sms_gateway, SMS_STATUS_SECRET=STATUS_SECRET)
    sms_gateway.callback_url = f"{app_server}/notifications/sms/status"
    sms_gateway.callback_secret = STATUS_SECRET
    return sms_gateway
