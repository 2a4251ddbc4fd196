"""Hostile and malformed uploads: each is refused with a clear message, quickly, and the costly
ones before openpyxl is even called."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.formula import ArrayFormula

from app import spreadsheets
from app.errors import InvalidInput
from app.spreadsheets import read_xlsx
from tests.spreadsheets.helpers import (
    HEADERS,
    SHEET_XML,
    entries,
    inline_row,
    sheet_xml,
    with_entry,
    workbook_bytes,
    zip_of,
)

ROW = [101, 2, "ORD001", "王小明", "0912345678", "a@example.com", None]
NOT_XLSX = "檔案格式錯誤，請上傳 Excel（.xlsx）檔案"
ABNORMAL = "檔案內容異常，無法讀取"


def refusal(data, **kwargs) -> str:
    kwargs.setdefault("headers", HEADERS)
    kwargs.setdefault("max_rows", 1000)
    with pytest.raises(InvalidInput) as caught:
        read_xlsx(data, **kwargs)
    return caught.value.message


@pytest.fixture
def openpyxl_calls(monkeypatch):
    """Records every load_workbook call, to show a file was refused before openpyxl saw it."""
    calls = []
    real = spreadsheets.load_workbook

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(spreadsheets, "load_workbook", spy)
    return calls


# --- size --------------------------------------------------------------------------------------

class Endless(io.RawIOBase):
    """A stream of zeros that never ends, recording how much was asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "read everything from an endless stream"
        self.asked.append(size)
        return b"\0" * size


def test_oversize_bytes_are_refused():
    assert refusal(b"PK" + b"\0" * (2 * 1024 * 1024)) == "檔案太大（上限 2 MB）"


def test_an_oversize_stream_is_read_only_to_the_limit():
    stream = Endless()
    assert refusal(stream) == "檔案太大（上限 2 MB）"
    assert stream.asked == [2 * 1024 * 1024 + 1]


def test_a_file_of_exactly_the_limit_is_not_refused_for_size(openpyxl_calls):
    data = workbook_bytes([ROW])
    assert read_xlsx(data, headers=HEADERS, max_rows=10, max_bytes=len(data))[0]["_row"] == 2
    assert refusal(data, max_bytes=len(data) - 1) == f"檔案太大（上限 {len(data) - 1} bytes）"


# --- not an xlsx -------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    "商品編號,數量\n101,2\n".encode(),  # a CSV
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n",  # a PDF
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000,  # an .xls (OLE2) renamed
    b"",  # nothing
], ids=["csv", "pdf", "xls", "empty"])
def test_files_that_are_not_zips_are_refused(data, openpyxl_calls):
    assert refusal(data) == NOT_XLSX
    assert openpyxl_calls == []


def test_a_zip_that_is_not_a_workbook_is_refused():
    assert refusal(zip_of({"hello.txt": b"hello"})) == NOT_XLSX


