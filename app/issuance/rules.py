"""Checking a batch's rows (預覽發行明細): pure functions, no Flask, no database.

The caller gathers the facts (the store's products, the merchant order numbers already used,
today's Taipei date, the chosen delivery method and voucher kind) and gets back every row with
its normalised values and a message per wrong cell, in the words the preview shows in red.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.phones import normalise_mobile

MAX_TICKETS = 1000
SAMPLE_ORDER_PREFIX = "SAMPLE"  # the template's sample rows (app/issuance/template.py)
COLUMNS = ("商品編號", "數量", "廠商訂單編號", "購買人姓名", "手機", "Email", "使用起始日")
_ORDER_NO = re.compile(r"[A-Za-z0-9]{1,25}")
_DATE = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")


@dataclass(frozen=True)
class ProductFacts:
    id: int
    name: str
    kind: str  # "pickup" | "gift"
    listed: bool
    end_date: date  # escrow end (pickup) or validity end (gift)
    face_value: int


@dataclass
class CheckedRow:
    row: int  # the Excel row number (or the 1-based index in an API request)
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # each cell as the user wrote it

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "values": self.values, "errors": self.errors,
                "typed": self.typed}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _typed(value: object) -> str:
    """A cell as the user wrote it, for showing a wrong value back (dates as yyyy/mm/dd)."""
    if isinstance(value, datetime | date):
        return f"{value:%Y/%m/%d}"
    return _text(value)


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(_text(value))
    if not match:
        raise ValueError
    return date(*(int(part) for part in match.groups()))


def check_rows(rows: list[dict[str, Any]], *, method: str, kind: str | None,
               products: dict[int, ProductFacts], used_order_nos: set[str],
               today: date) -> tuple[list[CheckedRow], list[str]]:
    """Every row checked; plus the errors of the batch as a whole (e.g. too many tickets).

    `method` is a DeliveryMethod value ("electronic:deferred", ...); `kind` the voucher kind
    chosen for the batch ("pickup" / "gift"), or None to accept either.
    """
    delivery_type, _, how = method.partition(":")
    checked: list[CheckedRow] = []
    seen_order_nos: dict[str, int] = {}
    total = 0
    for index, raw in enumerate(rows, start=1):
        row = CheckedRow(row=int(raw.get("_row") or index), values={},
                         typed={column: _typed(raw.get(column)) for column in COLUMNS})
        errors = row.errors

        product_id = _text(raw.get("商品編號"))
        product = None
        if not product_id:
            errors["商品編號"] = "請填寫商品編號"
        elif not product_id.isdigit() or int(product_id) not in products:
            errors["商品編號"] = "查無此商品編號"
        else:
            product = products[int(product_id)]
            if not product.listed:
                errors["商品編號"] = "商品已下架，無法發行"
            elif kind and product.kind != kind:
                wanted = "提貨券" if kind == "pickup" else "贈品券"
                errors["商品編號"] = f"此商品不是{wanted}，與選擇的票券類型不符"
            elif product.end_date < today:
                errors["商品編號"] = ("商品的價金保管期限已過，無法發行" if product.kind == "pickup"
                                  else "商品的使用期限已過，無法發行")
        row.values["product_id"] = int(product_id) if product_id.isdigit() else None

        quantity_text = _text(raw.get("數量"))
        quantity = int(quantity_text) if quantity_text.isdigit() else 0
        if not 1 <= quantity <= MAX_TICKETS:
            errors["數量"] = f"數量須為 1 到 {MAX_TICKETS} 的整數"
        else:
            total += quantity
        row.values["quantity"] = quantity

        order_no = _text(raw.get("廠商訂單編號"))
        if not order_no:
            errors["廠商訂單編號"] = "請填寫廠商訂單編號"
        elif order_no.upper().startswith(SAMPLE_ORDER_PREFIX):
            errors["廠商訂單編號"] = "範例資料列，請刪除後再上傳"
        elif not _ORDER_NO.fullmatch(order_no):
            errors["廠商訂單編號"] = "廠商訂單編號限英數字，最多 25 字"
        elif order_no in used_order_nos:
            errors["廠商訂單編號"] = "廠商訂單編號重複（已發行過）"
        elif order_no in seen_order_nos:
            errors["廠商訂單編號"] = f"廠商訂單編號重複（與第 {seen_order_nos[order_no]} 列相同）"
        else:
            seen_order_nos[order_no] = row.row
        row.values["merchant_order_no"] = order_no

        name = _text(raw.get("購買人姓名"))
        if not name:
            errors["購買人姓名"] = "請填寫購買人姓名"
        elif len(name) > 50:
            errors["購買人姓名"] = "購買人姓名最多 50 字"
        row.values["purchaser_name"] = name

        mobile_raw = _text(raw.get("手機"))
        mobile = normalise_mobile(raw.get("手機")) or "" if mobile_raw else ""
        if mobile_raw and not mobile:
            errors["手機"] = "手機格式錯誤，須為 09 開頭的 10 碼數字"
        row.values["mobile"] = mobile

        email = _text(raw.get("Email"))
        if email:
            try:
                email = validate_email(email, check_deliverability=False).normalized
            except EmailNotValidError:
                errors["Email"] = "Email 格式錯誤"
        row.values["email"] = email

        if delivery_type == "cvs" and not mobile_raw:
            errors["手機"] = "超商票券須填寫購買人手機"
        if delivery_type == "electronic" and not mobile_raw and not email:
            errors["手機"] = "電子票券須填寫手機或 Email（至少一項）"

        start_raw = raw.get("使用起始日")
        start: date | None = None
        if how == "deferred":
            if start_raw in (None, ""):
                errors["使用起始日"] = "非即期票券須填寫使用起始日"
            else:
                try:
                    start = _parse_date(start_raw)
                except ValueError:
                    errors["使用起始日"] = "日期格式錯誤，請填寫 yyyy/mm/dd"
                else:
                    if start <= today:
                        errors["使用起始日"] = "使用起始日須晚於今天"
                    elif product and start > product.end_date:
                        errors["使用起始日"] = "使用起始日不可晚於商品期限"
        elif start_raw not in (None, ""):
            errors["使用起始日"] = "僅非即期電子票券可填寫使用起始日"
        row.values["valid_from"] = start.isoformat() if start else None
        checked.append(row)

    batch_errors = []
    if not rows:
        batch_errors.append("檔案中沒有發行資料")
    if total > MAX_TICKETS:
        batch_errors.append(f"每次發行上限為 {MAX_TICKETS} 張（此批共 {total} 張）")
    return checked, batch_errors
