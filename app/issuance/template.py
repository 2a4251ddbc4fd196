"""The batch issuance template (範例模板格式 and 規則說明) and how an upload of it is read.

`template_workbook()` is the file merchants download: sheet 「發行資料」 (the header row and a few
sample rows) and sheet 「規則說明」 (every column, the import number, the serial-number rules and
the limits). Its header row is `ISSUANCE_HEADERS`, exactly what `read_issuance_rows` (and so
`app.spreadsheets.read_xlsx`) expects, so a downloaded template, filled in and uploaded, reads
back.
"""

from __future__ import annotations

import io
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.spreadsheets import UPLOAD_MAX_BYTES, read_xlsx

ISSUANCE_SHEET = "發行資料"
RULES_SHEET = "規則說明"
ISSUANCE_HEADERS = ["商品編號", "數量", "廠商訂單編號", "購買人姓名", "手機", "Email", "使用起始日"]
TEMPLATE_FILENAME = "票券發行範例模板.xlsx"

MAX_TICKETS_PER_BATCH = 1000  # 每批最多 1000 張
MAX_QUANTITY_PER_ROW = 1000
MAX_ROWS = MAX_TICKETS_PER_BATCH  # each row is at least one ticket
MERCHANT_ORDER_NO_MAX = 25
PURCHASER_NAME_MAX = 50

# The sample rows' merchant order numbers start with this; the issuance validator can refuse
# such rows ("範例資料列，請刪除後再上傳") so an unchanged template never issues tickets.
from app.issuance.rules import SAMPLE_ORDER_PREFIX  # noqa: E402  (one definition)

TEXT_FORMAT = "@"  # Excel's text format: keeps 09… mobiles and typed dates as typed
TEXT_COLUMNS = ("廠商訂單編號", "購買人姓名", "手機", "Email", "使用起始日")
COLUMN_WIDTHS = {"商品編號": 12, "數量": 8, "廠商訂單編號": 22, "購買人姓名": 16, "手機": 14,
                 "Email": 28, "使用起始日": 14}

SAMPLE_ROWS = [
    [1001, 2, f"{SAMPLE_ORDER_PREFIX}0001", "範例 王小明", "0900000001", "sample1@example.com", ""],
    [1002, 1, f"{SAMPLE_ORDER_PREFIX}0002", "範例 陳小華", "0900000002", "", ""],
    [1003, 3, f"{SAMPLE_ORDER_PREFIX}0003", "範例 林小美", "", "sample3@example.com", "2099/01/01"],
]

# (欄位, 必填, 說明) for the rules sheet
COLUMN_RULES = [
    ("商品編號", "必填",
     "「商品管理」列表中顯示的商品編號（數字）。商品必須為「上架」狀態，且須符合所選出券類型與"
     "發行方式的規則（例如提貨券／贈品券的限制）；找不到、已下架或不符者，該列會以紅色標示原因。"),
    ("數量", "必填",
     f"此列要發行的張數，為 1～{MAX_QUANTITY_PER_ROW} 的整數。整批（所有列數量加總）"
     f"最多 {MAX_TICKETS_PER_BATCH} 張。"),
    ("廠商訂單編號", "必填",
     f"貴公司自己的訂單編號，限英文字母與數字，最多 {MERCHANT_ORDER_NO_MAX} 字元。"
     "在同一商店內不可重複，且用過的編號不可再次使用（包含先前批次已使用者）。"),
    ("購買人姓名", "必填", f"最多 {PURCHASER_NAME_MAX} 字元。"),
    ("手機", "視出券類型",
     "09 開頭共 10 碼數字（例如 0912345678），請勿加上 - 或空白。超商票券必填；電子票券未填 Email "
     "時必填。用於確認電子票券連結身分及發送簡訊通知。本欄已設為文字格式，以保留開頭的 0。"),
    ("Email", "視出券類型",
     "購買人的電子郵件信箱，只能填一個（不可填多個信箱）。電子票券未填手機時必填；"
     "發行成功後電子票券連結會寄到此信箱。"),
    ("使用起始日", "視發行方式",
     "僅適用於電子票券「非即期」發行：必填，格式 yyyy/mm/dd（例如 2099/01/01），須晚於今日且早於"
     "商品的使用期限／價金保管迄日；票券自該日起才可使用，在此之前仍可退貨。"
     "其他出券類型或發行方式（即期、紙本、超商）本欄必須留空。"),
]

OTHER_RULES = [
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


def _data_sheet(wb: Workbook) -> None:
    ws = wb.active
    ws.title = ISSUANCE_SHEET
    ws.append(ISSUANCE_HEADERS)
    for index, header in enumerate(ISSUANCE_HEADERS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        ws.column_dimensions[letter].width = COLUMN_WIDTHS[header]
        if header in TEXT_COLUMNS:  # new cells typed in these columns stay text
            ws.column_dimensions[letter].number_format = TEXT_FORMAT
    for values in SAMPLE_ROWS:
        ws.append([value if value != "" else None for value in values])
    text_columns = [ISSUANCE_HEADERS.index(h) + 1 for h in TEXT_COLUMNS]
    for row in range(2, 2 + len(SAMPLE_ROWS)):
        for column in text_columns:
            ws.cell(row=row, column=column).number_format = TEXT_FORMAT
    quantity = get_column_letter(ISSUANCE_HEADERS.index("數量") + 1)
    validation = DataValidation(
        type="whole", operator="between", formula1="1", formula2=str(MAX_QUANTITY_PER_ROW),
        allow_blank=True, showErrorMessage=True, errorTitle="數量錯誤",
        error=f"數量須為 1～{MAX_QUANTITY_PER_ROW} 的整數")
    validation.add(f"{quantity}2:{quantity}{MAX_ROWS + 1}")
    ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def _rules_sheet(wb: Workbook) -> None:
    ws = wb.create_sheet(RULES_SHEET)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["C"].width = 90
    ws.append(["票券批次發行規則說明"])
    ws["A1"].font = _TITLE
    ws.append([])
    ws.append(["欄位", "必填", "說明"])
    for cell in ws[ws.max_row]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for name, required, text in COLUMN_RULES:
        ws.append([name, required, text])
        for cell in ws[ws.max_row]:
            cell.alignment = _WRAP
    for title, lines in OTHER_RULES:
        ws.append([])
        ws.append([title])
        ws.cell(row=ws.max_row, column=1).font = _BOLD
        for line in lines:
            ws.append(["", "", line])
            ws.cell(row=ws.max_row, column=3).alignment = _WRAP


def template_workbook() -> bytes:
    """The issuance template as xlsx bytes (sheet 「發行資料」 first, then 「規則說明」)."""
    wb = Workbook()
    _data_sheet(wb)
    _rules_sheet(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_issuance_rows(stream_or_bytes: IO[bytes] | bytes) -> list[dict[str, object]]:
    """An uploaded issuance file's rows (see `read_xlsx`); sheet 「發行資料」 with the template's
    header row, at most `MAX_ROWS` data rows. Raises `InvalidInput` with the reason."""
    return read_xlsx(stream_or_bytes, headers=ISSUANCE_HEADERS, max_rows=MAX_ROWS,
                     sheet=ISSUANCE_SHEET)


def is_sample_row(row: dict[str, object]) -> bool:
    """A row copied from the template's samples (its merchant order number starts SAMPLE)."""
    order_no = row.get("廠商訂單編號")
    return isinstance(order_no, str) and order_no.upper().startswith(SAMPLE_ORDER_PREFIX)