def test_a_truncated_workbook_is_refused():
    data = workbook_bytes([ROW])
    assert refusal(data[: len(data) // 2]) == NOT_XLSX


def test_a_workbook_with_a_corrupt_sheet_is_refused():
    data = with_entry(workbook_bytes([ROW]), SHEET_XML, b"<worksheet><sheetData><row>")
    assert refusal(data) == NOT_XLSX


# --- zip bombs and odd zips: refused before openpyxl -------------------------------------------

def test_a_zip_bomb_is_refused_before_openpyxl(openpyxl_calls):
    files = entries(workbook_bytes([ROW]))
    files[SHEET_XML] = b"\0" * (60 * 1024 * 1024)  # 60 MB of zeros, about 60 KB compressed
    data = zip_of(files)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET_XML)
    assert len(data) < 2 * 1024 * 1024 and info.file_size / info.compress_size > 100
    started = time.perf_counter()
    assert refusal(data) == ABNORMAL
    assert time.perf_counter() - started < 1
    assert openpyxl_calls == []


def test_a_highly_compressed_entry_under_the_total_is_refused(openpyxl_calls):
    data = with_entry(workbook_bytes([ROW]), SHEET_XML, b" " * (5 * 1024 * 1024))
    assert refusal(data) == ABNORMAL
    assert openpyxl_calls == []


def test_a_large_total_at_a_modest_ratio_is_refused(openpyxl_calls):
    import random

    noise = random.Random(4).randbytes(64 * 1024)  # ratio about 1:1 per block, ~50:1 overall
    files = entries(workbook_bytes([ROW]))
    for i in range(7):
        files[f"xl/media/image{i}.bin"] = (noise + b"\0" * (64 * 1024 * 40)) * 3  # ~8 MB each
    data = zip_of(files)
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert sum(i.file_size for i in infos) > 50 * 1024 * 1024
    assert all(i.file_size <= 100 * max(i.compress_size, 1) for i in infos)
    assert refusal(data, max_bytes=10 * 1024 * 1024) == ABNORMAL
    assert openpyxl_calls == []


def test_too_many_entries_are_refused(openpyxl_calls):
    files = entries(workbook_bytes([ROW]))
    for i in range(101 - len(files)):
        files[f"xl/media/pad{i}.txt"] = b"x"
    assert len(files) == 101
    assert refusal(zip_of(files)) == ABNORMAL
    del files["xl/media/pad0.txt"]
    assert read_xlsx(zip_of(files), headers=HEADERS, max_rows=10)[0]["_row"] == 2  # 100 is fine
    assert len(openpyxl_calls) == 1


@pytest.mark.parametrize("name", ["../evil.xml", "xl/../../evil.xml", "/etc/evil.xml",
                                  "..\\evil.xml", "C:/evil.xml"])
def test_unsafe_entry_names_are_refused(name, openpyxl_calls):
    assert refusal(with_entry(workbook_bytes([ROW]), name, b"x")) == ABNORMAL
    assert openpyxl_calls == []


def test_a_two_million_cell_row_is_refused_before_openpyxl(openpyxl_calls):
    # Under every zip limit (small, ratio < 100) but openpyxl would build every cell of the
    # row in memory: measured 62 s and 1.8 GB for 2 million cells. Refused by counting markup.
    cells = "".join(f'<c r="A2"><v>{i % 997}</v></c>' for i in range(100_000))
    data = with_entry(workbook_bytes([]), SHEET_XML,
                      sheet_xml(inline_row(1, HEADERS) + f'<row r="2">{cells}</row>'))
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET_XML)
    assert info.file_size / info.compress_size < 100
    started = time.perf_counter()
    assert refusal(data) == ABNORMAL
    assert time.perf_counter() - started < 1
    assert openpyxl_calls == []


def test_entity_expansion_is_refused_by_defusedxml():
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    body = sheet_xml(inline_row(1, HEADERS) + inline_row(2, ["&lol3;"])).decode()
    data = with_entry(workbook_bytes([]), SHEET_XML, (laughs + body).encode())
    assert refusal(data) == ABNORMAL


# --- formulas and error values -----------------------------------------------------------------

def test_a_formula_cell_is_refused_with_its_place():
    data = workbook_bytes([ROW, [102, "=SUM(1,2)", "ORD002", "陳", None, "b@example.com", None]])
    assert refusal(data) == "檔案含有公式（第 3 列 B 欄），請改為純文字或數值後再上傳"


def test_a_formula_in_the_header_row_is_refused():
    data = workbook_bytes([ROW], headers=[*HEADERS[:6], '="使用"&"起始日"'])
    assert refusal(data) == "檔案含有公式（第 1 列 G 欄），請改為純文字或數值後再上傳"


def test_a_formula_in_an_extra_column_is_refused():
    data = workbook_bytes([[*ROW, None, '=HYPERLINK("http://evil.example","x")']])
    assert refusal(data) == "檔案含有公式（第 2 列 I 欄），請改為純文字或數值後再上傳"


def test_an_array_formula_is_refused():
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append(ROW)
    ws["B2"] = ArrayFormula("B2:B2", "=SUM(A1:A1)")
    out = io.BytesIO()
    wb.save(out)
    assert refusal(out.getvalue()) == "檔案含有公式（第 2 列 B 欄），請改為純文字或數值後再上傳"


def test_text_that_starts_like_a_formula_is_refused():
    data = with_entry(workbook_bytes([]), SHEET_XML,
                      sheet_xml(inline_row(1, HEADERS) + inline_row(2, ["101", "=1+1"])))
    assert refusal(data) == "檔案含有公式（第 2 列 B 欄），請改為純文字或數值後再上傳"


def test_error_values_are_refused():
    data = workbook_bytes([[101, "#N/A", "ORD001", "王", None, None, None]])
    assert refusal(data) == "檔案含有錯誤值 #N/A（第 2 列 B 欄），請修正後再上傳"


