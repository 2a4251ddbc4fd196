"""How a message leaves the platform: SMTP or an outbox for e-mail, an HTTP gateway or an outbox
for SMS. Chosen from the settings each time a message is sent.

Settings are read from `app.config` first, then from the environment (SMTP_HOST, SMTP_PORT,
SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS, MAIL_FROM, SMTP_TIMEOUT, MAIL_RETURN_PATH,
MAIL_DSN_SUCCESS; SMS_GATEWAY_URL, SMS_GATEWAY_KEY, SMS_TIMEOUT, SMS_STATUS_SECRET). Without
SMTP_HOST (or SMS_GATEWAY_URL) nothing is sent and the message is only recorded in the outbox
(`MessageStatus.RECORDED`), so a development machine shows every message a consumer or
merchant would receive.

A transport either returns a `Delivery` or raises `SendFailed` with a readable reason. Secrets
(the SMTP password, the gateway key, the status secret) never appear in a reason, a log line or a Message row.

Delivery reports come back another way: the SMTP envelope's sender is MAIL_RETURN_PATH (the
bounce mailbox that app.notifications.mailbox reads), and when the server offers DSN the
mailer asks for failure reports (and for success reports too with MAIL_DSN_SUCCESS=1), with
only the headers returned; the gateway posts its status callback, signed with
SMS_STATUS_SECRET, to /notifications/sms/status (app.notifications.receipts).

Tests and later code can swap a transport: `use_transports(app, mailer=..., sms=...)` installs
any object that follows the `Mailer` / `SmsGateway` protocol.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from flask import Flask

from app import clock

log = logging.getLogger(__name__)

DEFAULT_MAIL_FROM = "ECTicket <no-reply@ectix.local>"
DEFAULT_SMTP_PORT = 25
DEFAULT_SMTP_TIMEOUT = 30.0
DEFAULT_SMS_TIMEOUT = 10.0
REASON_LIMIT = 500

_EXTENSION_KEY = "ectix.notifications"


class SendFailed(Exception):
    """A transport could not hand the message over. `reason` is shown in the outbox as is.

    `permanent` says retrying cannot help (the server refused the recipient, the gateway
    rejected the request as malformed or unauthorised).
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """The outcome of a successful hand-over: sent for real, or only recorded in the outbox."""

    recorded_only: bool = False
    provider_ref: str = ""


@runtime_checkable
class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str, *, html: str | None = None,
             reference: str = "") -> Delivery: ...


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, to: str, message: str, *, reference: str = "") -> Delivery: ...


# Settings ----------------------------------------------------------------------------------

