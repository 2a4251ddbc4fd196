"""The escrow bank (價金保管銀行) as the nightly sync sees it: an adapter interface, the HTTP
implementation and how it is configured.

The bank takes a list of entries and answers each one: accepted (with its reference) or
rejected (with its reason). Every entry carries a `key`; the bank treats a repeated key as the
same entry and answers it as it did the first time, so re-sending after a crash never moves
money twice.

Settings are read from `app.config` first, then from the environment: ESCROW_BANK_URL,
ESCROW_BANK_KEY, ESCROW_BANK_TIMEOUT. Tests (and the demo) can install any object following the
`EscrowBank` protocol with `use_bank(app, bank)`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from flask import Flask

DEFAULT_TIMEOUT = 30.0
REASON_LIMIT = 500
_EXTENSION_KEY = "ectix.escrow_bank"


class BankUnavailable(Exception):
    """The bank could not be reached or did not answer properly; nothing it said is usable.
    The sync leaves the entries pending and a later run re-sends them with the same keys."""


@dataclass(frozen=True)
class BankEntry:
    key: str  # the instruction's key: a repeated key is the same entry
    kind: str  # "deposit" | "release" | "refund"
    ticket_serial: str
    merchant_code: str
    amount: int  # NTD: face value, or the refund (face value - fee)
    fee: int = 0  # the merchant's return handling fee (refunds)


@dataclass(frozen=True)
class BankAnswer:
    key: str
    accepted: bool
    bank_ref: str = ""
    reason: str = ""


@runtime_checkable
class EscrowBank(Protocol):
    def submit(self, entries: list[BankEntry]) -> list[BankAnswer]: ...


@dataclass(frozen=True)
class BankSettings:
    url: str
    key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def configured(self) -> bool:
        return bool(self.url)


def _setting(app: Flask, name: str, default: Any = None) -> Any:
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    return default if value is None else value


def bank_settings(app: Flask) -> BankSettings:
    try:
        timeout = float(_setting(app, "ESCROW_BANK_TIMEOUT", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    return BankSettings(url=str(_setting(app, "ESCROW_BANK_URL", "")).strip().rstrip("/"),
                        key=str(_setting(app, "ESCROW_BANK_KEY", "")),
                        timeout=timeout if timeout > 0 else DEFAULT_TIMEOUT)


def use_bank(app: Flask, bank: EscrowBank | None) -> None:
    """Install a bank that takes precedence over the configured one (None: back to config)."""
    app.extensions[_EXTENSION_KEY] = bank


class UnconfiguredBank:
    """No ESCROW_BANK_URL: every submission fails, so entries stay pending and are visible."""

    def submit(self, entries: list[BankEntry]) -> list[BankAnswer]:
        raise BankUnavailable("未設定價金保管銀行連線（ESCROW_BANK_URL）")


def bank_for(app: Flask) -> EscrowBank:
    override = app.extensions.get(_EXTENSION_KEY)
    if override is not None:
        return override
    settings = bank_settings(app)
    if not settings.configured:
        return UnconfiguredBank()
    return HttpEscrowBank(settings.url, settings.key, settings.timeout)


def _scrub(text: str, secret: str) -> str:
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())[:REASON_LIMIT]


class HttpEscrowBank:
    """POST {"entries": [...]} to `<url>/entries` with a bearer key; read {"answers": [...]}."""

    def __init__(self, url: str, key: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def __repr__(self) -> str:  # never the key
        return f"HttpEscrowBank({self.url!r})"

    def submit(self, entries: list[BankEntry]) -> list[BankAnswer]:
        if not entries:
            return []
        body = json.dumps({"entries": [asdict(e) for e in entries]}, ensure_ascii=False).encode()
        request = urllib.request.Request(
            f"{self.url}/entries", data=body, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8",
                     "Accept": "application/json", "Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            exc.close()
            raise BankUnavailable(_scrub(f"銀行回應 HTTP {exc.code}：{detail}", self.key)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BankUnavailable(_scrub(f"無法連線價金保管銀行：{reason}", self.key)) from None
        return parse_answers(raw)


def parse_answers(raw: bytes) -> list[BankAnswer]:
    """The bank's answers; anything malformed means nothing it said can be trusted."""
    try:
        data = json.loads(raw)
        answers = [
            BankAnswer(key=str(a["key"]), accepted=bool(a["accepted"]),
                       bank_ref=str(a.get("bank_ref") or "")[:60],
                       reason=str(a.get("reason") or "")[:REASON_LIMIT])
            for a in data["answers"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise BankUnavailable(f"銀行回應格式錯誤：{type(exc).__name__}") from None
    return answers
