"""Builders for the upload tests: real workbooks from openpyxl, and hand-patched hostile zips."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

SHEET_XML = "xl/worksheets/sheet1.xml"
HEADERS = ["商品編號", "數量", "廠商訂單編號", "購買人姓名", "手機", "Email", "使用起始日"]


def workbook_bytes(rows: Iterable[Sequence[object]], *, headers: Sequence[object] | None = None,
                   title: str = "發行資料", extra_sheets: Sequence[str] = ()) -> bytes:
    """A normal openpyxl workbook: `headers` in row 1 (None: HEADERS), then `rows`."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(HEADERS if headers is None else headers))
    for row in rows:
        ws.append(list(row))
    for name in extra_sheets:
        wb.create_sheet(name)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def with_entry(data: bytes, name: str, content: bytes) -> bytes:
    """The same xlsx with one entry replaced (or added)."""
    files = entries(data)
    files[name] = content
    return zip_of(files)


def sheet_xml(rows_xml: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"{dim}<sheetData>{rows_xml}</sheetData></worksheet>").encode()


def inline_row(row: int, values: Sequence[str]) -> str:
    cells = "".join(f'<c r="{chr(65 + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values))
    return f'<row r="{row}">{cells}</row>'