def _setting(app: Flask, name: str, default: Any = None) -> Any:
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return default
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _number(value: Any, default: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        log.warning("%s is not a number; using %s", name, default)
        return default
    return number if number > 0 else default


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    starttls: bool
    mail_from: str
    timeout: float
    return_path: str = ""  # the envelope sender: where bounces go ("": the From address)
    dsn_success: bool = False  # also ask for a report when a message is delivered

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class SmsSettings:
    url: str
    key: str = field(repr=False)
    timeout: float
    status_secret: str = field(default="", repr=False)  # signs the gateway's status callback

    @property
    def configured(self) -> bool:
        return bool(self.url)


def mail_settings(app: Flask) -> MailSettings:
    return MailSettings(
        host=str(_setting(app, "SMTP_HOST", "")).strip(),
        port=int(_number(_setting(app, "SMTP_PORT", DEFAULT_SMTP_PORT), DEFAULT_SMTP_PORT,
                         "SMTP_PORT")),
        username=str(_setting(app, "SMTP_USERNAME", "")),
        password=str(_setting(app, "SMTP_PASSWORD", "")),
        starttls=_flag(_setting(app, "SMTP_STARTTLS", "0")),
        mail_from=str(_setting(app, "MAIL_FROM", DEFAULT_MAIL_FROM)).strip() or DEFAULT_MAIL_FROM,
        timeout=_number(_setting(app, "SMTP_TIMEOUT", DEFAULT_SMTP_TIMEOUT), DEFAULT_SMTP_TIMEOUT,
                        "SMTP_TIMEOUT"),
        return_path=str(_setting(app, "MAIL_RETURN_PATH", "")).strip(),
        dsn_success=_flag(_setting(app, "MAIL_DSN_SUCCESS", "0")),
    )


def sms_settings(app: Flask) -> SmsSettings:
    return SmsSettings(
        url=str(_setting(app, "SMS_GATEWAY_URL", "")).strip(),
        key=str(_setting(app, "SMS_GATEWAY_KEY", "")),
        timeout=_number(_setting(app, "SMS_TIMEOUT", DEFAULT_SMS_TIMEOUT), DEFAULT_SMS_TIMEOUT,
                        "SMS_TIMEOUT"),
        status_secret=str(_setting(app, "SMS_STATUS_SECRET", "")),
    )


# Choosing ----------------------------------------------------------------------------------

def use_transports(app: Flask, *, mailer: Mailer | None = None, sms: SmsGateway | None = None) -> None:
    """Install transports that take precedence over the configured ones (None: back to config)."""
    chosen = app.extensions.setdefault(_EXTENSION_KEY, {})
    chosen["mailer"] = mailer
    chosen["sms"] = sms


def mailer_for(app: Flask) -> Mailer:
    override = app.extensions.get(_EXTENSION_KEY, {}).get("mailer")
    if override is not None:
        return override
    settings = mail_settings(app)
    return SmtpMailer(settings) if settings.configured else OutboxMailer()


def sms_gateway_for(app: Flask) -> SmsGateway:
    override = app.extensions.get(_EXTENSION_KEY, {}).get("sms")
    if override is not None:
        return override
    settings = sms_settings(app)
    return HttpSmsGateway(settings) if settings.configured else OutboxSms()


def _scrub(text: str, *secrets: str) -> str:
    """A reason fit for the outbox: no secret in it, one line, bounded."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:REASON_LIMIT]


# E-mail ------------------------------------------------------------------------------------

class OutboxMailer:
    """No SMTP server configured: nothing leaves; the outbox row is the message."""

    def send(self, to: str, subject: str, body: str, *, html: str | None = None,
             reference: str = "") -> Delivery:
        return Delivery(recorded_only=True)


class SmtpMailer:
    """E-mail over SMTP (smtplib): optional STARTTLS (required when configured: never falls back
    to plain text), optional login, UTF-8 subject and body, an HTML alternative when given."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def build(self, to: str, subject: str, body: str, *, html: str | None = None,
              reference: str = "") -> EmailMessage:
        settings = self.settings
        _, from_address = parseaddr(settings.mail_from)
        domain = from_address.rpartition("@")[2] or "ectix.local"
        msg = EmailMessage()
        msg["Subject"] = " ".join(subject.split())  # a header is one line
        msg["From"] = settings.mail_from
        msg["To"] = Address(addr_spec=to)
        msg["Date"] = format_datetime(clock.now())
        msg["Message-ID"] = make_msgid(idstring=reference or None, domain=domain)
        msg.set_content(body, charset="utf-8", cte="base64")
        if html:
            msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
        return msg

    def send(self, to: str, subject: str, body: str, *, html: str | None = None,
             reference: str = "") -> Delivery:
        settings = self.settings
        try:
            msg = self.build(to, subject, body, html=html, reference=reference)
        except (ValueError, TypeError, IndexError) as exc:  # an address the header API refuses
            raise SendFailed(f"郵件內容無法組成：{exc}", permanent=True) from exc
        where = f"{settings.host}:{settings.port}"
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
                smtp.ehlo()
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if settings.username:
                    smtp.login(settings.username, settings.password)
                mail_options, rcpt_options = self.dsn_options(smtp)
                smtp.send_message(msg, from_addr=settings.return_path or None,
                                  mail_options=mail_options, rcpt_options=rcpt_options)
        except smtplib.SMTPRecipientsRefused as exc:
            detail = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
            raise SendFailed(self._reason(f"郵件伺服器拒收收件人：{detail}"),
                             permanent=True) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailed(self._reason(f"郵件伺服器 {where} 不支援所需功能：{exc}"),
                             permanent=True) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(self._reason(
                f"郵件伺服器登入失敗（{exc.smtp_code} {_text(exc.smtp_error)}）")) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(
                self._reason(f"郵件伺服器回應錯誤（{exc.smtp_code} {_text(exc.smtp_error)}）"),
                permanent=500 <= exc.smtp_code < 600,
            ) from exc
        except TimeoutError as exc:
            raise SendFailed(self._reason(f"連線郵件伺服器 {where} 逾時")) from exc
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise SendFailed(self._reason(
                f"無法寄送至郵件伺服器 {where}：{type(exc).__name__}: {exc}")) from exc
        log.info("e-mail %s handed to %s", reference, where)
        return Delivery(provider_ref=str(msg["Message-ID"])[:100])

    def dsn_options(self, smtp: smtplib.SMTP) -> tuple[list[str], list[str]]:
        """MAIL and RCPT parameters asking for delivery status notifications (RFC 3461) when the
        server offers them: failures always (and successes with MAIL_DSN_SUCCESS), the
        original's headers only, not its body. The report names the original's Message-ID,
        which is how it finds its message (app.notifications.bounces)."""
        if not smtp.has_extn("dsn"):
            return [], []
        notify = "SUCCESS,FAILURE" if self.settings.dsn_success else "FAILURE"
        return ["RET=HDRS"], [f"NOTIFY={notify}"]

    def _reason(self, text: str) -> str:
        return _scrub(text, self.settings.password)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# SMS ---------------------------------------------------------------------------------------

