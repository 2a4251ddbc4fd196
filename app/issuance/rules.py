"""Checking a batch's rows (預覽發行明細): pure functions, no Flask, no database.

The caller gathers the facts (the store's products, the merchant order numbers already used,
today's Taipei date, the chosen delivery method and voucher kind) and gets back every row with
its normalised values and a message per wrong cell, in the words the preview shows in red.

Merchant order numbers (廠商訂單編號, rule e). A row is one product of an order; the merchant
order number says which order:

- Within one batch, the rows that share a merchant order number are ONE order holding several
  products (or the same product on several rows), issued as one order (one ECT order number,
  one e-ticket link or pickup code, one notice). They must name the same purchaser (name,
  mobile, e-mail, as normalised); otherwise every one of them is wrong:
  「同一廠商訂單編號的購買人資料須相同」.
- Across batches, a merchant order number belongs to the first batch of the store that took
  it: one that issued it, or one still queued or issuing. A later batch that uses it again is
  wrong at its preview, at its confirm and in the API (「廠商訂單編號已使用於匯入單號 X」), so
  the clash is a row error, never a failed job. A failed batch left nothing behind and takes
  no number. The database holds the same rule (one order per store and merchant order number),
  so a race that slips past the checks fails that batch's job with the same message.
- The import number (匯入單號), not the merchant order number, is what makes sending the same
  batch twice harmless: the same import number is never issued twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.bounds import INT_MAX, whole_number
from app.issuance.columns import COLUMNS, HEADER_OF, MERCHANT_ORDER_NO_MAX, PURCHASER_NAME_MAX
from app.phones import normalise_mobile
from app.tickets.codes import MAX_TICKETS_PER_BATCH

SAMPLE_ORDER_PREFIX = "SAMPLE"  # the template's sample rows (app/issuance/template.py)
DIFFERENT_PURCHASERS = "同一廠商訂單編號的購買人資料須相同"
ORDER_NO_PATTERN = re.compile(rf"[A-Za-z0-9]{{1,{MERCHANT_ORDER_NO_MAX}}}")
_DATE = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_CHARACTERS = "含有不允許的控制字元"
MOBILE_WRONG = "手機格式錯誤，須為 09 開頭的 10 碼數字"


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
    # key → header of the batch's columns (errors are kept under the header): the ticket
    # template's by default; another template's rows (installment orders) give theirs.
    headers: Mapping[str, str] = field(default_factory=lambda: HEADER_OF, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def wrong(self, key: str, message: str | None) -> None:
        """Mark the cell of column `key` wrong (errors are kept under the column's header);
        no message, nothing wrong."""
        if message:
            self.errors[self.headers[key]] = message

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "values": self.values, "errors": self.errors,
                "typed": self.typed}


def text_of(value: object) -> str:
    """A cell (or an API field) as stripped text: None → "", 12.0 → "12"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def typed_of(value: object) -> str:
    """A cell as the user wrote it, for showing a wrong value back (dates as yyyy/mm/dd)."""
    if isinstance(value, datetime | date):
        return f"{value:%Y/%m/%d}"
    return text_of(value)


def parse_date(value: object) -> date | None:
    """A date cell, or text yyyy/mm/dd (or yyyy-mm-dd); ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(text_of(value))
    if not match:
        raise ValueError
    return date(*(int(part) for part in match.groups()))


# The purchaser's and the order's cells, checked alike in every issuance template ---------------

def merchant_order_no_problem(order_no: str, used_order_nos: Mapping[str, str]) -> str | None:
    """Why a merchant order number (廠商訂單編號, as `text_of` gives it) cannot be used; None
    if it can. `used_order_nos` maps the numbers other batches took to their import numbers."""
    if not order_no:
        return "請填寫廠商訂單編號"
    if order_no.upper().startswith(SAMPLE_ORDER_PREFIX):
        return "範例資料列，請刪除後再上傳"
    if not ORDER_NO_PATTERN.fullmatch(order_no):
        return f"廠商訂單編號限英數字，最多 {MERCHANT_ORDER_NO_MAX} 字"
    if order_no in used_order_nos:
        return order_no_taken(used_order_nos[order_no])
    return None


def purchaser_name_problem(name: str) -> str | None:
    if not name:
        return "請填寫購買人姓名"
    if len(name) > PURCHASER_NAME_MAX:
        return f"購買人姓名最多 {PURCHASER_NAME_MAX} 字"
    if _CONTROL.search(name):
        return CONTROL_CHARACTERS
    return None


def mobile_of(cell: object) -> tuple[str, str | None]:
    """A mobile cell as 09xxxxxxxx ("" when empty), and why it is wrong (or None)."""
    if not text_of(cell):
        return "", None
    mobile = normalise_mobile(cell)
    return (mobile, None) if mobile else ("", MOBILE_WRONG)


def email_of(cell: object) -> tuple[str, str | None]:
    """An e-mail cell normalised ("" when empty), and why it is wrong (or None)."""
    email = text_of(cell)
    if not email:
        return "", None
    try:
        return validate_email(email, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return email, "Email 格式錯誤"


def order_no_taken(import_no: str) -> str:
    """The row error of a merchant order number another batch took."""
    return f"廠商訂單編號已使用於匯入單號 {import_no}"


def order_no_clash(number: str, import_no: str) -> str:
    """Why a batch failed in its job when a race slipped past the checks (the database's
    one-order-per-merchant-order-number constraint caught it)."""
    return f"廠商訂單編號 {number} 已使用於匯入單號 {import_no}，發行未完成"


def order_nos(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The merchant order numbers of uploaded rows (keyed by the template's headers)."""
    header = HEADER_OF["merchant_order_no"]
    return {number for r in rows if (number := text_of(r.get(header)))}


def _purchaser(row: CheckedRow) -> tuple[str, str, str]:
    return (row.values["purchaser_name"], row.values["mobile"], row.values["email"])


def _check_purchasers(checked: list[CheckedRow]) -> None:
    """Rows sharing a merchant order number are one order: all name the same purchaser."""
    header = HEADER_OF["merchant_order_no"]
    orders: dict[str, list[CheckedRow]] = {}
    for row in checked:
        if header not in row.errors:
            orders.setdefault(row.values["merchant_order_no"], []).append(row)
    for rows in orders.values():
        if len({_purchaser(row) for row in rows}) > 1:
            for row in rows:
                row.wrong("merchant_order_no", DIFFERENT_PURCHASERS)


def mark_taken(rows: list[dict[str, Any]], taken: Mapping[str, str]) -> list[dict[str, Any]]:
    """Checked rows (as stored) with the merchant order numbers `taken` since marked wrong."""
    return mark_order_nos(rows, {number: order_no_taken(import_no)
                                 for number, import_no in taken.items()})


def mark_order_nos(rows: list[dict[str, Any]], errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """Checked rows (as stored) with `errors` (merchant order number → message) added to the
    rows of those numbers that had no error on that column yet."""
    header = HEADER_OF["merchant_order_no"]
    marked = []
    for row in rows:
        number = row["values"].get("merchant_order_no")
        if number in errors and header not in row["errors"]:
            row = {**row, "errors": {**row["errors"], header: errors[number]}}
        marked.append(row)
    return marked


def count_orders(rows: Iterable[Mapping[str, Any]]) -> int:
    """How many orders checked rows make: one per merchant order number (a row without one
    counts alone)."""
    numbers = [row["values"].get("merchant_order_no") for row in rows]
    return len({n for n in numbers if n}) + sum(1 for n in numbers if not n)


def check_rows(rows: list[dict[str, Any]], *, method: str, kind: str | None,
               products: dict[int, ProductFacts], used_order_nos: Mapping[str, str],
               today: date) -> tuple[list[CheckedRow], list[str]]:
    """Every row checked; plus the errors of the batch as a whole (e.g. too many tickets).

    `rows` are keyed by the template's headers (app/issuance/columns.py). `method` is a
    DeliveryMethod value ("electronic:deferred", ...); `kind` the voucher kind chosen for the
    batch ("pickup" / "gift"), or None to accept either. `used_order_nos` maps each merchant
    order number an earlier batch of the store took to that batch's import number.
    """
    delivery_type, _, how = method.partition(":")
    checked: list[CheckedRow] = []
    total = 0
    for index, raw in enumerate(rows, start=1):
        cells = {c.key: raw.get(c.header) for c in COLUMNS}
        row = CheckedRow(row=int(raw.get("_row") or index), values={},
                         typed={c.header: typed_of(cells[c.key]) for c in COLUMNS})
        wrong = row.wrong
        product_id = text_of(cells["product_id"])
        product = None
        if not product_id:
            wrong("product_id", "請填寫商品編號")
        elif (number := whole_number(product_id, 1, INT_MAX)) is None or number not in products:
            wrong("product_id", "查無此商品編號")
        else:
            product = products[number]
            if not product.listed:
                wrong("product_id", "商品已下架，無法發行")
            elif kind and product.kind != kind:
                wanted = "提貨券" if kind == "pickup" else "贈品券"
                wrong("product_id", f"此商品不是{wanted}，與選擇的票券類型不符")
            elif product.end_date < today:
                wrong("product_id", "商品的價金保管期限已過，無法發行" if product.kind == "pickup"
                      else "商品的使用期限已過，無法發行")
        # Only a number a product id can be is kept: the preview looks the products up by it.
        row.values["product_id"] = whole_number(product_id, 1, INT_MAX)

        quantity = whole_number(text_of(cells["quantity"]), 0, INT_MAX) or 0
        if not 1 <= quantity <= MAX_TICKETS_PER_BATCH:
            wrong("quantity", f"數量須為 1 到 {MAX_TICKETS_PER_BATCH} 的整數")
        else:
            total += quantity
        row.values["quantity"] = quantity

        order_no = text_of(cells["merchant_order_no"])
        wrong("merchant_order_no", merchant_order_no_problem(order_no, used_order_nos))
        row.values["merchant_order_no"] = order_no

        name = text_of(cells["purchaser_name"])
        wrong("purchaser_name", purchaser_name_problem(name))
        row.values["purchaser_name"] = name

        mobile_raw = text_of(cells["mobile"])
        mobile, problem = mobile_of(cells["mobile"])
        wrong("mobile", problem)
        row.values["mobile"] = mobile

        email, problem = email_of(cells["email"])
        wrong("email", problem)
        row.values["email"] = email

        if delivery_type == "cvs" and not mobile_raw:
            wrong("mobile", "超商票券須填寫購買人手機")
        if delivery_type == "electronic" and not mobile_raw and not email:
            wrong("mobile", "電子票券須填寫手機或 Email（至少一項）")

        start_raw = cells["valid_from"]
        start: date | None = None
        if how == "deferred":
            if start_raw in (None, ""):
                wrong("valid_from", "非即期票券須填寫使用起始日")
            else:
                try:
                    start = parse_date(start_raw)
                except ValueError:
                    wrong("valid_from", "日期格式錯誤，請填寫 yyyy/mm/dd")
                else:
                    if start <= today:
                        wrong("valid_from", "使用起始日須晚於今天")
                    elif product and start > product.end_date:
                        wrong("valid_from", "使用起始日不可晚於商品期限")
        elif start_raw not in (None, ""):
            wrong("valid_from", "僅非即期電子票券可填寫使用起始日")
        row.values["valid_from"] = start.isoformat() if start else None
        checked.append(row)

    _check_purchasers(checked)
    batch_errors = []
    if not rows:
        batch_errors.append("檔案中沒有發行資料")
    if total > MAX_TICKETS_PER_BATCH:
        batch_errors.append(f"每次發行上限為 {MAX_TICKETS_PER_BATCH} 張（此批共 {total} 張）")
    return checked, batch_errors
