from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from io import BytesIO
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from app import clock
from app.spreadsheets import XLSX_MIMETYPE, safe_cell, xlsx_response


class Colour(Enum):
    RED = "red"

    @property
    def label(self) -> str:
        return "紅"


@pytest.mark.parametrize("text", ["=1+1", "+886912345678", "-2", "@SUM(A1)", "\t=1", "\r=1",
                                  "=HYPERLINK(\"http://evil\")"])
def test_formula_like_text_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["普通文字", "a=b", "", " =x", "1-2"])
def test_plain_text_is_unchanged(value):
    assert safe_cell(value) == value


def test_numbers_dates_and_none():
    assert safe_cell(None) == ""
    assert safe_cell(-5) == -5 and isinstance(safe_cell(-5), int)
    assert safe_cell(-1.5) == -1.5
    assert safe_cell(Decimal("-3.25")) == Decimal("-3.25")
    assert safe_cell(True) is True
    assert safe_cell(date(2026, 2, 28)) == date(2026, 2, 28)


def test_datetimes_become_naive_taipei_wall_time():
    at = clock.taipei_datetime(2026, 11, 21, 14, 5)  # 06:05 UTC
    assert safe_cell(at) == datetime(2026, 11, 21, 14, 5)
    assert safe_cell(datetime(2026, 11, 21, 6, 5)) == datetime(2026, 11, 21, 14, 5)  # naive = UTC
    assert safe_cell(datetime(2026, 11, 21, 6, 5, tzinfo=UTC)).tzinfo is None


def test_other_values_become_guarded_text():
    assert safe_cell(Colour.RED) == "紅"
    assert safe_cell(["-a"]) == "['-a']"

    class Formula:
        def __str__(self) -> str:
            return "=SUM(A1:A9)"

    assert safe_cell(Formula()) == "'=SUM(A1:A9)"
    assert safe_cell("a\x00b\x1fc") == "abc"  # characters XML cannot carry are dropped


def _open(response):
    body = b"".join(response.response)
    response.close()
    return load_workbook(BytesIO(body)), body


def test_xlsx_response_writes_header_and_rows(app):
    with app.test_request_context():
        at = clock.taipei_datetime(2026, 11, 21, 9, 30)
        response = xlsx_response(
            "登入歷程 2026.xlsx",
            ["時間", "帳號", "金額", "備註"],
            iter([(at, "owner01", 1200, "=cmd|' /C calc'!A0"),
                  (None, "@evil", -300, "+1"),
                  (date(2026, 1, 2), "-x", 0.5, "正常")]),
            sheet_title="登入歷程",
        )
        wb, body = _open(response)
    assert response.mimetype == XLSX_MIMETYPE
    assert response.headers["Content-Length"] == str(len(body))
    ws = wb["登入歷程"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("時間", "帳號", "金額", "備註")
    assert rows[1] == (datetime(2026, 11, 21, 9, 30), "owner01", 1200, "'=cmd|' /C calc'!A0")
    assert rows[2] == (None, "'@evil", -300, "'+1")
    assert rows[3][1:] == ("'-x", 0.5, "正常")
    assert rows[3][0] == datetime(2026, 1, 2)  # a date cell (Excel stores it as a date-time)
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"  # never a formula
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@"))
    assert isinstance(rows[1][2], int) and isinstance(rows[2][2], int)


def test_content_disposition_carries_the_chinese_name():
    from flask import Flask

    with Flask(__name__).test_request_context():
        response = xlsx_response("登入歷程_20261121", ["a"], [])
        _open(response)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="' in disposition  # ASCII fallback for old clients
    assert f"filename*=UTF-8''{quote('登入歷程_20261121.xlsx')}" in disposition
    assert response.headers["Cache-Control"] == "no-store"
    fallback = disposition.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and fallback.endswith(".xlsx")


def test_large_export_spills_to_disk_and_still_opens(app):
    rows = ((i, f"-row{i}", "x" * 50) for i in range(30_000))
    with app.test_request_context():
        wb, _ = _open(xlsx_response("big", ["n", "name", "pad"], rows))
    ws = wb.active
    assert ws.max_row == 30_001
    assert ws.cell(row=30_001, column=1).value == 29_999
    assert ws.cell(row=2, column=2).value == "'-row0"
