"""Rules of the operator console (docs/accounts.md): merchant, contract and news input. Pure functions,
messages in the UI language; the services call them and refuse with `InvalidInput`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from app.stores.models import DeliveryMethod, RedemptionMode

_MERCHANT_CODE = re.compile(r"[0-9]{7,10}")
_TAX_ID = re.compile(r"[0-9]{8}")
_MAIN_USERNAME = re.compile(r"[A-Za-z0-9]{6,20}")

MERCHANT_CODE_RULE = "商店代號必須為 7-10 位數字"
TAX_ID_RULE = "統一編號必須為 8 位數字"
MAIN_USERNAME_RULE = "管理者帳號必須為 6-20 位英文或數字"
WEBSITE_RULE = "商店網址必須以 http:// 或 https:// 開頭"

PERIOD_COUNT_MAX = 60  # 核銷設定：期數 of an installment contract, at most
PERIOD_COUNT_RULE = f"分期核銷須設定期數（1 至 {PERIOD_COUNT_MAX} 期）"

NEWS_CATEGORIES = ("公告", "維護", "服務通知")
NEWS_TITLE_MAX = 120


def merchant_code_problem(code: str) -> str | None:
    return None if _MERCHANT_CODE.fullmatch(code) else MERCHANT_CODE_RULE


def tax_id_problem(tax_id: str) -> str | None:
    return None if _TAX_ID.fullmatch(tax_id) else TAX_ID_RULE


def main_username_problem(username: str) -> str | None:
    return None if _MAIN_USERNAME.fullmatch(username) else MAIN_USERNAME_RULE


def website_problem(website: str) -> str | None:
    if not website:
        return None
    parts = urlsplit(website)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return WEBSITE_RULE
    return None


def normalise_emails(text: str) -> tuple[str, str | None]:
    """Several addresses separated by `;` (docs/accounts.md): the normalised list, or a problem."""
    addresses = [part.strip() for part in text.split(";") if part.strip()]
    normalised = []
    for address in addresses:
        try:
            normalised.append(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError:
            return text, f"電子信箱格式錯誤：{address}（多組請以半形分號 ; 分隔）"
    return ";".join(normalised), None


def parent_problem(*, store_id: int | None, store_has_children: bool,
                   parent_chain: Sequence[int]) -> str | None:
    """Parent and child stores are one level deep: a parent is never a child, a child never a
    parent, and no store is its own parent or ancestor.

    `parent_chain` is the proposed parent's id followed by its own ancestors' ids.
    """
    if not parent_chain:
        return None
    if store_id is not None and parent_chain[0] == store_id:
        return "商店不可設為自己的母商店"
    if store_id is not None and store_id in parent_chain[1:]:
        return "不可將自己的子商店設為母商店"
    if len(parent_chain) > 1:
        return "所選商店本身為子商店，不可再作為母商店"
    if store_has_children:
        return "此商店已有子商店，不可再設定母商店"
    return None


def contract_problems(*, start_date: date, end_date: date, redemption_mode: str,
                      enabled_methods: Sequence[str], payout_delay_days: int,
                      installment_period_days: int | None,
                      installment_period_count: int | None = None) -> dict[str, str]:
    """Field name → message for a contract's terms; empty when they hold."""
    problems: dict[str, str] = {}
    if end_date < start_date:
        problems["end_date"] = "合約結束日不可早於開始日"
    if redemption_mode not in {m.value for m in RedemptionMode}:
        problems["redemption_mode"] = "請選擇核銷方式"
    known = {m.value for m in DeliveryMethod}
    if any(value not in known for value in enabled_methods):
        problems["enabled_methods"] = "發行方式不正確"
    if payout_delay_days < 0:
        problems["payout_delay_days"] = "撥款天期不可小於 0"
    if redemption_mode == RedemptionMode.INSTALLMENT.value and (
        installment_period_days is None or installment_period_days <= 0
    ):
        problems["installment_period_days"] = "分期核銷須設定每期天數（大於 0）"
    if redemption_mode == RedemptionMode.INSTALLMENT.value and (
        installment_period_count is None
        or not 0 < installment_period_count <= PERIOD_COUNT_MAX
    ):
        problems["installment_period_count"] = PERIOD_COUNT_RULE
    return problems


def news_problems(*, title: str, body: str, category: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not title:
        problems["title"] = "請輸入標題"
    elif len(title) > NEWS_TITLE_MAX:
        problems["title"] = f"標題至多 {NEWS_TITLE_MAX} 字"
    if not body.strip():
        problems["body"] = "請輸入內容"
    if category not in NEWS_CATEGORIES:
        problems["category"] = "請選擇類別"
    return problems
