"""Excel exports (下載Excel): one streamed xlsx writer with a formula-injection guard.

Every "Download Excel" in the product goes through `xlsx_response`. The workbook is written
row by row in openpyxl's write-only mode to a spooled temporary file (memory first, disk when
large), then streamed back in chunks; every cell goes through `safe_cell` first.
"""

from __future__ import annotations

import enum
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app import clock

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Characters that make a spreadsheet treat text as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
DATETIME_FORMAT = "yyyy/mm/dd hh:mm:ss"
DATE_FORMAT = "yyyy/mm/dd"
SPOOL_BYTES = 2 * 1024 * 1024  # kept in memory up to this size, then on disk
CHUNK_BYTES = 64 * 1024

_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def _guard_text(text: str) -> str:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_CHARS - 1]
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def safe_cell(value: object) -> Any:
    """A value ready for a cell: numbers and dates stay real numbers and dates, text can never
    start a formula.

    - None → "" (an empty cell);
    - bool, int, float, Decimal, date and time pass through unchanged;
    - datetime → Taipei wall time without tzinfo (Excel has no time zones); a naive datetime is
      taken to be UTC, as everywhere in this app;
    - enum → its `label` if it has one, else its value;
    - anything else → text; text beginning with = + - @ (or tab / CR) gets a leading `'`, and
      characters XML cannot carry are dropped.
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return clock.taipei(aware).replace(tzinfo=None)
    if isinstance(value, date | time):
        return value
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        value = label if isinstance(label, str) else value.value
        return safe_cell(value)
    return _guard_text(value if isinstance(value, str) else str(value))


def _sheet_title(title: str) -> str:
    cleaned = _SHEET_TITLE_BAD.sub("_", title).strip("'")[:31]
    return cleaned or "工作表1"


def _filename(filename: str) -> str:
    name = filename.strip().replace("/", "_").replace("\\", "_") or "export"
    return name if name.lower().endswith(".xlsx") else f"{name}.xlsx"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name per RFC 5987 / RFC 6266."""
    stem = filename[: -len(".xlsx")] if filename.lower().endswith(".xlsx") else filename
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_.") or "export"
    fallback = f"{ascii_stem}.xlsx"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _cell(ws: Any, value: object) -> Any:
    cleaned = safe_cell(value)
    if isinstance(cleaned, datetime):
        cell = WriteOnlyCell(ws, cleaned)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(cleaned, date):
        cell = WriteOnlyCell(ws, cleaned)
        cell.number_format = DATE_FORMAT
        return cell
    return cleaned


def write_xlsx(out: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[object]],
               sheet_title: str = "工作表1") -> None:
    """Write one sheet (a bold, frozen header row, then the rows) to a binary file object."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet_title))
    ws.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        width = max(10, min(40, 2 * len(str(header)) + 4))
        ws.column_dimensions[get_column_letter(index)].width = width
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, safe_cell(header))
        cell.font = Font(bold=True)
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        ws.append([_cell(ws, value) for value in row])
    wb.save(out)


def _stream(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


def xlsx_response(filename: str, headers: list[str], rows: Iterable[Sequence[object]],
                  sheet_title: str = "工作表1") -> Response:
    """A download of `rows` under `headers` as `filename` (Chinese names welcome).

    The rows are consumed here, inside the request (they may be a lazy database result); the
    finished file is then streamed back and the temporary file closed when the stream ends.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # closed by _stream
    try:
        write_xlsx(spool, headers, rows, sheet_title)
        size = spool.seek(0, 2)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = Response(_stream(spool), mimetype=XLSX_MIMETYPE, direct_passthrough=True)
    response.headers["Content-Disposition"] = content_disposition(_filename(filename))
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"
    return response
