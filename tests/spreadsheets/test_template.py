"""The issuance template: what it contains, and that filled in it reads back through read_xlsx."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from app.errors import InvalidInput
from app.issuance.template import (
    ISSUANCE_HEADERS,
    ISSUANCE_SHEET,
    RULES_SHEET,
    is_sample_row,
    read_issuance_rows,
    template_workbook,
)
from app.spreadsheets import cell_date, read_xlsx


def _template():
    return load_workbook(io.BytesIO(template_workbook()))


def _filled(rows) -> bytes:
    wb = _template()
    ws = wb[ISSUANCE_SHEET]
    ws.delete_rows(2, ws.max_row)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_headers_are_the_agreed_columns():
    assert ISSUANCE_HEADERS == ["商品編號", "數量", "廠商訂單編號", "購買人姓名", "手機", "Email",
                                "使用起始日"]


def test_the_data_sheet_comes_first_with_a_bold_header_and_widths():
    wb = _template()
    assert wb.sheetnames == [ISSUANCE_SHEET, RULES_SHEET] == ["發行資料", "規則說明"]
    ws = wb[ISSUANCE_SHEET]
    header = [c.value for c in ws[1]]
    assert header == ISSUANCE_HEADERS
    assert all(c.font.bold for c in ws[1])
    assert all((ws.column_dimensions[letter].width or 0) >= 8 for letter in "ABCDEFG")
    assert ws.freeze_panes == "A2"


def test_sample_rows_are_obviously_fake_and_read_back():
    rows = read_issuance_rows(template_workbook())
    assert 2 <= len(rows) <= 3
    assert [r["_row"] for r in rows] == list(range(2, 2 + len(rows)))
    assert all(is_sample_row(r) for r in rows)
    assert all("範例" in r["購買人姓名"] for r in rows)
    emails = [r["Email"] for r in rows if r["Email"]]
    assert emails and all(e.endswith("@example.com") for e in emails)
    assert any(r["使用起始日"] for r in rows)


def test_text_columns_keep_leading_zeros_and_typed_dates():
    ws = _template()[ISSUANCE_SHEET]
    letters = {h: chr(65 + i) for i, h in enumerate(ISSUANCE_HEADERS)}
    for header in ("手機", "使用起始日", "廠商訂單編號"):
        assert ws.column_dimensions[letters[header]].number_format == "@"  # for rows typed later
        assert ws[f"{letters[header]}2"].number_format == "@"
    start = next(c.value for c in ws[letters["使用起始日"]][1:] if c.value)
    assert isinstance(start, str) and len(start) == 10 and start[4] == start[7] == "/"  # yyyy/mm/dd
    assert ws[f"{letters['手機']}2"].value.startswith("09")


def test_a_filled_template_reads_back_with_row_numbers():
    data = _filled([
        [2001, 3, "A20260001", "王小明", "0912345678", "ming@example.com", None],
        [None, None, None, None, None, None, None],
        [2002, 1000, "A20260002", " 陳小華 ", "0922333444", None, "2099/03/01"],
    ])
    rows = read_issuance_rows(data)
    assert rows == [
        {"商品編號": 2001, "數量": 3, "廠商訂單編號": "A20260001", "購買人姓名": "王小明",
         "手機": "0912345678", "Email": "ming@example.com", "使用起始日": None, "_row": 2},
        {"商品編號": 2002, "數量": 1000, "廠商訂單編號": "A20260002", "購買人姓名": "陳小華",
         "手機": "0922333444", "Email": None, "使用起始日": "2099/03/01", "_row": 4},
    ]
    assert cell_date(rows[1]["使用起始日"]) == date(2099, 3, 1)
    assert not any(is_sample_row(r) for r in rows)


def test_a_thousand_row_template_reads_back():
    data = _filled([[3000 + i, 1, f"B{i:08d}", "林小美", f"09{i:08d}", None, None] for i in range(1000)])
    rows = read_issuance_rows(data)
    assert len(rows) == 1000 and rows[-1]["_row"] == 1001 and rows[-1]["手機"] == "0900000999"
    with pytest.raises(InvalidInput, match="資料列數超過上限（最多 1000 列）"):
        read_issuance_rows(_filled([[3000 + i, 1, f"B{i}", "林", None, None, None] for i in range(1001)]))


def test_read_issuance_rows_wants_the_data_sheet_by_name():
    wb = _template()
    wb[ISSUANCE_SHEET].title = "工作表1"
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(InvalidInput, match="找不到工作表「發行資料」"):
        read_issuance_rows(out.getvalue())


def test_the_template_header_is_what_read_xlsx_expects():
    assert read_xlsx(_filled([]), headers=ISSUANCE_HEADERS, max_rows=1) == []


def test_the_rules_sheet_explains_every_column_and_the_limits():
    ws = _template()[RULES_SHEET]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    explained = {row[0].value for row in ws.iter_rows(min_row=4) if row[0].value and row[2].value}
    assert set(ISSUANCE_HEADERS) <= explained
    for phrase in ("商品管理", "上架", "1～1000", "最多 1000 張", "英文字母與數字", "最多 25 字元",
                   "不可重複", "最多 50 字元", "09 開頭", "超商票券必填", "電子票券未填 Email",
                   "不可填多個", "非即期", "晚於今日", "必須留空",
                   "匯入單號", "同一個匯入單號不會發行兩次",
                   "票券序號", "16 碼", "5 碼批次代碼", "yyyymmdd", "3 碼流水號", "CB2SY20220302153",
                   "2 MB", ".xlsx", "不可含有公式", "「發行資料」", "標題列不可修改"):
        assert phrase in text, phrase
