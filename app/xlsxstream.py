"""A streaming xlsx writer for large downloads: rows go straight into the zipped sheet XML.

openpyxl's write-only mode keeps memory flat but spends ~0.3 ms per row building cell objects
and XML trees (measured: 100,000 rows × 20 columns in 58 s on this machine under load, 20-30 s
quiet; xlsxwriter's constant-memory mode 33 s). Report exports must write 100,000 rows in under
10 s, so this module writes the few parts an xlsx needs by hand (inline strings, four styles:
header, date-time, date, time) and deflates at level 1. Values arrive already cleaned by
`spreadsheets.safe_cell` (formula guard, Taipei wall time), so the output is what openpyxl
would have written, and openpyxl reads it back (tests do).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO
from xml.sax.saxutils import escape

_EPOCH = datetime(1899, 12, 30)
_EPOCH_DAY = _EPOCH.date()

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="{datetime}"/>'
    '<numFmt numFmtId="165" formatCode="{date}"/><numFmt numFmtId="166" formatCode="hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
HEADER, DATETIME, DATE, TIME = 1, 2, 3, 4
ROWS_PER_WRITE = 500


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell(value: object) -> str:
    """A cell's XML after its reference (`<c r="B7"` comes first, from the writer): the same
    for the same value wherever it stands, so callers may remember it for repeated values."""
    kind = type(value)
    if kind is str:
        if not value:
            return "/>"  # an empty cell keeps the row as wide as the header for readers
        if "&" in value or "<" in value or ">" in value:  # type: ignore[operator]
            value = escape(value)  # type: ignore[arg-type]
        return f' t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'
    if kind is int or kind is float or kind is Decimal:
        return f"><v>{value}</v></c>"
    if kind is bool:
        return f' t="b"><v>{int(value)}</v></c>'  # type: ignore[call-overload]
    if kind is datetime:
        serial = (value - _EPOCH).total_seconds() / 86400  # type: ignore[operator]
        return f' s="{DATETIME}"><v>{serial!r}</v></c>'
    if kind is date:
        return f' s="{DATE}"><v>{(value - _EPOCH_DAY).days}</v></c>'  # type: ignore[operator]
    if kind is time:
        fraction = (value.hour * 3600 + value.minute * 60 + value.second) / 86400  # type: ignore[attr-defined]
        return f' s="{TIME}"><v>{fraction!r}</v></c>'
    # subclasses (an IntEnum, a str subclass…) take the slower way
    if isinstance(value, int):
        return cell(int(value))
    if isinstance(value, float):
        return cell(float(value))
    if isinstance(value, Decimal):
        return cell(Decimal(value))
    if isinstance(value, datetime):
        return cell(datetime.combine(value.date(), value.time()))
    if isinstance(value, date):
        return cell(date(value.year, value.month, value.day))
    return cell(str(value))


def write(out: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[object]], *,
          sheet_title: str, widths: Sequence[float], datetime_format: str,
          date_format: str, render: Callable[[object], str] = cell) -> None:
    """Write one sheet: a bold, frozen header row, then `rows` (values already safe_cell'd).
    `render` turns a value into its XML after the reference (`cell`, or a caller's function
    that cleans and remembers on the way)."""
    letters = [column_letter(i) for i in range(1, max(len(headers), 1) + 200)]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES.replace("{datetime}", escape(datetime_format))
                   .replace("{date}", escape(date_format)))
        z.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet_title, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
            '</sheets></workbook>'))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                           for i, w in enumerate(widths, start=1))
            header = "".join(
                f'<c r="{letters[i]}1" t="inlineStr" s="{HEADER}"><is><t>{escape(str(h))}</t></is></c>'
                for i, h in enumerate(headers))
            sheet.write((
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                f'{"<cols>" + cols + "</cols>" if cols else ""}<sheetData>'
                f'<row r="1">{header}</row>').encode())
            chunk: list[str] = []
            number = 1
            for row in rows:
                number += 1
                r = str(number)
                chunk.append(f'<row r="{r}">'
                              + "".join([f'<c r="{letters[i]}{r}"{render(v)}'
                                         for i, v in enumerate(row)])
                              + "</row>")
                if len(chunk) >= ROWS_PER_WRITE:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            # A filter button on every header (the list's columns, down to its last row).
            last = letters[max(len(headers), 1) - 1]
            auto_filter = f'<autoFilter ref="A1:{last}{number}"/>' if headers else ""
            sheet.write(("".join(chunk) + f"</sheetData>{auto_filter}</worksheet>").encode())