class OutboxSms:
    """No SMS gateway configured: nothing leaves; the outbox row is the message."""

    def send(self, to: str, message: str, *, reference: str = "") -> Delivery:
        return Delivery(recorded_only=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would carry the key to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


_opener = urllib.request.build_opener(_NoRedirect())


class HttpSmsGateway:
    """POST {"to", "message", "reference"} as JSON with `Authorization: Bearer <key>`.

    Success is HTTP 2xx with a JSON body {"id": "..."}; anything else is `SendFailed`.
    """

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def send(self, to: str, message: str, *, reference: str = "") -> Delivery:
        settings = self.settings
        if urlsplit(settings.url).scheme not in {"http", "https"}:
            raise SendFailed("簡訊閘道設定錯誤：SMS_GATEWAY_URL 必須是 http(s) 網址", permanent=True)
        payload = json.dumps({"to": to, "message": message, "reference": reference},
                             ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Accept": "application/json", "User-Agent": "ectix-sms/1"}
        if settings.key:
            headers["Authorization"] = f"Bearer {settings.key}"
        request = urllib.request.Request(settings.url, data=payload, headers=headers,
                                         method="POST")
        try:
            with _opener.open(request, timeout=settings.timeout) as response:
                status = response.status
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _error_detail(exc.read(64 * 1024))
            permanent = 400 <= exc.code < 500 and exc.code not in {408, 409, 425, 429}
            raise SendFailed(self._reason(f"簡訊閘道回應錯誤（HTTP {exc.code}）{detail}"),
                             permanent=permanent) from exc
        except TimeoutError as exc:
            raise SendFailed(self._reason(f"簡訊閘道逾時（{settings.timeout:g} 秒未回應）")) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise SendFailed(
                    self._reason(f"簡訊閘道逾時（{settings.timeout:g} 秒未回應）")) from exc
            raise SendFailed(self._reason(f"無法連線簡訊閘道：{exc.reason}")) from exc
        except OSError as exc:
            raise SendFailed(self._reason(f"簡訊閘道連線中斷：{type(exc).__name__}: {exc}")) from exc
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SendFailed(self._reason(
                f"簡訊閘道回應無法解讀（HTTP {status}）：{raw[:200].decode('utf-8', 'replace')}")
            ) from exc
        ident = body.get("id") if isinstance(body, dict) else None
        if not (200 <= status < 300) or not isinstance(ident, str | int) or ident == "":
            if isinstance(body, dict) and (body.get("error") or body.get("message")):
                reason = f"簡訊閘道未受理（HTTP {status}）{_error_detail(raw)}"
            else:
                reason = (f"簡訊閘道回應中沒有簡訊編號 id（HTTP {status}）："
                          f"{raw[:200].decode('utf-8', 'replace')}")
            raise SendFailed(self._reason(reason))
        log.info("sms %s accepted by the gateway as %s", reference, ident)
        return Delivery(provider_ref=str(ident)[:100])

    def _reason(self, text: str) -> str:
        return _scrub(text, self.settings.key)


def _error_detail(raw: bytes) -> str:
    """The gateway's own words: the "error"/"message" of a JSON body, else the text."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return f"：{text[:200]}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message") or error.get("code") or json.dumps(error, ensure_ascii=False)
        parts = [str(p) for p in (error, body.get("message")) if p]
        if parts:
            return "：" + "；".join(dict.fromkeys(parts))
    return f"：{text[:200]}"
