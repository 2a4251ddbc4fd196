"""Checking the rows of an installment-order batch (分期核銷訂單發行): pure functions, no Flask,
no database. The upload's rows and the API's body are checked here alike, with the same
messages.

One row is one order: a merchant order number, the order's total, the purchaser and, if the
merchant wants it, the first period's expected redemption date (首期預計核銷日). The number of
periods and the days between them are not in the row: they are the contract's redemption
settings (核銷設定) when the batch is issued. The caller gathers the facts (the contract's
period count, the merchant order numbers other batches took, today's Taipei date) and gets
back every row with its normalised values and a message per wrong cell.

Merchant order numbers: unlike a ticket batch (where rows sharing a number are one order with
several products), an installment order is one row, so a number used twice in one batch is
wrong on each of its rows; across batches the ticket rule holds (app/issuance/rules.py, rule
e): a number belongs to the first batch that took it (issued, queued or issuing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from app.bounds import whole_number
from app.installments.status import expected_dates, split_face_values
from app.issuance.columns import (
    MERCHANT_ORDER_NO_MAX,
    PURCHASER_NAME_MAX,
    REQUIRED,
    Column,
    Format,
)
from app.issuance.rules import (
    SAMPLE_ORDER_PREFIX,
    CheckedRow,
    email_of,
    merchant_order_no_problem,
    mobile_of,
    parse_date,
    purchaser_name_problem,
    text_of,
    typed_of,
)

MAX_ORDERS_PER_BATCH = 1000  # 每批最多 1000 筆訂單
TOTAL_MAX = 10_000_000  # an order's total, NT$, at most
FIRST_DATE_WITHIN = timedelta(days=365)  # the first expected date: after today, within a year
CONTACT = "手機或 Email 至少一項"
_NULLABLE_STRING = {"type": ["string", "null"]}

COLUMNS: tuple[Column, ...] = (
    Column("廠商訂單編號", "merchant_order_no", 22, Format.TEXT, REQUIRED,
           f"貴公司自己的訂單編號，限英文字母與數字，最多 {MERCHANT_ORDER_NO_MAX} 字元；一列為一筆訂單，"
           "同一批次內不可重複。在同一商店內不可重複使用：先前批次已使用的編號（已發行，或排隊中、"
           "發行中）不可再次使用；發行失敗的批次不占用編號。",
           {"type": "string", "pattern": f"^[A-Za-z0-9]{{1,{MERCHANT_ORDER_NO_MAX}}}$",
            "description": "廠商訂單編號（英數字，最多 25 字，同一商店內不可重複）"}),
    Column("訂單總金額", "total_amount", 14, Format.NUMBER, REQUIRED,
           f"新台幣整數金額，至少為期數（每期至少 1 元），最多 {TOTAL_MAX:,} 元。系統依合約的"
           "核銷設定（期數）平均分配至各期，除不盡的餘數加在第 1 期。",
           {"type": "integer", "minimum": 1, "maximum": TOTAL_MAX,
            "description": "訂單總金額（新台幣元）：至少為合約期數，依期數平均分配，餘數加在第 1 期"}),
    Column("購買人姓名", "purchaser_name", 16, Format.TEXT, REQUIRED,
           f"最多 {PURCHASER_NAME_MAX} 字元。",
           {"type": "string", "maxLength": PURCHASER_NAME_MAX, "description": "購買人姓名"}),
    Column("手機", "mobile", 14, Format.TEXT, CONTACT,
           "09 開頭共 10 碼數字（例如 0912345678），請勿加上 - 或空白；手機與 Email 至少填寫一項。"
           "本欄已設為文字格式，以保留開頭的 0。",
           {**_NULLABLE_STRING, "description": "購買人手機：09 開頭 10 碼；與 email 至少一項"}),
    Column("Email", "email", 28, Format.TEXT, CONTACT,
           "購買人的電子郵件信箱，只能填一個；手機與 Email 至少填寫一項。",
           {**_NULLABLE_STRING, "format": "email", "description": "購買人 Email；與 mobile 至少一項"}),
    Column("首期預計核銷日", "first_date", 16, Format.DATE, "選填",
           "第 1 期的預計核銷日，格式 yyyy/mm/dd（例如 2027/01/15），須晚於今日且在一年內；之後每期"
           "依合約的每期天數遞延。未填寫時，第 1 期為發行日加上每期天數。到了預計核銷日，該期序號"
           "即自動核銷。",
           {**_NULLABLE_STRING, "format": "date",
            "description": "首期預計核銷日（選填，yyyy-mm-dd，須晚於今日且在一年內）；"
                           "未提供時為發行日加上每期天數"}),
)

HEADERS: list[str] = [c.header for c in COLUMNS]
HEADER_OF: dict[str, str] = {c.key: c.header for c in COLUMNS}  # key → header
KEY_OF: dict[str, str] = {c.header: c.key for c in COLUMNS}  # header → key (API field)

SAMPLE_ROWS = [
    {"merchant_order_no": f"{SAMPLE_ORDER_PREFIX}0001", "total_amount": 12000,
     "purchaser_name": "範例 王小明", "mobile": "0900000001", "email": "sample1@example.com"},
    {"merchant_order_no": f"{SAMPLE_ORDER_PREFIX}0002", "total_amount": 36000,
     "purchaser_name": "範例 陳小華", "mobile": "0900000002", "first_date": "2027/01/15"},
]



def order_nos(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The merchant order numbers of uploaded rows (keyed by the template's headers)."""
    header = HEADER_OF["merchant_order_no"]
    return {number for r in rows if (number := text_of(r.get(header)))}