def test_an_impossible_date_is_an_error_value_and_no_warning_escapes():
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    ws.append(ROW)
    ws["G2"] = 1e10
    ws["G2"].number_format = "yyyy/mm/dd"  # openpyxl warns when it reads this back
    out = io.BytesIO()
    wb.save(out)
    assert refusal(out.getvalue()) == "檔案含有錯誤值 #VALUE!（第 2 列 G 欄），請修正後再上傳"


# --- forged sizes and far rows -----------------------------------------------------------------

def test_a_forged_dimension_is_ignored():
    rows = [[100 + i, 1, f"ORD{i}", "王", None, "a@example.com", None] for i in range(50)]
    data = workbook_bytes(rows)
    sheet = entries(data)[SHEET_XML]
    assert b'<dimension ref="A1:G51"' in sheet
    forged = with_entry(data, SHEET_XML, sheet.replace(b'ref="A1:G51"', b'ref="A1:XFD1048576"'))
    started = time.perf_counter()
    result = read_xlsx(forged, headers=HEADERS, max_rows=1000)
    assert time.perf_counter() - started < 1
    assert [r["_row"] for r in result] == list(range(2, 52))
    assert result[49] == {"商品編號": 149, "數量": 1, "廠商訂單編號": "ORD49", "購買人姓名": "王",
                          "手機": None, "Email": "a@example.com", "使用起始日": None, "_row": 51}


def test_a_far_away_row_does_not_make_a_million_empty_rows():
    rows = inline_row(1, HEADERS) + inline_row(2, ["101", "1", "ORD1", "王"])
    far = '<row r="1048576"><c r="A1048576"><v>1</v></c></row>'
    data = with_entry(workbook_bytes([]), SHEET_XML, sheet_xml(rows + far, "A1:XFD1048576"))
    started = time.perf_counter()
    assert refusal(data) == "檔案含有過多空白列，請刪除資料下方的空白列後再上傳"
    assert time.perf_counter() - started < 2


def test_a_few_thousand_blank_rows_are_fine():
    rows = inline_row(1, HEADERS) + inline_row(2, ["101", "1", "ORD1", "王"])
    data = with_entry(workbook_bytes([]), SHEET_XML,
                      sheet_xml(rows + inline_row(5000, ["102", "1", "ORD2", "陳"])))
    assert [r["_row"] for r in read_xlsx(data, headers=HEADERS, max_rows=10)] == [2, 5000]


# --- 100,000 rows ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hundred_thousand_rows() -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("發行資料")
    ws.append(["商品編號", "數量"])
    for i in range(100_000):
        ws.append([1000 + i % 97, 1])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_hundred_thousand_rows_are_refused_quickly(hundred_thousand_rows, openpyxl_calls):
    assert len(hundred_thousand_rows) < 2 * 1024 * 1024  # not refused merely for its size
    started = time.perf_counter()
    message = refusal(hundred_thousand_rows, headers=["商品編號", "數量"])
    assert time.perf_counter() - started < 10
    assert message == "資料列數超過上限（最多 1000 列）"
    assert openpyxl_calls == []


def test_rows_past_the_limit_stop_the_read(hundred_thousand_rows, monkeypatch):
    # With the markup limit out of the way, openpyxl's read stops at row max_rows + 1 + 1. (The
    # write-only file declares no dimension, which makes openpyxl parse the whole sheet once on
    # load to look for one; a declared one, true or not, spares that.)
    monkeypatch.setattr(spreadsheets, "ZIP_MAX_TAGS", 10**9)
    sheet = entries(hundred_thousand_rows)[SHEET_XML]
    assert b"<dimension" not in sheet
    data = with_entry(hundred_thousand_rows, SHEET_XML,
                      sheet.replace(b"<sheetData>", b'<dimension ref="A1:B2"/><sheetData>', 1))
    seen = []
    real = spreadsheets._plain

    def counting(value):
        seen.append(value)
        return real(value)

    monkeypatch.setattr(spreadsheets, "_plain", counting)
    started = time.perf_counter()
    assert refusal(data, headers=["商品編號", "數量"]) == "資料列數超過上限（最多 1000 列）"
    assert time.perf_counter() - started < 10
    assert len(seen) == 1002 * (2 + spreadsheets.EXTRA_COLUMNS)  # header + 1001 data rows, no more
