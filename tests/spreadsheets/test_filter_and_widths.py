"""Excel downloads: a filter button on the header row, and column widths fitted to the data."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook

from app import spreadsheets


def _sheet(headers, rows, widths=None):  # noqa: ANN001, ANN202
    out = io.BytesIO()
    spreadsheets.write_xlsx(out, headers, rows, "表", widths=widths)
    return load_workbook(io.BytesIO(out.getvalue())).active


def test_the_header_row_has_a_filter_down_to_the_last_row():
    sheet = _sheet(["序號", "名稱", "金額"], [["A1", "咖啡", 150], ["A2", "茶", 80]])
    assert sheet.auto_filter.ref == "A1:C3"
    assert _sheet(["序號"], []).auto_filter.ref == "A1:A1"


def test_widths_fit_the_longest_value_of_the_sample_and_never_narrow():
    long_name = "超級豪華精緻下午茶雙人套餐兌換券"  # 16 CJK characters: 32 widths
    sheet = _sheet(["序號", "名稱", "金額", "時間"],
                   [["A1", long_name, 1234567, datetime(2026, 7, 1, 9, 0)], ["A2", "茶", 80, None]])
    widths = {c: sheet.column_dimensions[c].width for c in "ABCD"}
    assert widths["A"] == 10  # the header's minimum
    assert widths["B"] == 34
    assert widths["C"] == max(10, len("1,234,567") + 2)
    assert widths["D"] >= 16


def test_widths_are_capped_and_every_row_is_still_written():
    rows = [[f"R{i}", "x" * 200] for i in range(spreadsheets.WIDTH_SAMPLE + 50)]
    sheet = _sheet(["序號", "說明"], rows)
    assert sheet.column_dimensions["B"].width == spreadsheets.MAX_WIDTH
    assert sheet.max_row == len(rows) + 1 and sheet.cell(sheet.max_row, 1).value == f"R{len(rows) - 1}"


def test_value_width_counts_wide_characters_twice():
    assert spreadsheets.value_width("ab咖啡") == 6
    assert spreadsheets.value_width(None) == 0
    assert spreadsheets.value_width(1500) == len("1,500")
