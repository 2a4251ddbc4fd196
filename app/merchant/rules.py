"""Pure rules of the merchant area (三、廠商專區): contact e-mail lists and login-history wording."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

CONTACT_FIELDS: dict[str, str] = {
    "finance_emails": "帳務聯絡人",
    "sales_emails": "業務聯絡人",
    "technical_emails": "技術聯絡人",
}
EMAILS_MAX_CHARS = 500  # the column width of each contact field

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


class BadEmailList(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_emails(raw: str | None, *, label: str) -> str:
    """Several addresses separated by half-width `;`, each checked; returned as `a@x;b@y`.

    Blanks around addresses and empty items (`a@x;;b@y;`) are dropped, repeats removed. Raises
    BadEmailList naming the first address that is not an e-mail address.
    """
    addresses: list[str] = []
    for item in (raw or "").split(";"):
        address = item.strip()
        if not address:
            continue
        try:
            normalised = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            raise BadEmailList(
                f"{label}：「{address}」不是有效的電子信箱（多組請以半形分號 ; 分隔）"
            ) from None
        if normalised.lower() not in {a.lower() for a in addresses}:
            addresses.append(normalised)
    joined = ";".join(addresses)
    if len(joined) > EMAILS_MAX_CHARS:
        raise BadEmailList(f"{label}：電子信箱合計至多 {EMAILS_MAX_CHARS} 字")
    return joined


def login_result_label(success: bool, reason: str) -> str:
    """成功, or 失敗（密碼錯誤） with the reason in Chinese."""
    if success:
        how = LOGIN_SUCCESS_REASONS.get(reason, reason)
        return f"成功（{how}）" if how else "成功"
    why = LOGIN_FAILURE_REASONS.get(reason, reason)
    return f"失敗（{why}）" if why else "失敗"
