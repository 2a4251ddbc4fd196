"""Account rules of docs/accounts.md and the login lockout: pure functions, messages in the UI language."""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta

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


def locked_until(failures: list[datetime], now: datetime, *, limit: int = 5,
                 window: timedelta = timedelta(minutes=15)) -> datetime | None:
    """When an account with these recent failed logins (since its last success) unlocks.

    Locked while `limit` failures fall inside the last `window`; it unlocks `window` after the
    oldest of the latest `limit` failures. None when not locked.
    """
    recent = sorted(t for t in failures if now - window < t <= now)
    if len(recent) < limit:
        return None
    return recent[-limit] + window
