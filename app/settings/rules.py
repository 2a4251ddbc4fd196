"""Pure rules of 7-1 操作設定管理: the shape of the ticket-page fields and where each shows.

No Flask, no database: the forms use these to show every problem at once and the services use
them again as the authority.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

PHONE_MIN, PHONE_MAX = 6, 30
PHONE_CHARS = re.compile(r"^[0-9 +\-#()]+$")
EMAIL_MAX = 200  # column width
URL_MAX = 300  # column width
RIGHTS_MAX = 2000

# Where each item is shown to consumers (seed 7-1 票券頁面資訊).
E_TICKET, PAPER, CVS, MAIL, ENTRY_PAGE = "電子票券", "紙本票券", "超商票券", "通知信", "電子票券核銷登入頁"
SHOWN_ON: dict[str, tuple[str, ...]] = {
    "issuer": (E_TICKET, PAPER, CVS, MAIL),
    "cs_phone": (E_TICKET, PAPER, CVS, MAIL),
    "cs_email": (E_TICKET, MAIL),
    "social": (E_TICKET, MAIL),
    "rights_statement": ("提貨券（僅提貨券顯示）",),
    "logo": (E_TICKET, PAPER, MAIL),
    "banner": (ENTRY_PAGE,),
}

SOCIAL_FIELDS: dict[str, str] = {
    "line_url": "LINE",
    "facebook_url": "Facebook",
    "instagram_url": "Instagram",
}


def phone_problem(phone: str) -> str | None:
    """客服電話: required; digits, spaces, + - # and parentheses; 6 to 30 characters."""
    phone = phone.strip()
    if not phone:
        return "請輸入客服電話"
    if not PHONE_CHARS.match(phone) or not any(c.isdigit() for c in phone):
        return "客服電話僅可輸入數字、空白、+、-、# 及括號"
    if not PHONE_MIN <= len(phone) <= PHONE_MAX:
        return f"客服電話長度須為 {PHONE_MIN} 至 {PHONE_MAX} 字"
    return None


class BadValue(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_email(raw: str) -> str:
    """客服 E-mail: optional; one address, normalised. Raises BadValue."""
    address = raw.strip()
    if not address:
        return ""
    try:
        normalised = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        raise BadValue(f"「{address}」不是有效的電子信箱") from None
    if len(normalised) > EMAIL_MAX:
        raise BadValue(f"電子信箱至多 {EMAIL_MAX} 字")
    return normalised


def email_problem(raw: str) -> str | None:
    try:
        normalise_email(raw)
    except BadValue as err:
        return err.message
    return None


def url_problem(url: str, label: str = "網址") -> str | None:
    """A social link: optional; an http:// or https:// address with a host, no blanks."""
    url = url.strip()
    if not url:
        return None
    if len(url) > URL_MAX:
        return f"{label}網址至多 {URL_MAX} 字"
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in url)):
        return f"{label}網址必須是以 http:// 或 https:// 開頭的完整網址"
    return None


def normalise_text(raw: str) -> str:
    """Multi-line text as stored: Unix line ends, no blanks around it."""
    return raw.replace("\r\n", "\n").replace("\r", "\n").strip()


def rights_problem(raw: str) -> str | None:
    """權益說明: required, at most 2000 characters."""
    text = normalise_text(raw)
    if not text:
        return "請輸入權益說明"
    if len(text) > RIGHTS_MAX:
        return f"權益說明至多 {RIGHTS_MAX} 字（目前 {len(text)} 字）"
    return None
