"""Pure rules of the merchant area (三、廠商專區): contacts (name, phone, e-mail list) and
login-history wording."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from app.phones import normalise_phone

CONTACT_ROLES: dict[str, str] = {  # the prefix of each contact's columns, and its name
    "finance": "帳務聯絡人",
    "sales": "業務聯絡人",
    "technical": "技術聯絡人",
}
CONTACT_FIELDS: dict[str, str] = {f"{role}_emails": label for role, label in CONTACT_ROLES.items()}
EMAILS_MAX_CHARS = 500  # the column width of each contact field
NAME_MAX_CHARS = 20
PHONE_MAX_CHARS = 30  # the column: `0836-12345#123456` at most, with room to spare


def contact_columns() -> list[str]:
    """Every contact column of a store, role by role: name, phone, e-mails."""
    return [f"{role}_{part}" for role in CONTACT_ROLES for part in ("name", "phone", "emails")]


@dataclass(frozen=True)
class CheckedContacts:
    values: dict[str, str]  # column -> normalised value (only when problems is empty)
    problems: dict[str, str]  # column -> message, placed under its field


def check_contacts(raw: dict[str, str | None]) -> CheckedContacts:
    """Check every contact column of `raw` (see contact_columns); all are checked, so every
    problem is reported at once, and nothing is to be saved unless there is none."""
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for role, label in CONTACT_ROLES.items():
        for column, check in ((f"{role}_name", normalise_name), (f"{role}_phone", normalise_contact_phone),
                              (f"{role}_emails", normalise_emails)):
            try:
                values[column] = check(raw.get(column), label=label)
            except BadContact as err:
                problems[column] = err.message
    return CheckedContacts(values, problems)


def normalise_name(raw: str | None, *, label: str) -> str:
    """A contact's name: blanks around it dropped, at most NAME_MAX_CHARS characters, no
    control characters (a line break would split the notice mails' greeting)."""
    name = " ".join((raw or "").split())
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise BadContact(f"{label}姓名含有無法顯示的字元")
    if len(name) > NAME_MAX_CHARS:
        raise BadContact(f"{label}姓名至多 {NAME_MAX_CHARS} 字（目前 {len(name)} 字）")
    return name


def normalise_contact_phone(raw: str | None, *, label: str) -> str:
    """A contact's phone: empty, a mobile (09xxxxxxxx) or a landline with its area code and an
    optional extension (`02-23456789#123`), see app.phones.normalise_phone."""
    text = (raw or "").strip()
    if not text:
        return ""
    phone = normalise_phone(text) if len(text) <= 40 else None
    if phone is None:
        raise BadContact(f"{label}電話：「{text[:40]}」不是有效的電話號碼（手機 09 開頭 10 碼，"
                           "或市話含區碼，例：02-2345-6789#123）")
    return phone

LOGIN_FAILURE_REASONS: dict[str, str] = {
    "bad_password": "密碼錯誤",
    "locked": "帳號鎖定",
    "unknown": "帳號不存在",
    "ip_not_allowed": "IP 不在允許清單",
    "bad_2fa": "雙因子驗證碼錯誤",
}
LOGIN_SUCCESS_REASONS: dict[str, str] = {
    "2fa_pending": "密碼正確，待雙因子驗證",
    "2fa": "雙因子驗證",
    "recovery": "使用復原碼",
}


class BadContact(ValueError):
    """A contact field that cannot be saved (a bad address, name or phone), with its message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_emails(raw: str | None, *, label: str) -> str:
    """Several addresses separated by half-width `;`, each checked; returned as `a@x;b@y`.

    Blanks around addresses and empty items (`a@x;;b@y;`) are dropped, repeats removed. Raises
    BadContact naming the first address that is not an e-mail address.
    """
    addresses: list[str] = []
    for item in (raw or "").split(";"):
        address = item.strip()
        if not address:
            continue
        try:
            normalised = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            raise BadContact(
                f"{label}：「{address}」不是有效的電子信箱（多組請以半形分號 ; 分隔）"
            ) from None
        if normalised.lower() not in {a.lower() for a in addresses}:
            addresses.append(normalised)
    joined = ";".join(addresses)
    if len(joined) > EMAILS_MAX_CHARS:
        raise BadContact(f"{label}：電子信箱合計至多 {EMAILS_MAX_CHARS} 字")
    return joined


def login_result_label(success: bool, reason: str) -> str:
    """成功, or 失敗（密碼錯誤） with the reason in Chinese."""
    if success:
        how = LOGIN_SUCCESS_REASONS.get(reason, reason)
        return f"成功（{how}）" if how else "成功"
    why = LOGIN_FAILURE_REASONS.get(reason, reason)
    return f"失敗（{why}）" if why else "失敗"
