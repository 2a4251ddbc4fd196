"""The columns of an issuance batch row: one table for the xlsx template (header, width, format,
the rules sheet), the upload reader (the header row it expects), the row checks (which cell
is which), the preview and its error file (what a cell shows) and the API (field names and the
JSON Schema of a row).

Pure data, no Flask, no database. An uploaded row is keyed by `header`; a checked row keeps its
values under `key`, which is also the API's field name, and its errors under `header` (the
words the preview shows).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.tickets.codes import MAX_TICKETS_PER_BATCH

MERCHANT_ORDER_NO_MAX = 25
PURCHASER_NAME_MAX = 50
REQUIRED = "必填"
_NULLABLE_STRING = {"type": ["string", "null"]}


class Format(enum.Enum):
    NUMBER = "number"
    TEXT = "text"  # formatted as text in the template, so 09… mobiles stay as typed
    DATE = "date"  # typed as text yyyy/mm/dd in the template, shown as yyyy/mm/dd


@dataclass(frozen=True)
class Column:
    header: str  # the template's header (Traditional Chinese)
    key: str  # the checked row's value key and the API's field name
    width: int  # the template column's width
    format: Format
    required: str  # REQUIRED, or when it is (視出券類型 / 視發行方式)
    rule: str  # what the rules sheet and page say of it
    schema: Mapping[str, Any]  # the API field's JSON Schema

    @property
    def always_required(self) -> bool:
        return self.required == REQUIRED

    @property
    def as_text(self) -> bool:
        """Whether the template formats the column as text (Excel's "@")."""
        return self.format is not Format.NUMBER

    def shown(self, row: Mapping[str, Any]) -> object:
        """What the preview and the error file show in this cell of a checked row: what was
        typed when the cell is wrong (to be corrected), else the value (a date as yyyy/mm/dd);
        None for an empty cell."""
        if self.header in row["errors"]:
            return row.get("typed", {}).get(self.header) or None
        value = row["values"].get(self.key)
        if value in (None, "") or (self.format is Format.NUMBER and not value):
            return None
        if self.format is Format.DATE:
            return value.replace("-", "/")
        return value


COLUMNS: tuple[Column, ...] = (
    Column("商品編號", "product_id", 12, Format.NUMBER, REQUIRED,
           "商品的編號（數字），可在「商品管理」列表的「商品編號」欄、商品頁面，或「票券發行」頁的"
           "「我的商品（上架中）」清單中查到並複製。商品必須為「上架」狀態，且須符合所選出券類型與"
           "發行方式的規則（例如提貨券／贈品券的限制）；找不到、已下架或不符者，該列會以紅色標示原因。",
           {"type": "integer", "description": "商品編號（上架中的商品）"}),
    Column("數量", "quantity", 8, Format.NUMBER, REQUIRED,
           f"此列要發行的張數，為 1～{MAX_TICKETS_PER_BATCH} 的整數。整批（所有列數量加總）"
           f"最多 {MAX_TICKETS_PER_BATCH} 張。",
           {"type": "integer", "minimum": 1, "maximum": MAX_TICKETS_PER_BATCH}),
    Column("廠商訂單編號", "merchant_order_no", 22, Format.TEXT, REQUIRED,
           f"貴公司自己的訂單編號，限英文字母與數字，最多 {MERCHANT_ORDER_NO_MAX} 字元。"
           "一筆訂單有多項商品時，每項商品填一列並填相同的廠商訂單編號（購買人姓名、手機、Email "
           "須相同），發行為同一筆訂單。在同一商店內不可重複使用：先前批次已使用的編號（已發行，"
           "或排隊中、發行中）不可再次使用；發行失敗的批次不占用編號。",
           {"type": "string", "pattern": f"^[A-Za-z0-9]{{1,{MERCHANT_ORDER_NO_MAX}}}$",
            "description": "廠商訂單編號：同一批次中相同者為同一筆訂單（可含多項商品，購買人須相同）；"
                           "先前批次已使用（已發行、排隊中或發行中）的編號不可再用"}),
    Column("購買人姓名", "purchaser_name", 16, Format.TEXT, REQUIRED,
           f"最多 {PURCHASER_NAME_MAX} 字元。",
           {"type": "string", "maxLength": PURCHASER_NAME_MAX}),
    Column("手機", "mobile", 14, Format.TEXT, "視出券類型",
           "09 開頭共 10 碼數字（例如 0912345678），請勿加上 - 或空白。超商票券必填；電子票券未填 Email "
           "時必填。用於確認電子票券連結身分及發送簡訊通知。本欄已設為文字格式，以保留開頭的 0。",
           {**_NULLABLE_STRING,
            "description": "09 開頭 10 碼；超商票券必填，電子票券與 email 至少一項"}),
    Column("Email", "email", 28, Format.TEXT, "視出券類型",
           "購買人的電子郵件信箱，只能填一個（不可填多個信箱）。電子票券未填手機時必填；"
           "發行成功後電子票券連結會寄到此信箱。",
           {**_NULLABLE_STRING, "format": "email"}),
    Column("使用起始日", "valid_from", 14, Format.DATE, "視發行方式",
           "僅適用於電子票券「非即期」發行：必填，格式 yyyy/mm/dd（例如 2099/01/01），須晚於今日且早於"
           "商品的使用期限／價金保管迄日；票券自該日起才可使用，在此之前仍可退貨。"
           "其他出券類型或發行方式（即期、紙本、超商）本欄必須留空。",
           {**_NULLABLE_STRING, "format": "date",
            "description": "使用起始日（僅非即期電子票券，必填，須晚於今日）"}),
)

HEADERS: list[str] = [c.header for c in COLUMNS]
HEADER_OF: dict[str, str] = {c.key: c.header for c in COLUMNS}  # key → header
KEY_OF: dict[str, str] = {c.header: c.key for c in COLUMNS}  # header → key (API field)


def column(key: str) -> Column:
    return next(c for c in COLUMNS if c.key == key)
