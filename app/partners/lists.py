"""The columns of the three relation lists (可核銷商店設定, 聯合票券發行單位, the operator's 跨店關聯
封鎖), each page and its Excel from one spec (app.columns). Rows are PartnerRelation objects."""

from __future__ import annotations

from app.columns import Column
from app.partners import rules
from app.web import format_money


def _store(side: str, code_header: str, name_header: str) -> tuple[Column, Column]:
    return (Column(f"{side}_code", code_header, lambda r: getattr(r, side).merchant_code),
            Column(f"{side}_name", name_header, lambda r: getattr(r, side).name))


def _dissolved_by(relation) -> str:  # noqa: ANN001
    return rules.dissolved_by_label(relation.dissolved_by.value if relation.dissolved_by else None)


# 關聯狀態 (a badge that also says 封鎖中), 解除方, 封鎖 (in the Excel; the page's badge says it), time
STATE = (
    Column("status", "關聯狀態", lambda r: r.status.label),
    Column("dissolved_by", "解除方", _dissolved_by, shown=lambda r: _dissolved_by(r) or "—"),
    Column("blocked", "封鎖", lambda r: "是" if r.blocked else "否", excel_only=True),
    Column("updated_at", "最後異動時間", lambda r: r.updated_at, "datetime"),
)

ISSUER_SIDE = (*_store("partner", "商店代號", "商店名稱"), *STATE)
OPERATOR = (*_store("issuer", "發行單位商店代號", "發行單位名稱"),
            *_store("partner", "可核銷商店代號", "可核銷商店名稱"), *STATE)


def partner_side(redeemed: dict[int, tuple[int, int]]) -> tuple[Column, ...]:
    """聯合票券發行單位: `redeemed` is {issuer store id: (count, face value)} of the last 90
    days' cross-store redemptions. The page shows both in one cell (2 張 / NT$300)."""
    def figures(r) -> tuple[int, int]:  # noqa: ANN001
        return redeemed.get(r.store_id, (0, 0))

    return (*_store("issuer", "發行單位商店代號", "發行單位名稱"), *STATE,
            Column("redeemed_count", "近90天跨店核銷張數", lambda r: figures(r)[0], "number",
                   shown=lambda r: f"{figures(r)[0]} 張 / {format_money(figures(r)[1])}"),
            Column("redeemed_amount", "近90天跨店核銷面額", lambda r: figures(r)[1], "money",
                   excel_only=True))
