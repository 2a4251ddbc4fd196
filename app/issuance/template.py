"""The batch issuance template (範例模板格式 and 規則說明) and how an upload of it is read.

`template_workbook()` is the file merchants download: sheet 「發行資料」 (the header row and a few
sample rows) and sheet 「規則說明」 (every column, the import number, the serial-number rules and
the limits). Its header row is `ISSUANCE_HEADERS`, exactly what `read_issuance_rows` (and so
`app.spreadsheets.read_xlsx`) expects, so a downloaded template, filled in and uploaded, reads
back.

`prefilled_workbook(products)` is the same file with the example rows replaced by one row per
listed product (its 商品編號, and its name in a trailing reference column); the reader takes it
back as is and skips the product rows left untouched (no quantity, no buyer).

A `Template` describes one such file (columns, samples, sheets, rules, row cap); the ticket
template is `TICKETS`, and other issuance (installment orders) describes its own and shares the
workbook (`build_workbook`), the guarded reader (`read_rows`) and the error file
(`error_rows_response`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.errors import InvalidInput
from app.issuance.columns import COLUMNS, HEADER_OF, HEADERS, Column, Format, column
from app.issuance.rules import SAMPLE_ORDER_PREFIX
from app.spreadsheets import UPLOAD_MAX_BYTES, read_xlsx, xlsx_response
from app.tickets.codes import MAX_TICKETS_PER_BATCH

ISSUANCE_SHEET = "發行資料"
RULES_SHEET = "規則說明"
ISSUANCE_HEADERS = HEADERS  # the header row (app/issuance/columns.py)
TEMPLATE_FILENAME = "票券發行範例模板.xlsx"
PREFILLED_FILENAME = "票券發行範本_含我的商品.xlsx"
ORDERS_FILENAME = "票券發行檔_未發行訂單.xlsx"
PRODUCT_NAME_HEADER = "商品名稱（參考，不會匯入）"  # the pre-filled template's trailing column
ERROR_COLUMN = "錯誤原因"  # the error file's last column (the views' 【下載錯誤明細】)
MAX_ROWS = MAX_TICKETS_PER_BATCH  # each row is at least one ticket

TEXT_FORMAT = "@"  # Excel's text format: keeps 09… mobiles and typed dates as typed

# The sample rows' merchant order numbers start with SAMPLE_ORDER_PREFIX; the row checks refuse
# such rows ("範例資料列，請刪除後再上傳") so an unchanged template never issues tickets.
SAMPLE_ROWS = [
    {"product_id": 1001, "quantity": 2, "merchant_order_no": f"{SAMPLE_ORDER_PREFIX}0001",
     "purchaser_name": "範例 王小明", "mobile": "0900000001", "email": "sample1@example.com"},
    {"product_id": 1002, "quantity": 1, "merchant_order_no": f"{SAMPLE_ORDER_PREFIX}0002",
     "purchaser_name": "範例 陳小華", "mobile": "0900000002"},
    {"product_id": 1003, "quantity": 3, "merchant_order_no": f"{SAMPLE_ORDER_PREFIX}0003",
     "purchaser_name": "範例 林小美", "email": "sample3@example.com", "valid_from": "2099/01/01"},
]

WHERE_PRODUCT_NUMBERS = ("商品編號在哪裡", [
    "「商品管理」列表的「商品編號」欄（可按複製鈕複製）。",
    "商品頁面（商品管理 > 編輯商品）標題下方的「商品編號」。",
    "「票券發行」頁的「我的商品（上架中）」清單，列出每項上架中商品的商品編號，可一鍵複製。",
    "於「票券發行」頁點擊「下載範本（含我的商品）」，下載的範本已為每項上架中的商品預先填好一列"
    f"商品編號，商品名稱列在最後一欄「{PRODUCT_NAME_HEADER}」供對照；只要填寫要發行商品的數量、"
    "廠商訂單編號與購買人資料，未填寫的商品列上傳時會略過。",
])

OTHER_RULES = [
    WHERE_PRODUCT_NUMBERS,
    ("匯入單號", [
        "匯入單號不在檔案中，而是在上傳頁面上輸入；每次上傳都必須填寫。",
        "匯入單號在同一商店內不可重複：同一個匯入單號不會發行兩次，重複上傳同一批資料也不會重複發行票券。",
    ]),
    ("票券序號規則", [
        "票券序號由平台於發行時自動產生，請勿在檔案中填寫。",
        "票券序號共 16 碼英文字母與數字：5 碼批次代碼 + 8 碼發行日期（yyyymmdd）+ 3 碼流水號。",
        "範例：CB2SY20220302153（批次代碼 CB2SY、發行日期 2022/03/02、流水號 153）。",
        "每張票券另有平台產生的核銷代碼、電子票券連結及 ECT 訂單編號，並保留貴公司的廠商訂單編號。",
    ]),
    ("檔案限制", [
        f"檔案大小上限 {UPLOAD_MAX_BYTES // (1024 * 1024)} MB，"
        "僅接受 Excel（.xlsx）格式（不接受 .xls、.csv）。",
        "檔案中不可含有公式，請改為純文字或數值後再上傳。",
        f"第一個工作表須為「{ISSUANCE_SHEET}」，且第 1 列標題列不可修改（欄位名稱與順序須與範例模板相同）。",
        f"每批最多 {MAX_TICKETS_PER_BATCH} 張票券（所有列的數量加總）。",
        f"範例資料列（廠商訂單編號以 {SAMPLE_ORDER_PREFIX} 開頭）僅供參考，上傳前請刪除；空白列會被略過。",
        "上傳後會先顯示預覽發行明細：有錯誤的列以紅色標示原因，只要有任何一列錯誤，整批都無法發行；"
        "可下載含錯誤原因的檔案，修正後重新上傳。",
    ]),
]

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Template:
    """An issuance template: its columns (app/issuance/columns.py's `Column`), sample rows
    (by column key), its two sheets and the rules sheet's title and further sections, and how
    many data rows an upload may hold. Tickets' is `TICKETS`; other issuance (installment
    orders) describes its own and gets the same workbook, reader and error file."""

    columns: Sequence[Column]
    samples: Sequence[Mapping[str, object]]
    sheet: str
    title: str  # the rules sheet's first line
    other_rules: Sequence[tuple[str, Sequence[str]]]
    max_rows: int
    filename: str
    # Excel data validations for the data sheet, given the sheet's last data row
    validations: Callable[[int], Sequence[DataValidation]] = lambda last_row: ()
    rules_sheet: str = RULES_SHEET
    # A pre-filled variant's trailing reference column (read back, then dropped) and the keys it
    # fills on each row: a row with nothing else filled is one the user left untouched (skipped).
    reference: str | None = None
    prefilled: Sequence[str] = ()

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def _data_sheet(wb: Workbook, spec: Template) -> None:
    ws = wb.active
    ws.title = spec.sheet
    ws.append(spec.headers)
    for sample in spec.samples:
        ws.append([sample.get(c.key) for c in spec.columns])
    for index, col in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        ws.column_dimensions[letter].width = col.width
        if col.as_text:  # new cells typed in these columns stay text
            ws.column_dimensions[letter].number_format = TEXT_FORMAT
            for row in range(2, 2 + len(spec.samples)):
                ws.cell(row=row, column=index).number_format = TEXT_FORMAT
    for validation in spec.validations(spec.max_rows + 1):
        ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def _rules_sheet(wb: Workbook, spec: Template) -> None:
    ws = wb.create_sheet(spec.rules_sheet)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["C"].width = 90
    ws.append([spec.title])
    ws["A1"].font = _TITLE
    ws.append([])
    ws.append(["欄位", "必填", "說明"])
    for cell in ws[ws.max_row]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for col in spec.columns:
        ws.append([col.header, col.required, col.rule])
        for cell in ws[ws.max_row]:
            cell.alignment = _WRAP
    for title, lines in spec.other_rules:
        ws.append([])
        ws.append([title])
        ws.cell(row=ws.max_row, column=1).font = _BOLD
        for line in lines:
            ws.append(["", "", line])
            ws.cell(row=ws.max_row, column=3).alignment = _WRAP


def build_workbook(spec: Template) -> bytes:
    """A template as xlsx bytes: its data sheet (header row, samples) first, then its rules."""
    wb = Workbook()
    _data_sheet(wb, spec)
    _rules_sheet(wb, spec)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_rows(spec: Template, stream_or_bytes: IO[bytes] | bytes) -> list[dict[str, object]]:
    """An uploaded file's rows (see `read_xlsx`): the template's data sheet with its header
    row, at most `max_rows` data rows. Raises `InvalidInput` with the reason.

    A file downloaded from 【下載錯誤明細】 (the template's columns plus 錯誤原因) is read too, so
    a user can fix it and upload it as is; its 錯誤原因 column is dropped. So is a pre-filled
    template (the columns plus `spec.reference`): its reference column is dropped, and so are
    the rows that hold nothing but what was pre-filled."""
    data = stream_or_bytes if isinstance(stream_or_bytes, bytes) else stream_or_bytes.read(
        UPLOAD_MAX_BYTES + 1)
    headers = spec.headers
    try:
        return read_xlsx(data, headers=headers, max_rows=spec.max_rows, sheet=spec.sheet)
    except InvalidInput as first:
        for extra in (ERROR_COLUMN, spec.reference):
            if extra is None:
                continue
            try:
                found = read_xlsx(data, headers=[*headers, extra], max_rows=spec.max_rows,
                                  sheet=spec.sheet)
                break
            except InvalidInput:
                continue
        else:
            raise first from None
    untouched = {c.header for c in spec.columns if c.key in spec.prefilled}
    filled = [h for h in headers if extra == ERROR_COLUMN or h not in untouched]
    rows = []
    for row in found:
        row.pop(extra, None)
        if any(row.get(h) is not None for h in filled):
            rows.append(row)
    return rows


def error_rows_response(spec: Template, filename: str, rows: Iterable[Mapping[str, Any]]) -> Response:
    """Every checked row in the template's columns, plus 錯誤原因: the file a user fixes and
    uploads again (`read_rows` reads it back)."""
    body = [[column.shown(row) for column in spec.columns]
            + ["；".join(f"{header}：{message}" for header, message in row["errors"].items())]
            for row in rows]
    return xlsx_response(filename, [*spec.headers, ERROR_COLUMN], body, sheet_title=spec.sheet)


def _quantity_validation(last_row: int) -> list[DataValidation]:
    quantity = get_column_letter(COLUMNS.index(column("quantity")) + 1)
    validation = DataValidation(
        type="whole", operator="between", formula1="1", formula2=str(MAX_TICKETS_PER_BATCH),
        allow_blank=True, showErrorMessage=True, errorTitle="數量錯誤",
        error=f"數量須為 1～{MAX_TICKETS_PER_BATCH} 的整數")
    validation.add(f"{quantity}2:{quantity}{last_row}")
    return [validation]


TICKETS = Template(columns=COLUMNS, samples=SAMPLE_ROWS, sheet=ISSUANCE_SHEET,
                   title="票券批次發行規則說明", other_rules=OTHER_RULES, max_rows=MAX_ROWS,
                   filename=TEMPLATE_FILENAME, validations=_quantity_validation,
                   reference=PRODUCT_NAME_HEADER, prefilled=("product_id",))

PRODUCT_NAME = Column(PRODUCT_NAME_HEADER, "product_name", 30, Format.TEXT, "否",
                      "僅供對照商品編號，上傳時不會匯入。請保留本欄：有本欄時，只有商品編號、"
                      "其他欄位都未填的商品列會被略過。", {})


def template_workbook() -> bytes:
    """The issuance template as xlsx bytes (sheet 「發行資料」 first, then 「規則說明」)."""
    return build_workbook(TICKETS)


def prefilled_workbook(products: Iterable[tuple[int, str]]) -> bytes:
    """The template with one row per (商品編號, 商品名稱) instead of the example rows: the
    number filled, the name in the trailing reference column, the rest left for the user."""
    samples = [{"product_id": number, "product_name": name} for number, name in products]
    return build_workbook(replace(TICKETS, columns=(*COLUMNS, PRODUCT_NAME), samples=samples,
                                  filename=PREFILLED_FILENAME))


def orders_workbook(rows: Iterable[Mapping[str, object]]) -> bytes:
    """The template with `rows` (keys of the columns, plus `product_name` for the trailing
    reference column) instead of the example rows: a file of orders to complete where a cell
    is empty and upload as is (未發行訂單's 【輸出票券發行檔】)."""
    return build_workbook(replace(TICKETS, columns=(*COLUMNS, PRODUCT_NAME), samples=list(rows),
                                  filename=ORDERS_FILENAME))


def read_issuance_rows(stream_or_bytes: IO[bytes] | bytes) -> list[dict[str, object]]:
    """An uploaded issuance file's rows (`read_rows` of the ticket template)."""
    return read_rows(TICKETS, stream_or_bytes)


def is_sample_row(row: dict[str, object]) -> bool:
    """A row copied from the template's samples (its merchant order number starts SAMPLE)."""
    order_no = row.get(HEADER_OF["merchant_order_no"])
    return isinstance(order_no, str) and order_no.upper().startswith(SAMPLE_ORDER_PREFIX)
