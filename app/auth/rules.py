"""Account rules of docs/accounts.md and the login lockout: pure functions, messages in the UI language."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime

_LETTERS = set(string.ascii_letters)
_DIGITS = set(string.digits)
_SYMBOLS = set(string.punctuation)
_ALNUM = re.compile(r"^[A-Za-z0-9]{6,20}$")

MAIN_PASSWORD_RULE = "密碼必須為 6-20 位英文、數字或符號至少兩種之混合"
SUB_PASSWORD_RULE = "密碼必須為 6-20 位英數字混合"
SUB_USERNAME_RULE = "帳號必須為 6-20 位英數字混合"
REMARK_RULE = "備註至多輸入 20 字"
REMARK_MAX = 20


def main_password_problem(password: str) -> str | None:
    """Main account (管理者): 6-20 characters, at least two of letters, digits and symbols."""
    if not 6 <= len(password) <= 20:
        return MAIN_PASSWORD_RULE
    chars = set(password)
    if not chars <= _LETTERS | _DIGITS | _SYMBOLS:
        return MAIN_PASSWORD_RULE  # spaces, full-width or other characters
    kinds = sum(bool(chars & kind) for kind in (_LETTERS, _DIGITS, _SYMBOLS))
    return None if kinds >= 2 else MAIN_PASSWORD_RULE


def _alnum_mixed(value: str) -> bool:
    return bool(_ALNUM.fullmatch(value)) and bool(set(value) & _LETTERS) and bool(set(value) & _DIGITS)


def sub_username_problem(username: str) -> str | None:
    """Sub-account (子帳號) username: 6-20 characters, letters and digits, both present."""
    return None if _alnum_mixed(username) else SUB_USERNAME_RULE


def sub_password_problem(password: str) -> str | None:
    """Sub-account password: 6-20 characters, letters and digits, both present."""
    return None if _alnum_mixed(password) else SUB_PASSWORD_RULE


def remark_problem(remark: str) -> str | None:
    return None if len(remark) <= REMARK_MAX else REMARK_RULE


# Login throttling ----------------------------------------------------------------------------

@dataclass(frozen=True)
class LoginLimits:
    """Wrong passwords allowed per window of `minutes` (config LOGIN_*)."""

    per_username_ip: int = 5  # one username from one address (or one known device)
    per_ip: int = 30  # any usernames from one address: password spraying
    per_username: int = 20  # one username from anywhere, devices it never logged in from
    minutes: int = 15


def login_counters(username: str, ip: str, device: str | None,
                   limits: LoginLimits) -> list[tuple[str, int, tuple[str, ...]]]:
    """The counters a login attempt takes, in order, as (name, limit, identifiers).

    From a device that logged in to this username before (`device`, its id): only that
    device's own count, so nobody else's wrong passwords (from the same office address or from
    anywhere) lock its owner out. From any other device: the username at this address, the
    address (spraying many usernames), and the username everywhere (a distributed guess).
    """
    name = username.casefold()
    if device:
        return [("login-device", limits.per_username_ip, (name, device))]
    return [("login-user-ip", limits.per_username_ip, (name, ip)),
            ("login-ip", limits.per_ip, (ip,)),
            ("login-user", limits.per_username, (name,))]


def wait_minutes(until: datetime, now: datetime) -> int:
    """Whole minutes to tell someone to wait (at least 1)."""
    return max(1, int((until - now).total_seconds() + 59) // 60)


# Sessions ----------------------------------------------------------------------------------

def session_expired(started: object, seen: object, now: int, *, idle_seconds: int,
                    max_seconds: int) -> bool:
    """Whether a login session (its start and last request, in epoch seconds, as signed into
    the session) has ended: idle too long, or older than the absolute lifetime. A session
    without both stamps (from before they existed, or forged by no one) has ended."""
    if not isinstance(started, int) or not isinstance(seen, int):
        return True
    return now - seen > idle_seconds or now - started > max_seconds