def duplicated(number: str, rows: list[int]) -> str:
    return f"廠商訂單編號在此批次中重複（第 {'、'.join(map(str, rows))} 列）"


def _amount(cell: object, period_count: int) -> tuple[int, str | None]:
    text = text_of(cell)
    if not text:
        return 0, "請填寫訂單總金額"
    if not text.isascii() or not text.isdigit():
        return 0, "訂單總金額須為正整數（新台幣元）"
    amount = whole_number(text, 0, TOTAL_MAX)
    if amount is None:  # beyond the limit (and any column's range): not kept
        return 0, f"訂單總金額最多 {TOTAL_MAX:,} 元"
    if amount < period_count:
        return amount, f"訂單總金額須至少 {period_count} 元（共 {period_count} 期，每期至少 1 元）"
    if amount > TOTAL_MAX:
        return amount, f"訂單總金額最多 {TOTAL_MAX:,} 元"
    return amount, None


def _first_date(cell: object, today: date) -> tuple[date | None, str | None]:
    if cell is None or text_of(cell) == "":
        return None, None
    try:
        first = parse_date(cell)
    except ValueError:
        return None, "日期格式錯誤，請填寫 yyyy/mm/dd"
    if first is None or first <= today:
        return None, "首期預計核銷日須晚於今天"
    if first > today + FIRST_DATE_WITHIN:
        return None, f"首期預計核銷日須在一年內（{today + FIRST_DATE_WITHIN:%Y/%m/%d} 以前）"
    return first, None


def check_row(raw: Mapping[str, Any], index: int, *, period_count: int,
              used_order_nos: Mapping[str, str], today: date) -> CheckedRow:
    """One row (keyed by the template's headers; "_row" its Excel row number), checked."""
    cells = {c.key: raw.get(c.header) for c in COLUMNS}
    row = CheckedRow(row=int(raw.get("_row") or index), values={}, headers=HEADER_OF,
                     typed={c.header: typed_of(cells[c.key]) for c in COLUMNS})
    order_no = text_of(cells["merchant_order_no"])
    row.wrong("merchant_order_no", merchant_order_no_problem(order_no, used_order_nos))
    row.values["merchant_order_no"] = order_no

    amount, problem = _amount(cells["total_amount"], period_count)
    row.wrong("total_amount", problem)
    row.values["total_amount"] = amount

    name = text_of(cells["purchaser_name"])
    row.wrong("purchaser_name", purchaser_name_problem(name))
    row.values["purchaser_name"] = name

    mobile, problem = mobile_of(cells["mobile"])
    row.wrong("mobile", problem)
    row.values["mobile"] = mobile
    email, problem = email_of(cells["email"])
    row.wrong("email", problem)
    row.values["email"] = email
    if not text_of(cells["mobile"]) and not email:
        row.wrong("mobile", "請填寫手機或 Email（至少一項）")

    first, problem = _first_date(cells["first_date"], today)
    row.wrong("first_date", problem)
    row.values["first_date"] = first.isoformat() if first else None
    return row


def _mark_duplicates(checked: list[CheckedRow]) -> None:
    header = HEADER_OF["merchant_order_no"]
    seen: dict[str, list[CheckedRow]] = {}
    for row in checked:
        if header not in row.errors:
            seen.setdefault(row.values["merchant_order_no"], []).append(row)
    for number, rows in seen.items():
        if len(rows) > 1:
            message = duplicated(number, [r.row for r in rows])
            for row in rows:
                row.wrong("merchant_order_no", message)


def check_rows(rows: list[Mapping[str, Any]], *, period_count: int,
               used_order_nos: Mapping[str, str],
               today: date) -> tuple[list[CheckedRow], list[str]]:
    """Every row checked, plus the errors of the batch as a whole (none, or too many orders).

    `period_count` is the contract's 期數; `used_order_nos` maps each merchant order number an
    earlier batch of the store took to that batch's import number."""
    checked = [check_row(raw, index, period_count=period_count, used_order_nos=used_order_nos,
                         today=today) for index, raw in enumerate(rows, start=1)]
    _mark_duplicates(checked)
    batch_errors = []
    if not rows:
        batch_errors.append("檔案中沒有發行資料")
    if len(rows) > MAX_ORDERS_PER_BATCH:
        batch_errors.append(f"每次發行上限為 {MAX_ORDERS_PER_BATCH} 筆訂單（此批共 {len(rows)} 筆）")
    return checked, batch_errors


def periods_of(total: int, period_count: int, period_days: int,
               first: date) -> list[tuple[int, int, date]]:
    """(number, face value, expected date) of each period of an order, numbered from 1."""
    values = split_face_values(total, period_count)
    dates = expected_dates(first, period_count, period_days)
    return [(n, value, day) for n, (value, day) in enumerate(zip(values, dates, strict=True),
                                                             start=1)]
