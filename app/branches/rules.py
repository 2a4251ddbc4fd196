"""Branch rules of docs/accounts.md (票券分店): pure functions, messages in the UI language."""

from __future__ import annotations

import re

CODE_MAX = 20
NAME_MAX = 50
_CODE = re.compile(r"^[A-Za-z0-9]{1,20}$")

CODE_RULE = "分店編號須為 1-20 位英文或數字，建立後不可修改"
NAME_RULE = "分店名稱至多輸入 50 字"
NAME_REQUIRED = "請輸入分店名稱"
DUPLICATE_CODE = "相同廠商下的分店編號不可重複"
DISABLE_WARNING = "停用後該分店員工僅可查詢報表，無法進行票券操作"

ENABLED, DISABLED = "enabled", "disabled"
STATUS_LABELS = {ENABLED: "啟用", DISABLED: "停用"}


def code_problem(code: str) -> str | None:
    return None if _CODE.fullmatch(code) else CODE_RULE


def name_problem(name: str) -> str | None:
    if not name:
        return NAME_REQUIRED
    return None if len(name) <= NAME_MAX else NAME_RULE


def status_label(enabled: bool) -> str:
    return STATUS_LABELS[ENABLED if enabled else DISABLED]
