"""read_xlsx on well-formed files: header check, values, empty rows, row numbers, sheets."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
from werkzeug.datastructures import FileStorage

from app.errors import InvalidInput
from app.spreadsheets import cell_date, cell_text, read_xlsx
from tests.spreadsheets.helpers import HEADERS, workbook_bytes

ROW = [101, 2, "ORD001", "王小明", "0912345678", "a@example.com", None]


def read(data: bytes, **kwargs):
    kwargs.setdefault("headers", HEADERS)
    kwargs.setdefault("max_rows", 1000)
    return read_xlsx(data, **kwargs)


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(InvalidInput) as caught:
        read(data, **kwargs)
    return caught.value.message


def test_defusedxml_is_what_openpyxl_parses_with():
    assert openpyxl.xml.DEFUSEDXML is True


def test_rows_map_headers_to_values_with_their_excel_row():
    data = workbook_bytes([ROW, [102, 1, "ORD002", "陳小華", None, "b@example.com", "2099/01/01"]])
    assert read(data) == [
        {"商品編號": 101, "數量": 2, "廠商訂單編號": "ORD001", "購買人姓名": "王小明",
         "手機": "0912345678", "Email": "a@example.com", "使用起始日": None, "_row": 2},
        {"商品編號": 102, "數量": 1, "廠商訂單編號": "ORD002", "購買人姓名": "陳小華",
         "手機": None, "Email": "b@example.com", "使用起始日": "2099/01/01", "_row": 3},
    ]


def test_empty_rows_are_skipped_and_row_numbers_stay_true():
    data = workbook_bytes([ROW, [None] * 7, ["", "  ", None, "\u3000", None, None, None],
                           [103, 1, "ORD003", "林小美", None, "c@example.com", None]])
    rows = read(data)
    assert [r["_row"] for r in rows] == [2, 5]
    assert rows[1]["廠商訂單編號"] == "ORD003"


def test_text_is_stripped_and_blank_text_is_none():
    data = workbook_bytes([[" 101 ", 1, "  ORD001\t", "\u3000王小明 ", "", "   ", None]])
    (row,) = read(data)
    assert row["商品編號"] == "101" and row["廠商訂單編號"] == "ORD001" and row["購買人姓名"] == "王小明"
    assert row["手機"] is None and row["Email"] is None


def test_integral_floats_become_ints_and_others_stay():
    data = workbook_bytes([[101.0, 2.0, 12345.0, "x", 912345678.0, 1.5, True]])
    (row,) = read(data)
    assert row["商品編號"] == 101 and type(row["商品編號"]) is int
    assert row["數量"] == 2 and type(row["數量"]) is int
    assert row["廠商訂單編號"] == 12345 and type(row["廠商訂單編號"]) is int
    assert row["手機"] == 912345678
    assert row["Email"] == 1.5
    assert row["使用起始日"] is True


def test_date_cells_become_dates():
    data = workbook_bytes([[101, 1, "A1", "王", None, None, date(2099, 1, 31)],
                           [102, 1, "A2", "王", None, None, datetime(2099, 2, 1, 0, 0)],
                           [103, 1, "A3", "王", None, None, datetime(2099, 2, 1, 13, 30)]])
    rows = read(data)
    assert rows[0]["使用起始日"] == date(2099, 1, 31) and type(rows[0]["使用起始日"]) is date
    assert rows[1]["使用起始日"] == date(2099, 2, 1) and type(rows[1]["使用起始日"]) is date
    assert rows[2]["使用起始日"] == datetime(2099, 2, 1, 13, 30)  # a time of day is kept


def test_header_whitespace_and_trailing_empty_columns_are_allowed():
    headers = [f"  {h} " for h in HEADERS] + ["", None, "   "]
    data = workbook_bytes([ROW], headers=headers)
    assert read(data)[0]["_row"] == 2


def test_values_beyond_the_headers_are_ignored():
    data = workbook_bytes([[*ROW, "備註", "more"]])
    (row,) = read(data)
    assert set(row) == {*HEADERS, "_row"}


def test_missing_header_is_named():
    headers = [h for h in HEADERS if h != "Email"]
    message = refusal(workbook_bytes([ROW[:6]], headers=headers))
    assert message == "標題列與範例模板不符：缺少「Email」"


def test_unexpected_and_renamed_headers_are_named():
    headers = ["商品編號", "數量", "訂單編號", "購買人姓名", "手機", "Email", "使用起始日", "備註"]
    message = refusal(workbook_bytes([ROW], headers=headers))
    assert message.startswith("標題列與範例模板不符：")
    assert "缺少「廠商訂單編號」" in message and "多了「訂單編號」、「備註」" in message


def test_header_order_matters():
    headers = [HEADERS[1], HEADERS[0], *HEADERS[2:]]
    message = refusal(workbook_bytes([ROW], headers=headers))
    assert message.startswith("標題列與範例模板不符：欄位順序應為「商品編號」、「數量」")


def test_header_must_be_row_one():
    data = workbook_bytes([HEADERS, ROW], headers=[None] * 7)
    assert refusal(data).startswith("標題列與範例模板不符：缺少「商品編號」、「數量」")


def test_an_empty_sheet_has_no_header():
    data = workbook_bytes([], headers=[])
    assert refusal(data).startswith("標題列與範例模板不符：缺少「商品編號」")


def test_header_only_gives_no_rows():
    assert read(workbook_bytes([])) == []


def test_named_sheet_is_required():
    data = workbook_bytes([ROW], title="工作表1")
    assert refusal(data, sheet="發行資料") == "找不到工作表「發行資料」"


def test_named_sheet_need_not_be_first():
    data = workbook_bytes([ROW], title="發行資料")
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    wb.move_sheet("發行資料", offset=0)
    other = wb.create_sheet("說明", 0)
    other.append(["這不是資料"])
    out = io.BytesIO()
    wb.save(out)
    assert read(out.getvalue(), sheet="發行資料")[0]["廠商訂單編號"] == "ORD001"
    assert refusal(out.getvalue()).startswith("標題列與範例模板不符")  # first sheet is 說明


def test_first_sheet_is_read_when_no_name_is_given():
    data = workbook_bytes([ROW], title="隨便", extra_sheets=["其他"])
    assert read(data)[0]["_row"] == 2


def test_row_limit_counts_data_rows_only():
    rows = [[100 + i, 1, f"ORD{i}", "王", None, "a@example.com", None] for i in range(5)]
    assert len(read(workbook_bytes(rows + [[None] * 7] * 3), max_rows=5)) == 5
    message = refusal(workbook_bytes(rows + [ROW]), max_rows=5)
    assert message == "資料列數超過上限（最多 5 列）"


def test_file_objects_and_file_storage_are_accepted():
    data = workbook_bytes([ROW])
    assert read(io.BytesIO(data))[0]["廠商訂單編號"] == "ORD001"
    upload = FileStorage(stream=io.BytesIO(data), filename="發行.xlsx")
    assert read(upload)[0]["廠商訂單編號"] == "ORD001"


def test_cell_text_and_cell_date_helpers():
    assert cell_text(None) == "" and cell_text(12345) == "12345" and cell_text(" a ") == "a"
    assert cell_text(date(2099, 1, 2)) == "2099/01/02"
    assert cell_date(None) is None and cell_date("") is None
    assert cell_date(date(2099, 1, 2)) == date(2099, 1, 2)
    assert cell_date(datetime(2099, 1, 2, 3, 4)) == date(2099, 1, 2)
    for text in ("2099/01/02", "2099/1/2", "2099-01-02", "2099.1.2", "20990102", "2099年1月2日"):
        assert cell_date(text) == date(2099, 1, 2), text
    for bad in ("2099/02/30", "明天", "01/02/2099", "2099/13/01"):
        with pytest.raises(ValueError):
            cell_date(bad)
