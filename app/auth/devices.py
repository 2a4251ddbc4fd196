"""Known devices: a browser that has logged in to an account before.

After a successful login the browser gets a signed cookie (itsdangerous, under SECRET_KEY, salt
"ectix-device"): a random device id and the accounts that logged in from it (the latest
`MAX_ACCOUNTS`), kept `REMEMBER_DAYS`. HttpOnly, SameSite=Lax, Secure as the session cookie.
It proves nothing about who is typing: a password is still needed. It only tells a returning
device from a new one, for:

- login throttling (app.auth.services.authenticate): a username locked by someone else's wrong
  passwords still lets its owner in from a device it used before;
- later: "a login from a new device" notices and remembering a device for a second factor.

The whole API:

    device = devices.read(request)          # Device | None (no cookie, forged, or expired)
    device.knows(account_id)                # this browser logged in to that account before
    device.id                               # stable random id of this browser (for notices)
    devices.remember(response, device, account_id)   # after a successful login; returns the id
    devices.forget(response)                # drop the cookie
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "ectix_device"
REMEMBER_DAYS = 180
MAX_ACCOUNTS = 10


@dataclass(frozen=True)
class Device:
    id: str
    account_ids: tuple[int, ...] = ()

    def knows(self, account_id: int | None) -> bool:
        return account_id is not None and account_id in self.account_ids


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="ectix-device")


def read(request: Request) -> Device | None:
    """This browser's device, if it carries a valid cookie issued within REMEMBER_DAYS."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 1000:
        return None
    try:
        value = _serializer().loads(raw, max_age=REMEMBER_DAYS * 86400)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(value, dict) or not isinstance(value.get("d"), str):
        return None
    ids = value.get("a")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return None
    return Device(value["d"], tuple(ids))


def remember(response: Response, device: Device | None, account_id: int) -> str:
    """Mark this browser as known to `account_id` (re-issued, so the cookie's age restarts);
    returns the device id (a new one for a browser without a valid cookie)."""
    device_id = device.id if device else secrets.token_urlsafe(16)
    others = [i for i in (device.account_ids if device else ()) if i != account_id]
    ids = [*others[-(MAX_ACCOUNTS - 1):], account_id]
    response.set_cookie(
        COOKIE, _serializer().dumps({"d": device_id, "a": ids}), max_age=REMEMBER_DAYS * 86400,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE", True)), httponly=True,
        samesite="Lax")
    return device_id


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE)
