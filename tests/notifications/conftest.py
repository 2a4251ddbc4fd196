"""Fixtures for the notification tests: a local SMTP server, a local SMS gateway, the outbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.notifications.sms_gateway import SmsGatewayStub
from tests.notifications.smtp_server import SmtpTestServer

SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS",
            "SMTP_TIMEOUT", "MAIL_FROM", "SMS_GATEWAY_URL", "SMS_GATEWAY_KEY", "SMS_TIMEOUT")


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
